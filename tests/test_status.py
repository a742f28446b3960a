"""`hatchdoit status` (table and --json), the doit progress reporter, and notifications, on a real
mixed build (see daily_use.py)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from conftest import events, popen_doit, retry_until, run_doit
from daily_use import MixedBuild, hatchdoit, mixed, notifications
from projects import HatchProject

from hatchdoit.agents.tmux import session_name
from hatchdoit.observe.notify import send
from hatchdoit.project import load_project
from hatchdoit.records.audit import audit

pytestmark = pytest.mark.integration
__all__ = ["mixed"]  # the session fixture, imported for pytest


def status_json(project: HatchProject) -> dict[str, object]:
    done = hatchdoit(project, "status", "--json")
    assert done.returncode == 0, done.stderr
    schema = json.loads(hatchdoit(project, "status", "--schema").stdout)
    data = json.loads(done.stdout)
    jsonschema.validate(data, schema)
    return data  # type: ignore[no-any-return]


def status_row(project: HatchProject, tid: str, **env: str) -> dict[str, Any]:
    done = hatchdoit(project, "status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    return next(row for row in data["taskspecs"] if row["taskspec_id"] == tid)  # type: ignore[no-any-return]


def test_status_json_tells_each_taskspec_and_featspec(mixed: MixedBuild) -> None:
    data = status_json(mixed.project)
    rows = {row["taskspec_id"]: row for row in data["taskspecs"]}  # type: ignore[attr-defined]
    assert list(rows) == ["A", "B", "C", "D"]
    assert (rows["A"]["status"], rows["A"]["attempt"]) == ("done", 1)
    assert (rows["B"]["status"], rows["B"]["attempt"], rows["B"]["max_attempts"]) == ("done", 2, 3)
    assert rows["B"]["last_event"]["text"] == "done (attempt 2)"
    assert (rows["C"]["status"], rows["C"]["state"], rows["C"]["attempt"]) == (
        "escalated",
        "escalated",
        2,
    )
    assert rows["C"]["last_event"]["text"] == "escalated after 2 attempt(s)"
    assert any("tests failed" in reason for reason in rows["C"]["reasons"])
    assert (rows["D"]["status"], rows["D"]["state"], rows["D"]["last_event"]) == (
        "pending",
        "pending",
        None,
    )
    assert rows["D"]["featspec"] == "FS-002-OTHER" and rows["D"]["depends_on"] == ["C"]
    assert all(row["agents"] == {"factory": "scripted", "qa": "scripted"} for row in rows.values())
    assert all(row["age_s"] is None or row["age_s"] >= 0 for row in rows.values())
    feats = {f["featspec_id"]: f for f in data["featspecs"]}  # type: ignore[attr-defined]
    assert feats["FS-001-TEST"]["status"] == "blocked"
    assert feats["FS-001-TEST"]["counts"] == {"done": 2, "escalated": 1}
    assert feats["FS-002-OTHER"] == {
        "featspec_id": "FS-002-OTHER",
        "title": "Other feature",
        "status": "pending",
        "total": 1,
        "counts": {"pending": 1},
    }
    assert data["totals"] == {
        "taskspecs": 4,
        "pending": 1,
        "active": 0,
        "paused": 0,
        "done": 2,
        "escalated": 1,
        "awaiting review": 0,
        "awaiting merge": 0,
        "awaiting runner": 0,
        "setup failed": 0,
    }
    assert data["build"] == {
        "running": False, "pid": None, "started_at": None, "confinement": "off"
    }  # fmt: skip
    assert all(row["stale"] is None and row["running_for_s"] is None for row in rows.values())


def test_status_table_groups_taskspecs_under_featspecs(mixed: MixedBuild) -> None:
    done = hatchdoit(mixed.project, "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    feat_1 = next(i for i, line in enumerate(lines) if "FS-001-TEST" in line)
    feat_2 = next(i for i, line in enumerate(lines) if "FS-002-OTHER" in line)
    row = {tid: next(i for i, line in enumerate(lines) if f"  {tid} " in line) for tid in "ABCD"}
    assert feat_1 < row["A"] < row["B"] < row["C"] < feat_2 < row["D"]
    assert re.search(r"B .*done .*2/3 .*done \(attempt 2\)", lines[row["B"]])
    assert "· agent scripted" in lines[0]  # one profile for all: named once, in the title
    assert re.search(r"C .*escalated .*2/2 .*escalated after 2", lines[row["C"]])
    assert "blocked" in lines[feat_1] and "2/3 done" in lines[feat_1]
    assert "4 TaskSpec(s): 2 done, 1 escalated, 1 pending · no build running" in done.stdout


def test_status_says_interrupted_after_a_killed_build(project: HatchProject) -> None:
    project.add_taskspec("K")
    audit(project.layout.audit, "step_start", "K", step="worktree", attempt=0)
    row = status_json(project)["taskspecs"][0]  # type: ignore[index]
    assert (row["state"], row["last_event"]["text"]) == ("interrupted", "worktree started")
    audit(project.layout.audit, "step_error", "K", step="worktree", attempt=0, error="git broke")
    row = status_json(project)["taskspecs"][0]  # type: ignore[index]
    assert (row["state"], row["last_event"]["text"]) == ("failed", "worktree error: git broke")


def test_running_needs_the_build_lock_and_a_step_that_build_started(
    project: HatchProject,
) -> None:
    project.add_taskspec("K")
    before = (datetime.now(UTC) - timedelta(minutes=2)).isoformat(timespec="milliseconds")
    line = {"ts": before, "event": "step_start", "taskspec_id": "K", "step": "worktree"}
    project.layout.audit.parent.mkdir(parents=True, exist_ok=True)
    with open(project.layout.audit, "a", encoding="utf-8") as fh:  # a killed build's step
        fh.write(json.dumps({**line, "attempt": 0}) + "\n")
    lock = project.layout.locks / "build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # this test is "the build" now
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        data = status_json(project)
        assert data["build"]["running"] and data["build"]["pid"] == os.getpid()
        assert data["build"]["started_at"]
        row = data["taskspecs"][0]  # type: ignore[index]
        assert (row["state"], row["running_for_s"]) == ("interrupted", None), "older than the build"
        audit(project.layout.audit, "step_start", "K", step="worktree", attempt=0)
        row = status_row(project, "K")
        assert (row["state"], row["step"]) == ("running", "worktree")
        assert 0 <= row["running_for_s"] < 60
    finally:
        os.close(fd)
    row = status_row(project, "K")
    assert (row["state"], row["running_for_s"]) == ("interrupted", None), "no build, no session"


def test_running_while_a_build_waits_then_unattended_after_ctrl_c(project: HatchProject) -> None:
    """Ctrl-C leaves the agent's session alive: status must not call it running any more."""
    project.configure(limits={"factory": {"idle_timeout": 120, "wall_timeout": 120}})
    project.add_taskspec("HANG", scripted={"factory": ["hang"]}, max_attempts=1)
    build = popen_doit(project, "taskspec:HANG")
    try:
        retry_until(
            lambda: events(project, "prompt_submitted", taskspec_id="HANG"),
            timeout=60,
            what="the agent got its prompt",
        )
        row = status_row(project, "HANG")
        assert (row["state"], row["step"], row["attempt"]) == ("running", "factory", 1)
        assert row["session"] is not None and row["running_for_s"] >= 0
        build.send_signal(signal.SIGINT)
        assert build.wait(timeout=30) == 130
    finally:
        if build.poll() is None:
            build.kill()
            build.wait(timeout=10)
    assert project.session_alive(session_name(project.layout.tag, "HANG", "factory", 1))
    data = status_json(project)
    row = next(r for r in data["taskspecs"] if r["taskspec_id"] == "HANG")  # type: ignore[attr-defined]
    assert data["build"]["running"] is False
    assert (row["state"], row["step"], row["attempt"]) == ("unattended", "factory", 1)
    assert row["running_for_s"] is None and row["session"]["attach"].endswith("HANG-factory-1")

    table = hatchdoit(project, "status").stdout
    assert re.search(r"HANG .*unattended .*factory .*1/1", table), table
    assert "1 unattended: its agent session is alive but no build waits on it; rerun doit" in table
    assert "no build running" in table
    frame = hatchdoit(project, "watch", "--once").stdout  # the dashboard agrees
    assert re.search(r"HANG[\s│]+factory[\s│]+1[\s│]+scripted.*unattended", frame), frame
    assert "Steps running: none" in frame


