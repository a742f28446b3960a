"""`integrate: pr`: the approved commit pushed to a real bare repo on disk, and one pull request
per TaskSpec opened or updated through a stand-in `gh` on PATH (tests/fake_gh.py: gh's argv and
JSON contract, its pull requests in a file). A dependent's PR is stacked on its dependency's
branch; a rerun, or a crash after the PR was opened, never opens a second one; push is never
forced; the GitHub token stays in gh's environment, never on a command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import git, read_json, run_doit
from projects import CHECKOUT, HatchProject, doit_executable

pytestmark = pytest.mark.integration
TOKEN = "ghp_stand-in-token-0123456789"


@pytest.fixture
def pr_project(project: HatchProject, tmp_path: Path) -> HatchProject:
    """The project's target is a clone with an `origin` (a bare repo on disk) and `gh` on PATH
    is the stand-in."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seeded = tmp_path / "seeded"
    subprocess.run(["cp", "-r", str(project.seed), str(seeded)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seeded)], check=True)
    git(seeded, "add", "-A", env=project.env)
    git(seeded, "commit", "-q", "-m", "seed", env=project.env)
    git(seeded, "remote", "add", "origin", str(origin))
    git(seeded, "push", "-q", "origin", "main", env=project.env)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec {sys.executable} {CHECKOUT / "tests" / "fake_gh.py"} "$@"\n')
    gh.chmod(0o755)
    project.env.update(
        PATH=f"{bin_dir}:{project.env['PATH']}",
        FAKE_GH_STATE=str(tmp_path / "prs.json"),
        FAKE_GH_CALLS=str(tmp_path / "gh-calls.jsonl"),
        GH_TOKEN=TOKEN,
    )
    project.configure(
        integrate="pr",
        target={"repo": str(seeded), "seed": None},
        integration={"labels": ["hatchdoit"]},
    )
    return project


def prs(project: HatchProject) -> list[dict[str, Any]]:
    return json.loads(Path(project.env["FAKE_GH_STATE"]).read_text())


def calls(project: HatchProject) -> list[dict[str, Any]]:
    lines = Path(project.env["FAKE_GH_CALLS"]).read_text().splitlines()
    return [json.loads(line) for line in lines]


def origin(project: HatchProject) -> Path:
    return Path(project.env["FAKE_GH_STATE"]).parent / "origin.git"


def test_each_taskspec_gets_one_pull_request_stacked_on_its_dependency(
    pr_project: HatchProject,
) -> None:
    project = pr_project
    project.add_taskspec("A", title="Alpha")
    project.add_taskspec("B", title="Beta", depends_on=["A"])
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    opened = {p["head"]: p for p in prs(project)}
    assert set(opened) == {"taskspec/A", "taskspec/B"}
    assert opened["taskspec/A"]["base"] == "main"
    assert opened["taskspec/B"]["base"] == "taskspec/A"  # stacked
    assert opened["taskspec/A"]["title"] == "A: Alpha"
    assert opened["taskspec/A"]["labels"] == ["hatchdoit"]
    body = opened["taskspec/A"]["body"]
    assert "## Summary" in body and "## Checks" in body and "**approved**" in body
    for tid in "AB":
        approved = read_json(project.layout.done(tid))["commit"]
        pushed = git(origin(project), "rev-parse", f"refs/heads/taskspec/{tid}").strip()
        assert pushed == approved
        record = read_json(project.layout.integration(tid))
        assert record["mode"] == "pr" and record["pr_url"] == opened[f"taskspec/{tid}"]["url"]
    assert "pull request #1 https://github.com/example/target/pull/1" in done.stdout
    assert all(TOKEN not in " ".join(c["argv"]) and c["token_in_env"] for c in calls(project))
    assert git(origin(project), "rev-parse", "main") == git(
        Path(project.config["target"]["repo"]), "rev-parse", "main"
    ), "pr mode never moves the integration branch"

    again = run_doit(project)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(prs(project)) == 2


