"""Make every TaskSpec of a project "done" without running 1000 agents: write the artifacts a
successful first attempt leaves, through hatchdoit's own records, layout, digests and
`write_receipt`, then confirm with hatchdoit's own progress that each one reads as done.

Worktrees are plain directories (the up-to-date checks look for the directory, not its git
state), and commits are a fixed hash: nothing in a no-op build, `doit list` or
`hatchdoit status` opens them.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hatchdoit.agents.tmux import session_name
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.layout import Layout, Role
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.project import Project, load_project
from hatchdoit.records.models import (
    ChecksRecord,
    DoneRecord,
    LaunchRecord,
    LocAnalysis,
    LocCount,
    StopRecord,
    SummaryRecord,
    TestResults,
    TestRun,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.records.receipts import write_receipt

COMMIT = "0" * 40
ATTEMPT = 1


def _agent_run(layout: Layout, project: Project, tid: str, role: Role, digest: str) -> str:
    """Launch record and hook stop of one agent run; returns its run token."""
    token = f"{digest[:12]}-{secrets.token_hex(8)}"
    launch = LaunchRecord(
        taskspec_id=tid,
        role=role,
        attempt=ATTEMPT,
        run_token=token,
        digest=digest,
        session=session_name(layout.tag, tid, role, ATTEMPT),
        profile=project.profile_name(tid, role),
        socket=project.config.tmux_socket,
        prompt_file=layout.rel(layout.prompt(tid, role, ATTEMPT)),
    )
    write_json_atomic(layout.launch_record(tid, role, ATTEMPT), launch.model_dump(mode="json"))
    stop = StopRecord(
        run_token=token,
        taskspec_id=tid,
        role=role,
        attempt=ATTEMPT,
        event="stop",
        source="hook",
    )
    write_json_atomic(layout.stop_file(tid, role, ATTEMPT), stop.model_dump(mode="json"))
    return token


def write_done(project: Project, tid: str) -> None:
    """The artifacts and receipts of a TaskSpec approved at its first attempt, each with the
    digest its step records (its dependencies' done.json must exist already)."""
    layout, spec = project.layout, project.taskspec(tid)
    base = project.base_digest(tid)
    digest = project.attempt_digest(tid, ATTEMPT)
    layout.worktree(tid).mkdir(parents=True, exist_ok=True)
    worktree = WorktreeRecord(
        taskspec_id=tid,
        path=layout.rel(layout.worktree(tid)),
        branch=f"taskspec/{tid}",
        base_ref="main",
        base_commit=COMMIT,
        merged_dependencies=[f"taskspec/{dep}" for dep in spec.depends_on],
    )
    write_json_atomic(layout.worktree_record(tid), worktree.model_dump(mode="json"))
    write_receipt(
        layout,
        tid,
        "worktree",
        0,
        digest=base,
        outcome="ok",
        artifact=layout.worktree_record(tid),
    )

    token = _agent_run(layout, project, tid, "factory", digest)
    write_receipt(
        layout,
        tid,
        "factory",
        ATTEMPT,
        digest=digest,
        outcome="ok",
        artifact=layout.stop_file(tid, "factory", ATTEMPT),
        token=token,
        data={
            "event": "stop",
            "seq": 1,
            "session": session_name(layout.tag, tid, "factory", ATTEMPT),
        },
    )

    summary = SummaryRecord(
        taskspec_id=tid,
        agent_type="factory",
        iteration=ATTEMPT,
        status="completed",
        implementation_files=["src/app/module.py"],
        test_results=TestResults(passed=1, failed=0),
        loc_analysis=LocAnalysis(actual=10, cap=spec.loc_cap),
        next_steps=[],
        handover_notes="written by the benchmark's done-state generator",
    )
    write_json_atomic(layout.summary(tid, ATTEMPT), summary.model_dump(mode="json"))
    write_receipt(
        layout,
        tid,
        "summary",
        ATTEMPT,
        digest=digest,
        outcome="ok",
        artifact=layout.summary(tid, ATTEMPT),
        data={"injections": 0, "commit": COMMIT, "committed_for_agent": []},
    )

    checks = ChecksRecord(
        taskspec_id=tid,
        attempt=ATTEMPT,
        tests=TestRun(
            command=list(spec.test_command),
            exit_code=0,
            duration_s=0.001,
            log=layout.rel(layout.checks_log(tid, ATTEMPT)),
        ),
        loc=LocCount(base_commit=COMMIT, added=10, removed=0, cap=spec.loc_cap, files=[]),
        passed=True,
    )
    write_json_atomic(layout.checks(tid, ATTEMPT), checks.model_dump(mode="json"))
    write_receipt(
        layout,
        tid,
        "checks",
        ATTEMPT,
        digest=digest,
        outcome="ok",
        artifact=layout.checks(tid, ATTEMPT),
    )

    _agent_run(layout, project, tid, "qa", digest)
    verdict = VerdictRecord(taskspec_id=tid, attempt=ATTEMPT, verdict="approved")
    write_json_atomic(layout.verdict(tid, ATTEMPT), verdict.model_dump(mode="json"))
    write_receipt(
        layout,
        tid,
        "qa",
        ATTEMPT,
        digest=digest,
        outcome="ok",
        artifact=layout.verdict(tid, ATTEMPT),
        data={"decision": "approved", "feedback": "", "fault": False},
    )

    done = DoneRecord(
        taskspec_id=tid,
        digest=project.digest(tid),
        attempt=ATTEMPT,
        branch=f"taskspec/{tid}",
        commit=COMMIT,
        verdict=layout.rel(layout.verdict(tid, ATTEMPT)),
    )
    write_json_atomic(layout.done(tid), done.model_dump(mode="json"))


def write_all_done(root: Path) -> int:
    """Write the done state of every TaskSpec at `root`; returns how many, all checked done.
    A level at a time: a dependent's digests hold its dependencies' approved commits."""
    project = load_project(root)
    written: set[str] = set()
    tids = list(project.plan.taskspecs)
    with ThreadPoolExecutor(max_workers=8) as pool:  # fsync-bound: threads overlap the waits
        while len(written) < len(tids):
            level = [
                t
                for t in tids
                if t not in written and set(project.taskspec(t).depends_on) <= written
            ]
            project.refresh()
            for tid in level:  # compute the digests here: the memo is not for threads
                project.digest(tid)
                project.attempt_digest(tid, ATTEMPT)
            list(pool.map(lambda tid: write_done(project, tid), level))
            written.update(level)
    project.refresh()
    not_done = [tid for tid in tids if taskspec_progress(project, tid).get("status") != "done"]
    if not_done:
        raise RuntimeError(f"{len(not_done)} TaskSpec(s) do not read as done, e.g. {not_done[0]}")
    return len(tids)