def test_another_profile_makes_a_built_taskspec_stale_not_pending(project: HatchProject) -> None:
    project.add_taskspec("S")
    assert run_doit(project).returncode == 0
    assert status_row(project, "S")["state"] == "done"
    # the profile is part of the input digest: under another one nothing built is current
    row = status_row(project, "S", HATCHDOIT_AGENT="generic")
    assert (row["status"], row["state"], row["step"], row["attempt"]) == (
        "pending",
        "stale",
        "worktree",
        0,
    )
    changed = ["factory profile scripted -> generic", "qa profile scripted -> generic"]
    assert row["stale"] == {
        "was": "done",
        "attempt": 1,
        "changed": changed,
        "why": f"inputs changed since it was built ({', '.join(changed)})",
    }
    assert row["last_event"]["text"] == "done (attempt 1)"
    table = hatchdoit(project, "status", env={"HATCHDOIT_AGENT": "generic"}).stdout
    assert re.search(r"  S .*stale .*worktree .*done \(attempt 1\)", table), table
    assert (
        "1 stale: inputs changed since it was built; the next doit rebuilds it "
        f"({', '.join(changed)})"
    ) in table
    assert status_row(project, "S")["state"] == "done"  # back under the inputs it was built for


def test_status_of_a_broken_config_exits_2(project: HatchProject) -> None:
    project.configure(limits={"max_attempts": "many"})
    done = hatchdoit(project, "status")
    assert done.returncode == 2
    assert "limits.max_attempts" in done.stderr
    project.configure(limits={"max_attempts": 2})
    variable = "HATCHDOIT__LIMITS__MAX_ATTEMPTS"
    done = hatchdoit(project, "status", env={variable: "many"})
    assert done.returncode == 2
    assert done.stderr.startswith(f"hatchdoit: {variable}: limits.max_attempts: ")
    assert (
        "hatchdoit.yaml" not in done.stderr and f"fix: set {variable} to an integer" in done.stderr
    )
    done = hatchdoit(project, "status", env={"HATCHDOIT_ENV": "staging"})
    assert done.returncode == 2 and "use one of: dev, ci, prod;" in done.stderr