def test_a_crash_after_the_pr_was_opened_updates_it_instead_of_opening_another(
    pr_project: HatchProject,
) -> None:
    project = pr_project
    project.add_taskspec("A")
    killed = subprocess.run(
        [doit_executable()],
        cwd=project.root,
        env={**project.env, "HATCHDOIT_FAULT": "integrate.before_receipt@A"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9
    assert len(prs(project)) == 1 and not project.layout.integration("A").exists()
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(prs(project)) == 1
    verbs = [c["argv"][:2] for c in calls(project) if c["argv"][:1] == ["pr"]]
    assert verbs.count(["pr", "create"]) == 1 and ["pr", "edit"] in verbs


def test_a_push_the_remote_refuses_is_one_clear_line_and_nothing_forced(
    pr_project: HatchProject, tmp_path: Path
) -> None:
    project = pr_project
    project.add_taskspec("A")
    # someone else pushed their own taskspec/A first
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(origin(project)), str(other)], check=True)
    (other / "theirs.txt").write_text("theirs\n")
    git(other, "add", "-A", env=project.env)
    git(other, "commit", "-q", "-m", "theirs", env=project.env)
    git(other, "push", "-q", "origin", "HEAD:refs/heads/taskspec/A", env=project.env)
    theirs = git(other, "rev-parse", "HEAD").strip()
    done = run_doit(project)
    assert done.returncode != 0
    assert "git push to origin refused taskspec/A" in done.stderr, done.stderr
    assert "never force-pushes" in done.stderr
    assert git(origin(project), "rev-parse", "refs/heads/taskspec/A").strip() == theirs
    assert not Path(project.env["FAKE_GH_STATE"]).exists(), "no pull request was opened"


def test_with_dependents_wait_a_dependents_pr_opens_once_its_dependencys_merged(
    pr_project: HatchProject,
) -> None:
    project = pr_project
    project.configure(integration={"dependents": "wait"})
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    first = run_doit(project)
    assert first.returncode != 0
    assert "waits for the pull request of A to merge" in first.stderr, first.stderr
    assert [p["head"] for p in prs(project)] == ["taskspec/A"]
    state = prs(project)
    state[0]["state"] = "MERGED"  # a person merged it on GitHub
    Path(project.env["FAKE_GH_STATE"]).write_text(json.dumps(state))
    second = run_doit(project)
    assert second.returncode == 0, second.stdout + second.stderr
    opened = {p["head"]: p for p in prs(project)}
    assert opened["taskspec/B"]["base"] == "main"


def review(state: str, login: str, commit: str, body: str = "") -> dict[str, Any]:
    return {
        "author": {"login": login, "__typename": "Bot" if login.endswith("[bot]") else "User"},
        "state": state,
        "body": body,
        "submittedAt": "2026-12-06T10:00:00Z",
        "commit": {"oid": commit},
    }


def test_with_review_from_pr_the_pull_requests_review_decides(pr_project: HatchProject) -> None:
    project = pr_project
    project.configure(review="before-integrate", review_from="pr")
    project.add_taskspec("A")
    first = run_doit(project)
    assert first.returncode != 0 and "awaiting review" in first.stderr, first.stderr
    pushed = git(origin(project), "rev-parse", "refs/heads/taskspec/A").strip()
    state = prs(project)
    state[0]["reviews"] = [
        review("CHANGES_REQUESTED", "reviewer", pushed, "Please add a docstring."),
        review("CHANGES_REQUESTED", "lint[bot]", pushed, "bot noise"),
    ]
    person = {"login": "reviewer", "__typename": "User"}
    bot = {"login": "ci[bot]", "__typename": "Bot"}
    state[0]["threads"] = [
        {"isResolved": False, "path": "src/app/m_a.py", "line": 3,
         "comments": {"nodes": [{"body": "Name it better.", "author": person}]}},
        {"isResolved": True, "path": "src/app/m_a.py", "line": 1,
         "comments": {"nodes": [{"body": "resolved already", "author": person}]}},
        {"isResolved": False, "path": "README.md", "line": 1,
         "comments": {"nodes": [{"body": "bot says", "author": bot}]}},
    ]  # fmt: skip
    Path(project.env["FAKE_GH_STATE"]).write_text(json.dumps(state))
    second = run_doit(project)
    assert second.returncode != 0 and "awaiting review" in second.stderr  # the new commit waits
    made = read_json(project.layout.decision("A", 1))
    assert made["kind"] == "reject" and made["who"] == "reviewer (GitHub review of PR #1)"
    assert "Please add a docstring." in made["feedback"]
    assert "src/app/m_a.py:3 (reviewer): Name it better." in made["feedback"]
    assert "resolved already" not in made["feedback"] and "bot" not in made["feedback"]
    prompt = project.layout.prompt("A", "factory", 2).read_text(encoding="utf-8")
    assert "Name it better." in prompt
    again = git(origin(project), "rev-parse", "refs/heads/taskspec/A").strip()
    assert again != pushed and again == read_json(project.layout.done("A"))["commit"]
    assert len(prs(project)) == 1
    state = prs(project)
    state[0]["reviews"] = [review("APPROVED", "reviewer", again, "Good now.")]
    Path(project.env["FAKE_GH_STATE"]).write_text(json.dumps(state))
    third = run_doit(project)
    assert third.returncode == 0, third.stdout + third.stderr
    approval = read_json(project.layout.decision("A", 2))
    assert approval["kind"] == "approve" and approval["commit"] == again
    assert read_json(project.layout.integration("A"))["outcome"] == "integrated"
