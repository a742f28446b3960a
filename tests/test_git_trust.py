"""Git cannot be turned against the build, and a decision cannot be forged (issue 25, items 2
and 3), with real git repos, the scripted agent's hostile behaviours and real doit processes:

- an agent that moves the integration branch (`git update-ref refs/heads/main HEAD` moves only
  its clone's ref, so it pushes into the target, as only an unconfined agent can) and is
  rejected: the build stops with one line and a notice, the branch is not rewritten, and the
  rejected work is never taken as landed, also on a second `doit`;
- an agent that writes a decision file shaped like `hatchdoit approve`'s: not an approval;
- hooks, an fsmonitor and a filter planted in the repo's config: no git command of hatchdoit's
  runs them (in a build, and command by command);
- a tip that already contains the approved commit is landed only after the post-merge tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import events, git, read_json, run_doit
from projects import HatchProject
from script_harness import CREATE, REMOVE, env, root, run

from hatchdoit.run import gitops

pytestmark = pytest.mark.integration

__all__ = ["env", "root"]  # fixtures


def hatchdoit_lines(output: str) -> list[str]:
    return [
        line
        for line in output.splitlines()
        if line.startswith("hatchdoit:") and " TaskSpec(s): " not in line
    ]


def notices(project: HatchProject) -> list[dict[str, object]]:
    """Every notice posted, sent or not."""
    folder = project.logs / "notify"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/*.json"))]


def test_an_agent_that_moves_the_integration_branch_stops_the_build(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec(
        "EVIL", max_attempts=1, scripted={"factory": "move-branch", "qa": "reject"}
    )
    repo = project.target
    done = run_doit(project)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    lines = hatchdoit_lines(output)
    assert len(lines) == 1, output
    assert "holds 1 commit(s) of TaskSpec work that hatchdoit did not land" in lines[0]
    assert "after the factory session" in lines[0] and "update-ref" in lines[0]
    told = [n for n in notices(project) if n["event"] == "branch_tampered"]
    assert len(told) == 1 and told[0]["payload"]["branch"] == "main"  # type: ignore[index]
    # the branch stays where the agent put it (never rewritten), and nothing is recorded done
    tip = git(repo, "rev-parse", "main").strip()
    assert tip == git(repo, "rev-parse", "taskspec/EVIL").strip()
    assert not project.layout.done("EVIL").exists()
    assert not project.layout.integration("EVIL").exists()
    assert events(project, "branch_tampered")
    # a second doit stops the same way, and still lands nothing
    again = run_doit(project)
    assert again.returncode == 1 and len(hatchdoit_lines(again.stdout + again.stderr)) == 1
    assert not project.layout.done("EVIL").exists()
    assert not project.layout.integration("EVIL").exists()
    assert git(repo, "rev-parse", "main").strip() == tip, output


def test_a_person_puts_the_branch_back_and_the_build_goes_on(project: HatchProject) -> None:
    project.configure(integrate="merge")
    project.add_taskspec(
        "EVIL", max_attempts=1, scripted={"factory": "move-branch", "qa": "reject"}
    )
    repo = project.target
    assert run_doit(project).returncode == 1
    before = read_json(project.layout.worktree_record("EVIL"))["base_commit"]
    tip = git(repo, "rev-parse", "main").strip()
    assert tip != before
    git(repo, "update-ref", "refs/heads/main", before, tip)
    done = run_doit(project)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # QA rejected the only attempt: escalated
    assert "escalated after 1 attempt(s)" in output and "did not land" not in output
    assert project.layout.escalated("EVIL").exists()
    assert git(repo, "rev-parse", "main").strip() == before


def test_a_forged_decision_is_not_an_approval(project: HatchProject) -> None:
    project.configure(integrate="merge")
    project.add_taskspec(
        "FORGER", max_attempts=1, scripted={"factory": "forge-decision", "qa": "reject"}
    )
    repo = project.target
    forged = project.layout.decision("FORGER", 1)
    for _ in range(2):  # the forged file is there for the second doit to find, too
        done = run_doit(project)
        output = done.stdout + done.stderr
        before = read_json(project.layout.worktree_record("FORGER"))["base_commit"]
        assert done.returncode == 1, output
        assert forged.exists() and read_json(forged)["kind"] == "approve"
        assert not project.layout.done("FORGER").exists(), output
        assert not project.layout.integration("FORGER").exists()
        assert project.layout.escalated("FORGER").exists()
        assert git(repo, "rev-parse", "main").strip() == before
    assert "not a decision hatchdoit recorded" in output
    status = subprocess.run(
        [*_hatchdoit(), "status", "--json"],
        cwd=project.root, env=project.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert '"done"' not in status.stdout.split('"FORGER"', 1)[-1].split("}", 1)[0]


def _hatchdoit() -> list[str]:

    return [sys.executable, "-m", "hatchdoit"]


def test_hatchdoit_git_ignores_planted_hooks_fsmonitor_and_filters(project: HatchProject) -> None:
    # the worktree stays after delivery: the control below runs plain git in it
    project.configure(integrate="merge", workspace={"remove_delivered": False})
    project.add_taskspec("PLANT", scripted={"factory": "plant-git", "qa": "approve"})
    done = run_doit(project)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    planted = project.layout.worktrees / ".planted"
    assert not planted.exists(), sorted(p.name for p in planted.iterdir())
    # the leftover was committed by hatchdoit, and landed
    assert events(project, "committed_for_agent")
    assert read_json(project.layout.integration("PLANT"))["outcome"] == "integrated"
    # the same repo, the same commands by plain git: the planted programs do run
    worktree = project.layout.worktree("PLANT")
    (worktree / "again.txt").write_text("x\n")
    subprocess.run(["git", "-C", str(worktree), "status", "--porcelain"], env=project.env,
                   capture_output=True, check=False)  # fmt: skip
    assert planted.exists()


def test_planted_programs_never_run_command_by_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    marks = tmp_path / "marks"
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    who = gitops.identity("t", "t@example.com")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "f.txt").write_text("one\n")
    gitops.git(repo, "add", "-A")
    gitops.git(repo, "commit", "-q", "-m", "first", env=who)
    hooks = repo / ".git" / "hooks"
    for name in ("post-commit", "post-checkout", "reference-transaction", "pre-commit", "fsmon"):
        (hooks / name).write_text(f"#!/bin/sh\nmkdir -p {marks} && touch {marks}/{name}\n")
        (hooks / name).chmod(0o755)
    ext = tmp_path / "ext.sh"
    ext.write_text(f"#!/bin/sh\nmkdir -p {marks} && touch {marks}/ext\n")
    ext.chmod(0o755)
    for key, value in (
        ("core.fsmonitor", str(hooks / "fsmon")),
        ("diff.external", str(ext)),
        ("filter.evil.clean", f"mkdir -p {marks} && touch {marks}/clean; cat"),
        ("filter.evil.smudge", f"mkdir -p {marks} && touch {marks}/smudge; cat"),
        ("filter.evil.required", "true"),
        ("diff.evil.textconv", str(ext)),
        ("core.pager", str(ext)),
    ):
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    (repo / "f.txt").write_text("two\n")
    assert gitops.dirty_paths(repo) == [".gitattributes", "f.txt"]
    assert gitops.worktree_state(repo).dirty == [".gitattributes", "f.txt"]
    gitops.git(repo, "add", "-A")
    gitops.git(repo, "commit", "-q", "--no-verify", "-m", "second", env=who)
    assert gitops.loc_between(repo, "HEAD~1", "HEAD").added == 2
    gitops.git(repo, "diff", "HEAD~1", "HEAD")
    gitops.git(repo, "log", "-p", "-1")
    gitops.git(repo, "checkout", "-q", "-b", "other", "HEAD~1")
    gitops.git(repo, "update-ref", "refs/heads/x", "HEAD")
    assert not marks.exists(), sorted(p.name for p in marks.iterdir())
    # the planted programs are real: git run plainly runs them
    (repo / "f.txt").write_text("three\n")
    subprocess.run(["git", "-C", str(repo), "status"], capture_output=True, check=False)
    assert marks.exists()


def test_a_tip_holding_the_approved_commit_is_landed_only_after_the_post_merge_tests(
    project: HatchProject,
) -> None:
    fail = [sys.executable, "-c", "import sys; print('post-merge suite ran'); sys.exit(1)"]
    project.configure(integrate="merge", integration={"test_command": fail})
    project.add_taskspec(
        "AHEAD", max_attempts=1, scripted={"factory": ["move-branch", "succeed"], "qa": "approve"}
    )
    repo = project.target
    assert run_doit(project).returncode == 1  # the agent moved main: the build stopped
    tip = git(repo, "rev-parse", "main").strip()
    # a person looked, and accepts the tip as it is
    git(repo, "update-ref", "refs/hatchdoit/accepted/main", tip)
    done = run_doit(project)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    log = project.layout.integration_log("AHEAD", 1, "integration-tests")
    assert "post-merge suite ran" in log.read_text(), output
    landed = project.layout.integration("AHEAD")
    assert not landed.exists() or read_json(landed)["outcome"] != "integrated", output
    assert not events(project, "integrated")
    assert git(repo, "rev-parse", "main").strip() == tip, output


def test_the_worktree_scripts_git_ignores_planted_programs(
    tmp_path: Path, env: dict[str, str], root: Path
) -> None:
    """scripts/git/create_worktree.sh and remove_worktree.sh (lib/safe_git.sh): a post-checkout
    hook, an fsmonitor and a smudge filter planted in the target repo's config never run."""
    repo, marks = tmp_path / "repo", tmp_path / "marks"
    plain = dict(env)

    def plain_git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], env=plain, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=plain, check=True)
    (repo / "a.txt").write_text("a\n")
    (repo / ".gitattributes").write_text("* filter=evil\n")
    plain_git("add", "-A")
    plain_git("commit", "-q", "-m", "first")
    hooks = repo / ".git" / "hooks"
    for name in ("post-checkout", "reference-transaction", "fsmon"):
        (hooks / name).write_text(f"#!/bin/sh\nmkdir -p {marks} && touch {marks}/{name}\n")
        (hooks / name).chmod(0o755)
    plain_git("config", "core.fsmonitor", str(hooks / "fsmon"))
    plain_git("config", "filter.evil.smudge", f"mkdir -p {marks} && touch {marks}/smudge; cat")
    args = ("--repo", repo, "--worktrees-root", root, "--id", "T1")
    made = run(CREATE, *args, "--base", "main", env=env)
    assert made.returncode == 0, made.stderr
    assert (root / "T1" / "a.txt").read_text() == "a\n"
    removed = run(REMOVE, *args, env=env)
    assert removed.returncode == 0, removed.stderr
    assert not marks.exists(), sorted(p.name for p in marks.iterdir())
    plain_git("checkout", "-q", "-b", "other")  # the planted programs are real
    assert marks.exists()