def test_long_agent_waits_print_elapsed_and_idle_every_progress_every(
    project: HatchProject,
) -> None:
    project.configure(
        limits={"progress_every": 0.5, "factory": {"idle_timeout": 3, "wall_timeout": 30}}
    )
    project.add_taskspec("SLOW", scripted={"factory": ["hang"]}, max_attempts=1)
    done = run_doit(project, timeout=90)
    assert done.returncode != 0  # the idle limit ends the hung agent; SLOW escalates
    waits = re.findall(
        r"^  SLOW factory attempt 1: waiting (\d+)s, idle (\d+)s$", done.stderr, re.M
    )
    assert len(waits) >= 3, done.stderr
    elapsed = [int(e) for e, _ in waits]
    idle = [int(i) for _, i in waits]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 2
    assert idle[-1] >= 2 and all(i <= e + 1 for e, i in zip(elapsed, idle, strict=True))


def test_progress_lines_per_step_start_and_finish(mixed: MixedBuild) -> None:
    first = mixed.outputs[0].stdout
    line = {
        name: [ln for ln in first.splitlines() if re.match(rf"^\S+\s+{re.escape(name)}\s", ln)]
        for name in ("factory:A.1", "qa:B.1", "qa:B.2", "checks:C.2", "taskspec:C", "worktree:A")
    }
    assert re.fullmatch(r"\.\s+factory:A\.1\s+attempt 1/3\s+started", line["factory:A.1"][0])
    assert re.fullmatch(
        r"\+\s+factory:A\.1\s+attempt 1/3\s+\d+\.\d\ds\s+stop", line["factory:A.1"][1]
    )
    assert re.fullmatch(
        r"x\s+qa:B\.1\s+attempt 1/3\s+\S+s\s+rejected: scripted QA: .+", line["qa:B.1"][1]
    )
    assert re.fullmatch(r"\+\s+qa:B\.2\s+attempt 2/3\s+\S+s\s+approved", line["qa:B.2"][1])
    assert re.fullmatch(
        r"x\s+checks:C\.2\s+attempt 2/2\s+\S+s\s+failed: tests failed .*", line["checks:C.2"][1]
    )
    assert re.fullmatch(
        r"F\s+taskspec:C\s+\S+s\s+escalated after 2 attempt\(s\): .*", line["taskspec:C"][1]
    )
    assert re.fullmatch(r"\+\s+worktree:A\s+\S+s\s+ok", line["worktree:A"][1])
    assert "hatchdoit: 4 TaskSpec(s): 2 done, 1 escalated, 0 active, 1 pending" in first
    assert mixed.outputs[0].returncode != 0


