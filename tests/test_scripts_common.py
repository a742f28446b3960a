"""scripts/lib/common.sh's path helpers, called from a bash of their own: `resolve` must print
what `realpath -m` prints for every kind of path (it takes builtins where it can), and
`under_root` must refuse a path that a symlink or `..` leads out of the root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS

COMMON = BUNDLED_SCRIPTS / "lib" / "common.sh"


def bash(tmp_path: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `program` in a bash that has sourced common.sh, in tmp_path, with `args` as $1..."""
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; prog=t; . "$0"; {program}', str(COMMON), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def realpath_m(tmp_path: Path, path: str) -> str:
    done = subprocess.run(
        ["realpath", "-m", "--", path], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Directories, a file, and symlinks to each and to nothing, some names with spaces."""
    (tmp_path / "real" / "sub dir").mkdir(parents=True)
    (tmp_path / "real" / "file").write_text("x")
    (tmp_path / "to-real").symlink_to("real")
    (tmp_path / "real" / "up").symlink_to("..")
    (tmp_path / "dangling").symlink_to("nowhere/at/all")
    (tmp_path / "to-file").symlink_to("real/file")
    return tmp_path


CASES = [
    "real",
    "real/",
    "real/sub dir",
    "real/missing",
    "real/sub dir/missing",
    "to-real",
    "to-real/missing",
    "to-real/sub dir/../missing",
    "real/up/real/missing",
    "real/up/..",
    "real/up/../missing",
    "real/up/../",
    "real/.",
    "real/..",
    "dangling",
    "dangling/missing",
    "to-file",
    "real/file/missing",
    "missing/missing",
    "missing",
    ".",
    "/",
]


@pytest.mark.parametrize("relative", CASES)
def test_resolve_prints_what_realpath_m_prints(tree: Path, relative: str) -> None:
    for path in (relative, str(tree / relative) if relative != "/" else "/"):
        done = bash(tree, 'resolve "$1"', path)
        assert done.returncode == 0, done.stderr
        assert done.stdout == realpath_m(tree, path), path


def test_under_root_sets_both_paths_inside_the_root(tree: Path) -> None:
    done = bash(
        tree, 'under_root "$1" "$2"; printf "%s\\n" "$root_abs" "$wt"', "to-real", "to-real/T1"
    )
    assert done.returncode == 0, done.stderr
    real = os.path.realpath(tree / "real")
    assert done.stdout.splitlines() == [real, f"{real}/T1"]


@pytest.mark.parametrize("inside", ["up", "up/elsewhere", "sub dir/..", "."])
def test_under_root_refuses_a_path_led_out_of_the_root(tree: Path, inside: str) -> None:
    done = bash(tree, 'under_root "$1" "$2"; echo unreachable', "real", f"real/{inside}")
    assert done.returncode == 4 and done.stdout == ""
    assert done.stderr.startswith("t: error: ") and "resolves outside" in done.stderr
    assert len(done.stderr.splitlines()) == 1
