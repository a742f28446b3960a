"""scripts/mount/ensure_readonly_mount.sh: the planning repo's view as a symlink, a plain
directory or a read-only bind mount (which needs root and is skipped without it), reported as
JSON, and the errors for a missing `_specs/`, path or source."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from script_harness import MOUNT, env, run

pytestmark = pytest.mark.integration

__all__ = ["env"]  # fixtures


# --- ensure_readonly_mount.sh ----------------------------------------------------------------


@pytest.fixture
def planning(tmp_path: Path) -> Path:
    path = tmp_path / "planning repo"
    (path / "_specs").mkdir(parents=True)
    (path / "_specs" / "001.md").write_text("---\nid: 001\n---\n")
    return path


def test_mount_creates_symlink_and_reports_json(
    planning: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    link = tmp_path / "exec" / "specs_link"
    result = run(MOUNT, "--path", link, "--source", planning, env=env)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == planning.resolve()
    report = json.loads(result.stdout)
    assert report == {
        "path": str(link),
        "resolved": str(planning.resolve()),
        "mode": "symlink",
        "writable": True,
    }
    again = run(MOUNT, "--path", link, env=env)  # verify only
    assert again.returncode == 0 and json.loads(again.stdout) == report


def test_mount_reports_plain_directory(planning: Path, env: dict[str, str]) -> None:
    result = run(MOUNT, "--path", planning, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mode"] == "directory"


def test_mount_missing_specs_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    empty = tmp_path / "not-a-planning-repo"
    empty.mkdir()
    link = tmp_path / "specs_link"
    result = run(MOUNT, "--path", link, "--source", empty, env=env)
    assert result.returncode == 1
    assert "has no _specs/ (fix:" in result.stderr
    assert result.stdout == ""


def test_mount_missing_path_without_source(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(MOUNT, "--path", tmp_path / "specs_link", env=env)
    assert result.returncode == 1
    assert "does not exist (fix:" in result.stderr
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    result = run(MOUNT, "--path", dangling, "--source", tmp_path, env=env)
    assert result.returncode == 1
    assert "does not resolve" in result.stderr
    assert (
        run(MOUNT, "--path", tmp_path / "x", "--source", tmp_path / "gone", env=env).returncode == 2
    )
    assert run(MOUNT, "--path", tmp_path / "x", "--bind", env=env).returncode == 2


def _can_bind_mount(tmp_path: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    src, dst = tmp_path / "probe-src", tmp_path / "probe-dst"
    src.mkdir()
    dst.mkdir()
    ok = (
        subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True).returncode == 0
    )
    if ok:
        subprocess.run(["umount", str(dst)], check=True)
    return ok


def test_mount_bind_is_read_only_and_heals(
    planning: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    if not _can_bind_mount(tmp_path):
        pytest.skip("bind mounts need root and mount permission")
    view = tmp_path / "specs_view"
    try:
        result = run(MOUNT, "--path", view, "--source", planning, "--bind", env=env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["mode"] == "bind" and report["writable"] is False
        assert (view / "_specs" / "001.md").exists()
        with pytest.raises(OSError):
            (view / "_specs" / "new.md").write_text("x")
        # the source vanishes and comes back: the stale mount is redone
        shutil.rmtree(planning)
        stale = run(MOUNT, "--path", view, env=env)
        assert stale.returncode == 1 and "stale mount" in stale.stderr
        (planning / "_specs").mkdir(parents=True)
        healed = run(MOUNT, "--path", view, "--source", planning, "--bind", env=env)
        assert healed.returncode == 0, healed.stderr
        assert "remounting" in healed.stderr
        assert json.loads(healed.stdout)["mode"] == "bind"
        assert list((view / "_specs").iterdir()) == []
    finally:
        while subprocess.run(["umount", str(view)], capture_output=True).returncode == 0:
            pass