def test_escalation_is_notified_once_and_each_failed_build(mixed: MixedBuild) -> None:
    sent = notifications(mixed.notify_dir)
    assert [n["event"] for n in sent] == ["escalated", "build_failed", "build_failed"]
    escalated = sent[0]
    assert escalated["taskspec_id"] == "C" and escalated["attempts"] == 2
    assert escalated["featspec"] == "FS-001-TEST" and escalated["title"] == "Gamma"
    assert any("tests failed" in r for r in escalated["reasons"])
    assert escalated["escalated_file"] == "_logs/state/C/escalated.json"
    assert escalated["project"] == str(mixed.root)
    failed = sent[1]
    assert {f.get("taskspec_id") for f in failed["failures"]} >= {"C"}
    assert failed["summary"] == {"done": 2, "escalated": 1, "pending": 1}


def test_a_failing_or_slow_notify_command_is_logged_not_raised(project: HatchProject) -> None:
    project.add_taskspec("N")
    script = "import sys, time; sys.stdin.read(); print('no route to chat'); sys.exit(3)"
    project.configure(notify={"command": [sys.executable, "-c", script], "timeout": 5})
    assert send(load_project(project.root), "build_failed", {"failures": []}) is False
    load_project.cache_clear()
    project.configure(notify={"command": ["/nonexistent/notify"]})
    assert send(load_project(project.root), "build_failed", {"failures": []}) is False
    load_project.cache_clear()
    project.configure(notify={"command": [], "events": ["escalated"]})
    assert send(load_project(project.root), "build_failed", {}) is None
    warnings = [
        json.loads(line)
        for line in (project.logs / "orchestrator" / "orchestrator.jsonl").read_text().splitlines()
    ]
    assert [w["msg"] for w in warnings] == [
        "notify build_failed: exited 3: no route to chat",
        "notify build_failed: could not run: No such file or directory",
    ]
    assert all(w["level"] == "WARN" and w["operation"] == "notify" for w in warnings)


