"""A network command of hatchdoit's runs no program a repo's config names (run/safe_git.py):
`remote.<name>.uploadpack`/`receivepack` (over a local path they run here), `core.gitProxy` and
an `ext::` URL planted by `insteadOf`, with real git and a bare remote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hatchdoit.run.gitops import try_git
from hatchdoit.shared.remote_refs import Remote


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "t")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "t@example.invalid")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    repo = tmp_path / "clone"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "commit", "-q", "--allow-empty", "-m", "base")
    marker = tmp_path / "RAN"
    git(repo, "config", "remote.origin.uploadpack", f"touch {marker}-up; git-upload-pack")
    git(repo, "config", "remote.origin.receivepack", f"touch {marker}-rp; git-receive-pack")
    git(repo, "config", "core.gitProxy", f"touch {marker}-proxy; false")
    git(repo, "remote", "add", "evil", f"ext::sh -c touch% {marker}-ext")
    return repo, marker


def test_planted_pack_programs_proxy_and_ext_urls_never_run(planted: tuple[Path, Path]) -> None:
    repo, marker = planted
    assert try_git(repo, "push", "-q", "origin", "main").returncode == 0
    assert try_git(repo, "fetch", "-q", "origin").returncode == 0
    assert try_git(repo, "ls-remote", "origin").returncode == 0
    assert try_git(repo, "fetch", "-q", "evil").returncode != 0, "ext:: is not allowed"
    remote = Remote(repo, "origin")
    remote.fetch()
    assert remote.unreachable() is None
    ran = sorted(p.name for p in marker.parent.glob("RAN*"))
    assert ran == [], f"planted programs ran: {ran}"


def test_the_users_global_upload_pack_is_kept(planted: tuple[Path, Path], tmp_path: Path) -> None:
    repo, marker = planted
    wrapper = tmp_path / "my-upload-pack"
    wrapper.write_text(f'#!/bin/sh\ntouch {marker}-users\nexec git-upload-pack "$@"\n')
    wrapper.chmod(0o755)
    git(repo, "config", "--global", "remote.origin.uploadpack", str(wrapper))
    assert try_git(repo, "fetch", "-q", "origin").returncode == 0
    assert Path(f"{marker}-users").exists()
    assert not Path(f"{marker}-up").exists()
