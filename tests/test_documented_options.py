"""Documented options that nothing else exercises, each shown doing what docs/configuration.md
and the command help say, so that dropping one fails here: `hatchdoit ci --max-runs`,
`hatchdoit reject --feedback-file`, `limits.submit_retries`, the expiry of `limits.plan_wait`,
`target.commit_as` and `providers.probe_after`. Real doit, git, tmux and the scripted agent."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import (
    background_doit,
    doit_output,
    events,
    git,
    read_audit,
    read_json,
    retry_until,
    run_doit,
)
from daily_use import hatchdoit
from projects import HatchProject, module_body
from provider_builds import provider, quick

from hatchdoit.core.errors import EXIT_CONFIG

pytestmark = pytest.mark.integration


def held(tid: str, seconds: float) -> str:
    """A one-module TaskSpec body whose factory works `seconds` before it writes anything."""
    slug = tid.lower().replace("-", "")
    return module_body(f"m_{slug}", f"f_{slug}") + f"\n<!-- scripted:hold={seconds:g} -->\n"


def test_ci_max_runs_bounds_the_doit_runs(project: HatchProject) -> None:
    """A build that dies at the same point in every doit run: `--max-runs 1` gives up after
    one run (the default, 5, would try a second)."""
    project.add_taskspec("A")
    dying = {"HATCHDOIT_FAULT": "worktree.before_script@A"}
    done = hatchdoit(project, "ci", "--max-runs", "1", env=dying, timeout=120)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "hatchdoit ci: doit run 1: 1 target(s)" in done.stdout
    assert "doit run 2" not in done.stdout, done.stdout
    assert "hatchdoit ci: giving up after 1 doit run(s)" in done.stdout


def test_reject_takes_its_feedback_from_a_file(project: HatchProject) -> None:
    project.add_taskspec("A")
    assert run_doit(project).returncode == 0
    feedback = "Rename f_a to answer_a.\n\n- say why in the docstring\n- keep the test\n"
    path = project.root.parent / "feedback.md"
    path.write_text(feedback, encoding="utf-8")
    missing = hatchdoit(project, "reject", "A", "--feedback-file", str(path) + ".nope")
    assert missing.returncode == EXIT_CONFIG
    assert "cannot read the feedback" in missing.stderr and "pass a text file" in missing.stderr
    said = hatchdoit(project, "reject", "A", "--feedback-file", str(path))
    assert said.returncode == 0, said.stderr
    assert read_json(project.layout.decision("A", 1))["feedback"] == feedback.strip()
    again = run_doit(project)
    assert again.returncode == 0, again.stdout + again.stderr
    prompt = project.layout.prompt("A", "factory", 2).read_text(encoding="utf-8")
    assert feedback.strip() in prompt


def test_submit_retries_is_how_many_enter_presses_a_prompt_gets(project: HatchProject) -> None:
    """An agent deaf to its first two Enter presses (a TUI still starting): two presses are
    not enough, three are."""
    project.env["SCRIPTED_DEAF_ENTERS"] = "2"
    project.configure(limits={"submit_retries": 2, "submit_timeout": 1})
    project.add_taskspec("A")
    failed = run_doit(project, timeout=120)
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "after 2 Enter presses" in failed.stderr, failed.stderr
    project.tmux("kill-server")  # the failed launch's session, its deafness spent
    project.configure(limits={"submit_retries": 3})
    built = run_doit(project, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    presses = {e["presses"] for e in events(project, "prompt_submitted", role="factory")}
    assert presses == {3}


def test_plan_wait_ends_a_launch_whose_planning_repo_stays_away(project: HatchProject) -> None:
    """The planning repo goes away while A's factory works; A's QA launch waits for it
    limits.plan_wait seconds (the default is an hour), then fails with one line."""
    project.configure(limits={"plan_wait": 1})
    project.add_taskspec("A", held("A", 3))
    away = project.planning.with_name("planning-unmounted")
    try:
        with background_doit(project) as build:
            retry_until(lambda: project.layout.launch_record("A", "factory", 1).exists())
            shutil.move(project.planning, away)
            build.wait(timeout=90)
        output = doit_output(project, build)
    finally:
        if away.exists():
            shutil.move(away, project.planning)
    assert build.returncode != 0, output
    assert f"planning repo {project.planning} does not exist" in output
    waited = re.search(r"\(waited (\d+)s\) \(fix: .*limits\.plan_wait sets the wait\)", output)
    assert waited is not None and int(waited.group(1)) < 30, output  # not the default hour
    assert events(project, "plan_missing") and not events(project, "plan_back")


def test_commit_as_is_who_commits_what_hatchdoit_commits(project: HatchProject) -> None:
    """The factory leaves its work uncommitted; hatchdoit commits it, and merges it, as
    target.commit_as."""
    robot = {"name": "Build Robot", "email": "robot@example.invalid"}
    project.configure(integrate="merge", target={"commit_as": robot})
    project.add_taskspec("A", scripted={"factory": ["no-commit"]})
    built = run_doit(project, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    repo = project.root / "_target"
    who = "%an <%ae> / %cn <%ce>"
    expected = "Build Robot <robot@example.invalid> / Build Robot <robot@example.invalid>"
    approved = read_json(project.layout.done("A"))["commit"]
    assert git(repo, "log", "-1", f"--format={who}", approved).strip() == expected
    assert git(repo, "log", "-1", f"--format={who}", "main").strip() == expected  # the merge


def test_probe_after_lets_the_others_go_while_a_quiet_probe_works(project: HatchProject) -> None:
    """Two TaskSpecs hit a limit; at its reset one probes. Its CLI gives no sign that the
    provider answered (`quiet`) and it works 6 s: after providers.probe_after (1 s) without a
    fault the other launches, long before the probe stops (the default waits 20 s, past it)."""
    quick(project)
    project.configure(providers={"probe_after": 1}, limits={"parallel_sessions": 2})
    provider(project, kind="usage_limit", for_s=2, quiet=True, message="limit reached")
    for tid in ("P", "Q"):
        project.add_taskspec(tid, held(tid, 6), max_attempts=1)
    built = run_doit(project, "-n", "2", timeout=180)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    audit = [
        e
        for e in read_audit(project)
        if e["event"] in ("launch", "stop", "provider_answered") and e.get("role") == "factory"
    ]
    answer = next(i for i, e in enumerate(audit) if e["event"] == "provider_answered")
    probe = audit[answer]["taskspec_id"]
    other = "Q" if probe == "P" else "P"
    probe_stop = next(
        i for i, e in enumerate(audit)
        if e["event"] == "stop" and e["taskspec_id"] == probe and e["stop_event"] == "stop"
    )  # fmt: skip
    other_launch = max(
        i for i, e in enumerate(audit) if e["event"] == "launch" and e["taskspec_id"] == other
    )
    assert answer < other_launch < probe_stop, audit