def test_a_persons_commit_merged_back_by_a_rework_is_not_suspect(
    project: HatchProject, tmp_path: Path
) -> None:
    """A person commits on main while B is built; B's post-merge tests fail once, so its next
    attempt starts by merging main (the person's commit included) into taskspec/B: that commit
    is on a TaskSpec branch now, but the refused integration's tip names it as checked."""
    once = tmp_path / "post-merge-ran-once"
    flaky = [sys.executable, "-c", f"import pathlib, sys; p = pathlib.Path({str(once)!r}); "
             "sys.exit(0) if p.exists() else (p.touch(), sys.exit(1))"]  # fmt: skip
    project.configure(integrate="merge", integration={"test_command": flaky})
    project.add_taskspec("B")
    built = run_doit(project, "taskspec:B")
    assert built.returncode == 0, built.stdout + built.stderr
    repo = project.target
    (repo / "PERSON.md").write_text("a person's commit\n")
    git(repo, "add", "PERSON.md")
    git(repo, "commit", "-q", "-m", "a person's commit on main")
    person = git(repo, "rev-parse", "HEAD").strip()
    done = run_doit(project)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not events(project, "branch_tampered"), output
    assert read_json(project.layout.decision("B", 1))["commit"] == person
    assert read_json(project.layout.integration("B"))["outcome"] == "integrated"
    assert "PERSON.md" in git(repo, "ls-tree", "--name-only", "main")


