"""The scripted agent's git: commits in its worktree, and conflicts resolved as an agent would."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scripted_terminal import say

CONFLICT_START, CONFLICT_MID, CONFLICT_END = "<<<<<<< ", "=======", ">>>>>>> "


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git in the worktree with the scripted identity; output captured."""
    ident = ["-c", "user.name=scripted-agent", "-c", "user.email=scripted@localhost"]
    return subprocess.run(["git", *ident, *args], cwd=root, capture_output=True, text=True)


def git_failed(result: subprocess.CompletedProcess[str]) -> bool:
    """Log a failed git command with its last output line; True if it failed."""
    if result.returncode == 0:
        return False
    said = (result.stdout + result.stderr).strip().splitlines() or ["no output"]
    import shlex  # an error path only

    say(f"git {shlex.join(result.args[5:])} exited {result.returncode}: {said[-1]}")
    return True


def resolve_conflicts(root: Path) -> list[str]:
    """Resolve the conflicts of a merge in progress by keeping both sides, ours first (what an
    agent does when two changes add different things at one place); return the files."""
    listed = git(root, "diff", "--name-only", "--diff-filter=U").stdout.split()
    for rel in listed:
        path = root / rel
        kept: list[str] = []
        ours: list[str] = []
        theirs: list[str] = []
        side = ""
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.startswith(CONFLICT_START):
                side, ours, theirs = "ours", [], []
            elif line.startswith("||||||| ") and side == "ours":
                side = "base"  # diff3 style: the common ancestor's lines, dropped
            elif line.startswith(CONFLICT_MID) and side in ("ours", "base"):
                side = "theirs"
            elif line.startswith(CONFLICT_END) and side == "theirs":
                kept += ours + [x for x in theirs if x not in ours]
                side = ""
            elif side == "ours":
                ours.append(line)
            elif side == "theirs":
                theirs.append(line)
            else:
                kept.append(line)
        path.write_text("".join(kept), encoding="utf-8")
        git(root, "add", "--", rel)
        say(f"resolved the conflict in {rel} (both sides kept)")
    return listed


def commit_all(root: Path, message: str) -> None:
    """Commit everything in the worktree; nothing to commit, or a git failure, is only logged."""
    if git_failed(git(root, "add", "-A")):
        return
    if git(root, "diff", "--cached", "--quiet").returncode == 0:
        say("nothing to commit")
        return
    if git_failed(git(root, "commit", "-q", "-m", message)):
        return
    say(f"committed {git(root, 'rev-parse', '--short', 'HEAD').stdout.strip()}: {message}")