def test_an_escalation_whose_send_failed_is_sent_by_the_next_build(project: HatchProject) -> None:
    """The notice of an escalation stays pending while the notify command fails; the next build
    (which runs no step of that TaskSpec) sends it, once."""
    project.add_taskspec("E", scripted={"factory": ["fail-tests"]}, max_attempts=1)
    out = project.root.parent / "sent"
    gate = project.root.parent / "notify-works"
    script = (
        "import json, pathlib, sys\n"
        f"if not pathlib.Path({str(gate)!r}).exists(): sys.exit(3)\n"
        "doc = json.load(sys.stdin)\n"
        f"d = pathlib.Path({str(out)!r}); d.mkdir(exist_ok=True)\n"
        "name = doc['event'] + '-' + str(len(list(d.iterdir()))) + '.json'\n"
        "(d / name).write_text(json.dumps(doc))\n"
    )
    project.configure(notify={"command": [sys.executable, "-c", script], "events": ["escalated"]})
    assert run_doit(project).returncode != 0
    pending = sorted((project.logs / "notify" / "pending").glob("*.json"))
    assert [p.name for p in pending] == [
        f"escalated-E-{load_project(project.root).digest('E')[:16]}.json"
    ]
    assert not out.exists()
    gate.touch()
    assert run_doit(project).returncode != 0  # still escalated: no step of E runs
    sent = notifications(out)
    assert [(n["event"], n["taskspec_id"]) for n in sent] == [("escalated", "E")]
    assert not list((project.logs / "notify" / "pending").glob("*.json"))
    assert run_doit(project).returncode != 0
    assert len(notifications(out)) == 1, "sent once"


def test_a_big_plan_lists_only_what_asks_for_attention(project: HatchProject) -> None:
    """Over 60 TaskSpecs, the table keeps a row per FeatSpec and lists only TaskSpecs that are
    neither done nor pending; --all and --json list every one."""
    for n in range(61):
        project.add_taskspec(f"BIG-{n:02d}", max_attempts=1)
    escalated = project.layout.escalated("BIG-07")
    escalated.parent.mkdir(parents=True)
    digest = load_project(project.root).digest("BIG-07")
    record = {"taskspec_id": "BIG-07", "digest": digest, "attempts": 1, "reasons": ["r"]}
    escalated.write_text(json.dumps(record), encoding="utf-8")

    table = hatchdoit(project, "status")
    assert table.returncode == 0, table.stderr
    listed = re.findall(r"BIG-\d\d", table.stdout)
    assert listed == ["BIG-07"], table.stdout
    assert "60 pending TaskSpec(s) not listed (hatchdoit status --all lists them)" in table.stdout
    assert project.featspec in table.stdout

    every = hatchdoit(project, "status", "--all")
    assert len(set(re.findall(r"BIG-\d\d", every.stdout))) == 61
    assert "not listed" not in every.stdout
    assert len(status_json(project)["taskspecs"]) == 61  # type: ignore[arg-type]

    # One done, the rest pending: the FeatSpec is in progress and keeps its row, with no
    # TaskSpec listed, so the table has the FeatSpec columns only.
    escalated.unlink()
    done = project.layout.done("BIG-03")
    done.parent.mkdir(parents=True)
    done.write_text(
        json.dumps(
            {
                "taskspec_id": "BIG-03",
                "digest": load_project(project.root).digest("BIG-03"),
                "attempt": 1,
                "branch": "taskspec/BIG-03",
                "commit": "0" * 40,
                "verdict": "approved",
            }
        ),
        encoding="utf-8",
    )
    table = hatchdoit(project, "status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert re.fullmatch(r" FeatSpec +state +title *", lines[2]), table.stdout
    assert re.search(rf"^ {project.featspec} +in_progress +.* 1/61 done", table.stdout, re.M)
    assert not re.findall(r"BIG-\d\d", table.stdout)
    assert "1 done and 60 pending TaskSpec(s) not listed (hatchdoit" in table.stdout

    # Nothing moving and nothing asking: no table, the note counts the FeatSpec too.
    done.unlink()
    table = hatchdoit(project, "status")
    assert table.returncode == 0, table.stderr
    assert " FeatSpec " not in table.stdout and project.featspec not in table.stdout
    note = "61 pending TaskSpec(s); 1 pending FeatSpec(s) not listed (hatchdoit status --all"
    assert note in " ".join(table.stdout.split()), table.stdout
    every = hatchdoit(project, "status", "--all")
    assert project.featspec in every.stdout and "not listed" not in every.stdout
