"""A workspace setup (`workspace.setup`) runs confined like the tests, but reaching the package
registries: it writes its worktree, not $HOME, reads no credential store, and its run records
say it was confined."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from confinement_support import need_srt

from hatchdoit.config.workspace_models import ConfinementConfig, WorkspaceConfig
from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.run.setup_commands import run_commands

pytestmark = pytest.mark.integration

SECRET = "PLANTED-SSH-KEY-5b1f0c"
PROBE = """
import os, pathlib, sys
home = pathlib.Path(os.environ["HOME"])
def attempt(name, action):
    try:
        action()
        print(name, "OK")
    except OSError as exc:
        print(name, "DENIED", type(exc).__name__)
attempt("write-home", lambda: (home / "dropped.txt").write_text("x"))
attempt("read-ssh", lambda: print((home / ".ssh" / "id_ed25519").read_text()))
attempt("write-worktree", lambda: pathlib.Path("made-by-setup.txt").write_text("x"))
print("proxy", "SET" if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") else "NONE")
"""


def _results(log: Path) -> dict[str, str]:
    out = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("write-home", "read-ssh", "write-worktree", "proxy"):
            out[parts[0]] = parts[1]
    return out


def _setup_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Literal["required", "off"]
) -> tuple[Path, Path]:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    worktree = tmp_path / "wt"
    subprocess.run(["git", "init", "-q", str(worktree)], check=True)
    ws = WorkspaceConfig(setup=[[sys.executable, "-c", PROBE]])
    log = tmp_path / "setup.log"
    runs, failure = run_commands(ws, worktree, log, [], ConfinementConfig(mode=mode))
    assert failure is None, log.read_text(encoding="utf-8")
    assert [r.confinement for r in runs] == ["confined" if mode == "required" else "off"]
    return home, log


def test_a_confined_setup_writes_its_worktree_only_and_reads_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SRT_ENV, str(need_srt()))
    home, log = _setup_in(tmp_path, monkeypatch, "required")
    results = _results(log)
    assert results == {
        "write-home": "DENIED",
        "read-ssh": "DENIED",
        "write-worktree": "OK",
        "proxy": "SET",  # the registries are reached through the sandbox's filtering proxy
    }, log.read_text(encoding="utf-8")
    assert not (home / "dropped.txt").exists()
    assert (tmp_path / "wt" / "made-by-setup.txt").exists()
    assert SECRET not in log.read_text(encoding="utf-8")


def test_the_same_probe_unconfined_reaches_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe can tell: with confinement off it writes $HOME and reads the key."""
    home, log = _setup_in(tmp_path, monkeypatch, "off")
    results = _results(log)
    assert results["write-home"] == "OK" and results["read-ssh"] == "OK", results
    assert (home / "dropped.txt").exists()
