"""A worktree's life after its work is delivered (delivery/retire.py, cli/gc.py): removed at once
(`workspace.remove_delivered`), the TaskSpec still up to date without it; `hatchdoit gc` removes
what nothing needs and frees what it says. Real doit builds with the scripted agent, real git."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import events, git, read_json, run_doit
from projects import HatchProject
from test_integrate_pr import pr_project  # noqa: F401  (the fixture, with gh stood in)

pytestmark = pytest.mark.integration


def gc(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    return hatchdoit(project, "gc", *args)


def hatchdoit(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(project.root), *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def du_bytes(paths: list[Path]) -> int:
    """What du says the paths occupy together (allocated bytes, a hard-linked file once)."""
    done = subprocess.run(
        ["du", "-s", "-c", "-B1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.splitlines()[-1].split()[0])


def test_a_delivered_taskspec_stays_up_to_date_without_its_worktree(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    repo = project.target
    for tid in "AB":
        assert not project.layout.worktree(tid).exists(), tid  # removed once delivered
        assert git(repo, "rev-parse", "--verify", "-q", f"refs/heads/taskspec/{tid}").strip()
        assert project.layout.done(tid).is_file() and project.layout.integration(tid).is_file()
        assert project.layout.worktree_record(tid).is_file()
        removed = events(project, "worktree_removed", taskspec_id=tid)
        assert [e["why"] for e in removed] == ["delivered"]
    assert "taskspec/A" not in git(repo, "worktree", "list")

    again = run_doit(project)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout + again.stderr
    assert not project.layout.worktree("A").exists() and not project.layout.worktree("B").exists()
    assert len(events(project, "step_start", taskspec_id="A", step="worktree")) == 1

    # A real rebuild (its TaskSpec changed) makes its worktree again (and removes it again
    # once delivered)
    project.add_taskspec("A", test_command="python3 -m unittest discover -s tests")
    rebuilt = run_doit(project)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert len(events(project, "step_start", taskspec_id="A", step="worktree")) == 2
    assert len(events(project, "worktree_removed", taskspec_id="A")) == 2
    assert not project.layout.worktree("A").exists()


def test_remove_delivered_false_keeps_the_worktree(project: HatchProject) -> None:
    project.configure(integrate="merge", workspace={"remove_delivered": False})
    project.add_taskspec("A")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.layout.worktree("A").is_dir()
    assert events(project, "worktree_removed") == []


def test_gc_removes_what_nothing_needs_keeps_unsaved_work_and_frees_what_it_says(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge", workspace={"remove_delivered": False})
    for tid in ("DELIVERED", "GONE", "DIRTY", "RESET"):
        project.add_taskspec(tid)
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    reset = hatchdoit(project, "reset", "RESET")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    wt = project.layout.worktree
    # a setup's product in the delivered one: never "unsaved work"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(wt("DELIVERED") / ".venv")],
                   check=True)  # fmt: skip
    # two TaskSpecs leave the plan; one of them has a file nobody committed
    (wt("DIRTY") / "notes.txt").write_text("work in progress\n")
    for tid in ("GONE", "DIRTY"):
        (project.planning / "_specs" / "taskspecs" / f"{tid}.md").unlink()
    integration = project.layout.integration_worktree
    assert integration.is_dir()  # left by the merges: stale once the build is over
    going = [wt("DELIVERED"), wt("GONE"), wt("RESET"), integration]
    expected = du_bytes(going)

    listed = gc(project, "--dry-run", "--json")
    assert listed.returncode == 0, listed.stderr
    assert all(p.is_dir() for p in going)  # a dry run removes nothing

    swept = gc(project, "--json")
    assert swept.returncode == 0, swept.stderr
    result = json.loads(swept.stdout)
    why = {Path(f["path"]).name: f["why"] for f in result["removed"]}
    assert why == {
        "DELIVERED": "delivered",
        "GONE": "abandoned: no such TaskSpec in the plan",
        ".integration": "stale integration worktree",
        "RESET": "reset: the next build makes it anew",
    }
    assert [Path(f["path"]).name for f in result["kept"]] == ["DIRTY"]
    assert "notes.txt" in result["kept"][0]["detail"]
    assert not any(p.exists() for p in going) and wt("DIRTY").is_dir()
    assert result["freed"] == result["before"] - result["after"]
    assert abs(result["freed"] - expected) <= max(64 * 1024, expected // 20), (result, expected)
    assert sum(f["bytes"] for f in result["removed"]) == pytest.approx(expected, rel=0.05)
    repo = project.target
    for tid in ("DELIVERED", "GONE", "DIRTY", "RESET"):  # branches stay
        assert git(repo, "rev-parse", "--verify", "-q", f"refs/heads/taskspec/{tid}").strip()
    assert str(wt("GONE")) not in git(repo, "worktree", "list")
    said = {e["taskspec_id"]: e["why"] for e in events(project, "worktree_removed")}
    assert said == {
        "DELIVERED": "gc: delivered",
        "GONE": "gc: abandoned: no such TaskSpec in the plan",
        "RESET": "gc: reset: the next build makes it anew",
        "": "gc: stale integration worktree",
    }

    # --force takes the dirty one (a clone: `git worktree lock` is for older linked worktrees)
    text = gc(project, "--force")
    assert text.returncode == 0, text.stderr
    assert f"removed {project.layout.rel(wt('DIRTY'))} (abandoned" in text.stdout
    assert text.stdout.splitlines()[-1].startswith("gc: 1 worktree(s) removed, ")
    assert not wt("DIRTY").exists()
    assert read_json(project.layout.integration("DELIVERED"))["outcome"] == "integrated"

    # the reset one is made anew by the next build; the delivered one is not
    rebuilt = run_doit(project)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert wt("RESET").is_dir() and not wt("DELIVERED").exists()
    assert read_json(project.layout.worktree_record("RESET"))["reset"] == 1


def test_with_pull_requests_gc_removes_a_worktree_once_its_pr_merged(
    pr_project: HatchProject,  # noqa: F811
) -> None:
    project = pr_project
    project.add_taskspec("A")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    worktree = project.layout.worktree("A")
    assert worktree.is_dir()  # a PR that is open is not delivered yet
    waiting = json.loads(gc(project, "--json").stdout)
    assert waiting["removed"] == [] and worktree.is_dir()

    state_file = Path(project.env["FAKE_GH_STATE"])
    state = json.loads(state_file.read_text())
    state[0]["state"] = "MERGED"  # a person merged it on GitHub
    state_file.write_text(json.dumps(state))
    swept = json.loads(gc(project, "--json").stdout)
    assert [f["why"] for f in swept["removed"]] == [f"delivered: PR #{state[0]['number']} merged"]
    assert not worktree.exists()
    again = run_doit(project)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout + again.stderr
    assert not worktree.exists()


def test_a_dependency_whose_pr_merged_loses_its_worktree_when_its_dependent_learns_it(
    pr_project: HatchProject,  # noqa: F811
) -> None:
    """integration.dependents: wait: the dependent's build asks GitHub whether the dependency's
    PR merged; once it has, the dependency is delivered and its worktree goes then."""
    project = pr_project
    project.configure(integration={"dependents": "wait"})
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    first = run_doit(project)
    assert first.returncode != 0 and "waits for the pull request of A" in first.stderr
    assert project.layout.worktree("A").is_dir()  # its PR is open: not delivered yet
    state_file = Path(project.env["FAKE_GH_STATE"])
    state = json.loads(state_file.read_text())
    state[0]["state"] = "MERGED"  # a person merged it on GitHub
    state_file.write_text(json.dumps(state))
    second = run_doit(project)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not project.layout.worktree("A").exists()
    assert [e["why"] for e in events(project, "worktree_removed", taskspec_id="A")] == ["delivered"]
    assert project.layout.worktree("B").is_dir()  # B's own PR is open


def test_gc_refuses_while_a_build_runs(project: HatchProject) -> None:
    lock = project.layout.locks / "build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a running build holds
        refused = gc(project)
    assert refused.returncode == 1
    assert refused.stdout == "" and "another build is running" in refused.stderr


def test_a_squashed_taskspec_of_a_repo_with_a_remote_is_removed_once_delivered(
    pr_project: HatchProject,  # noqa: F811
) -> None:
    """Its branch's commits are on no other branch (squashed) and not pushed, but they are the
    work delivered: nothing of it is lost with the worktree."""
    project = pr_project
    project.configure(integrate="squash")
    project.add_taskspec("A")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not project.layout.worktree("A").exists()
    assert [e["why"] for e in events(project, "worktree_removed", taskspec_id="A")] == ["delivered"]
