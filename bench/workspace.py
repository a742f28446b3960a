"""Measure 7: a worktree's environment (issue 24) — its setup's time and its disk.

A src-layout Python project with five dependencies and a test extra (wheels made on the spot,
bench/wheels.py) gets the setup `hatchdoit init` writes for it (cli/init_detect.py: a venv of the
worktree's own, the project installed editable with its test extra) with uv on PATH (uv venv,
uv pip) and without (venv + its own pip), each run in fresh worktrees one after the other,
offline (`UV_NO_INDEX`/`PIP_NO_INDEX` and find-links) with one cache shared by all of them,
empty at the start. Reported: the first worktree's setup, a later one's, and the disk a set-up
worktree takes; beside them, a venv without pip of its own, filled by python3's pip. Then the
bundled demo built by `doit` with `workspace.remove_delivered` on (the default) and off: the
disk left under the worktrees root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.fixtures import CHECKOUT, Sandbox, doit_argv, run_timed
from bench.results import Row, Section, median, secs
from bench.sizes import Sizes
from bench.wheels import write_project, write_wheelhouse
from hatchdoit.cli.init_detect import detect_project
from hatchdoit.delivery.retire import disk_usage
from hatchdoit.layout import Layout
from tests.projects import IDENTITY

TARGET_RATIO = 0.25  # a later worktree's setup against the first's


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _mb(count: int) -> str:
    return f"{count / 1048576:.1f} MB"


# The lighter setup docs/workspace.md describes for a machine without uv: a venv without pip of
# its own, filled by python3's pip (22.3+: --python); compared in the same run.
WITHOUT_PIP = [
    ["python3", "-m", "venv", "--without-pip", ".venv"],
    ["python3", "-m", "pip", "--python", ".venv/bin/python", "install", "-q", "-e", ".[test]"],
]


def tool_paths() -> tuple[str, str]:
    """PATH with uv on it (the bench's own environment's, else the PATH's), and PATH without
    any directory that holds a uv: what init sees on a machine with uv and on one without."""
    path = os.environ.get("PATH", os.defpath).split(os.pathsep)
    here = str(Path(sys.executable).parent)
    found = shutil.which("uv", path=os.pathsep.join([here, *path]))
    if found is None:
        raise RuntimeError("uv is not installed: pip install -e '.[test]' installs it")
    with_uv = [str(Path(found).parent), *path]
    without = [d for d in path if not (Path(d) / "uv").exists() and d != here]
    return os.pathsep.join(with_uv), os.pathsep.join(without)


def make_repo(root: Path) -> Path:
    """The benchmark's project as a git repo."""
    repo = root / "repo"
    write_project(repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "benchlib")
    return repo


def init_setup(repo: Path, path: str) -> list[list[str]]:
    """The setup `hatchdoit init` writes for the project, with `path` as its PATH."""
    found = detect_project(repo, {"PATH": path})
    if found is None or not found.setup:
        raise RuntimeError("init detected no setup for the benchmark's project")
    return found.setup


def setup_times(
    root: Path, repo: Path, setup: list[list[str]], name: str, later: int, path: str
) -> dict[str, Any]:
    """`setup` run in 1 + `later` fresh worktrees of `repo`, one after the other, offline, with
    one pip or uv cache of their own, empty at the start."""
    cache = root / f"cache-{name}"
    wheels = str(root / "wheels")
    env = {
        **os.environ,
        "PATH": path,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": wheels,
        "PIP_CACHE_DIR": str(cache),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "UV_NO_INDEX": "1",
        "UV_FIND_LINKS": wheels,
        "UV_CACHE_DIR": str(cache),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    env.pop("VIRTUAL_ENV", None)
    times: list[float] = []
    for n in range(1 + later):
        tree = root / f"worktrees-{name}" / f"W{n}"
        _git(repo, "worktree", "add", "-q", "--detach", str(tree), "HEAD")
        took = 0.0
        for argv in setup:
            took += run_timed(argv, cwd=tree, env=env, timeout=600).check(" ".join(argv)).wall
        times.append(took)
        where = run_timed([".venv/bin/python", "-c", "import benchlib; print(benchlib.__file__)"],
                          cwd=tree, env=env).check("import benchlib")  # fmt: skip
        if not where.stdout.strip().startswith(str(tree)):
            raise RuntimeError(f"the worktree imports {where.stdout.strip()}, not its own code")
    last = root / f"worktrees-{name}" / f"W{later}"
    return {
        "setup": setup,
        "first": times[0],
        "later": times[1:],
        "worktree_bytes": disk_usage(last),
        "venv_bytes": disk_usage(last / ".venv"),
        "cache_bytes": disk_usage(cache),
    }


def demo_disk(sandbox: Sandbox, remove_delivered: bool) -> dict[str, Any]:
    name = "demo-removed" if remove_delivered else "demo-kept"
    project = sandbox.project(name)
    project.configure(
        specs=str(CHECKOUT / "demo" / "planning"),
        target={"repo": "_target", "seed": str(CHECKOUT / "demo" / "target")},
        integrate="merge",
        workspace={"remove_delivered": remove_delivered},
    )
    try:
        built = run_timed(doit_argv("-n", "2"), cwd=project.root, env=project.env, timeout=1200)
        built.check(f"doit -n 2 ({name})")
    finally:
        sandbox.kill_server(project.socket)
    worktrees = Layout(project.root).worktrees
    left = sorted(p.name for p in worktrees.iterdir()) if worktrees.is_dir() else []
    return {"bytes": disk_usage(worktrees), "entries": len(left), "wall": built.wall}


def _times(measured: dict[str, Any]) -> str:
    first, later = measured["first"], median(measured["later"])
    return f"first {secs(first)}; later p50 {secs(later)} ({later / first:.0%})"


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    later = 1 if sizes.quick else 3
    root = sandbox.root / "workspace"
    write_wheelhouse(root / "wheels")
    repo = make_repo(root)
    with_uv, without_uv = tool_paths()
    uv_setup, pip_setup = init_setup(repo, with_uv), init_setup(repo, without_uv)
    uv = setup_times(root, repo, uv_setup, "uv", later, with_uv)
    pip = setup_times(root, repo, pip_setup, "pip", later, without_uv)
    light = setup_times(root, repo, WITHOUT_PIP, "without-pip", later, without_uv)
    ratio = median(uv["later"]) / uv["first"]
    removed, kept = demo_disk(sandbox, True), demo_disk(sandbox, False)
    rows = [
        Row(
            key="workspace_setup",
            measure="a worktree's setup as `hatchdoit init` writes it for a Python project "
            "(5 dependencies + a test extra, wheels from a local directory, no network), "
            "uv on PATH",
            hatchdoit=f"{_times(uv)} ({later} later worktrees)",
            baseline=f"init's setup without uv (venv + its pip): {_times(pip)}; venv without "
            f"pip, python3's pip: {_times(light)}",
            comparison=f"later / first: {ratio:.0%}; later / first of the setup without uv: "
            f"{median(uv['later']) / pip['first']:.0%}",
            target="later <= 25% of first",
            met=ratio <= TARGET_RATIO,
            note=f"`{'; '.join(' '.join(argv) for argv in uv_setup)}`; one uv (pip) cache "
            "shared by the worktrees, empty at the start",
        ),
        Row(
            key="workspace_disk",
            measure="disk used by one set-up worktree of that project (its .venv)",
            hatchdoit=f"{_mb(uv['worktree_bytes'])} ({_mb(uv['venv_bytes'])})",
            baseline=f"without uv: {_mb(pip['worktree_bytes'])} ({_mb(pip['venv_bytes'])}); "
            f"venv without pip: {_mb(light['worktree_bytes'])}",
            comparison=f"the shared caches: uv {_mb(uv['cache_bytes'])}, pip "
            f"{_mb(pip['cache_bytes'])}",
            target="(reported)",
            met=None,
            note="allocated blocks, a hard-linked file once (du)",
        ),
        Row(
            key="demo_worktrees_disk",
            measure="disk under the worktrees root after the demo's `doit -n 2` "
            "(`integrate: merge`)",
            hatchdoit=f"{_mb(removed['bytes'])} ({removed['entries']} entries left)",
            baseline=f"remove_delivered: false: {_mb(kept['bytes'])} ({kept['entries']} worktrees)",
            comparison="delivered worktrees removed",
            target="(reported)",
            met=None,
            note="what stays is hatchdoit's integration worktree; `hatchdoit gc` removes it",
        ),
    ]
    return Section(
        name="workspace",
        rows=rows,
        data={
            "uv": uv,
            "without_uv": pip,
            "without_pip": light,
            "demo_removed": removed,
            "demo_kept": kept,
        },
    )
