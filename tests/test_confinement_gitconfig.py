"""A process confined by srt (an agent, a workspace setup, a test command reaching the
registries) reads the target repo's `.git/config` as a scrubbed copy: git works in its
worktree, and the token CI keeps in the config is not there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from confinement_support import need_srt
from conftest import git
from projects import IDENTITY

from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.gitconfig import scrubbed_text
from hatchdoit.confinement.mode import Decision
from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.confinement.wrap import confined_command

pytestmark = pytest.mark.integration
TOKEN = "ghs_PLANTEDTOKEN0123456789"
CONFINED = Decision("required", True, "test")


def _target_with_token(tmp_path: Path) -> tuple[Path, Path]:
    """A repo whose config holds a token and a command-running key, and a linked worktree."""
    repo = tmp_path / "target"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "commit", "-q", "--allow-empty", "-m", "first", env=IDENTITY)
    git(repo, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {TOKEN}")
    git(repo, "config", "remote.origin.url", f"https://x:{TOKEN}@github.com/o/r.git")
    git(repo, "config", "core.fsmonitor", "touch /tmp/never")
    git(repo, "config", "extensions.worktreeConfig", "true")
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(worktree), "-b", "taskspec/T1")
    return repo, worktree


def test_the_scrubbed_copy_keeps_what_git_needs_only(tmp_path: Path) -> None:
    repo, _ = _target_with_token(tmp_path)
    text = scrubbed_text(repo / ".git" / "config")
    assert TOKEN not in text and "fsmonitor" not in text and "remote" not in text, text
    assert "repositoryformatversion" in text and "worktreeconfig" in text, text


def test_srt_confined_git_reads_the_scrubbed_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SRT_ENV, str(need_srt()))
    repo, worktree = _target_with_token(tmp_path)
    script = 'cat "$1"; git log -1 --format=%s; git config --list'
    probe = ["sh", "-c", script, "-", str(repo / ".git" / "config")]
    config = ConfinementConfig(mode="required")
    with confined_command(probe, worktree, config, network="registries", decision=CONFINED) as run:
        assert "srt" in " ".join(run.argv)  # the srt path (a host list), not bubblewrap alone
        done = subprocess.run(run.argv, cwd=worktree, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout and "fsmonitor" not in done.stdout, done.stdout
    assert "first" in done.stdout and "extensions.worktreeconfig=true" in done.stdout
    assert TOKEN in (repo / ".git" / "config").read_text(encoding="utf-8")  # untouched outside