def test_the_users_own_filters_still_run_where_the_repo_would_replace_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter from the user's global config (git-lfs's, say) keeps working; the repo's own
    config setting the same key (an agent's) is overridden by the user's value."""
    repo, marks, user = tmp_path / "repo", tmp_path / "marks", tmp_path / "gitconfig"
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user))
    subprocess.run(["git", "config", "--file", str(user), "filter.upper.clean", "tr a-z A-Z"],
                   check=True)  # fmt: skip
    who = gitops.identity("t", "t@example.com")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / ".gitattributes").write_text("*.up filter=upper\n")
    (repo / "a.up").write_text("quiet\n")
    gitops.git(repo, "add", "-A")
    gitops.git(repo, "commit", "-q", "-m", "first", env=who)
    assert gitops.git(repo, "show", "HEAD:a.up") == "QUIET\n"  # the user's filter ran
    planted = f"mkdir -p {marks} && touch {marks}/clean; cat"
    subprocess.run(["git", "-C", str(repo), "config", "filter.upper.clean", planted], check=True)
    (repo / "a.up").write_text("still quiet\n")
    gitops.git(repo, "add", "-A")
    gitops.git(repo, "commit", "-q", "-m", "second", env=who)
    assert gitops.git(repo, "show", "HEAD:a.up") == "STILL QUIET\n"
    assert not marks.exists()
