"""The breaker's races between doit workers (provider_runs/gate.py), as plain functions and
real processes on a temp layout: a launch that passed the gate just before another run opened
the breaker; the late fault of a run launched before the breaker opened; the probe's answer on
record before anyone else launches; many workers racing for the one probe. Each of these let a
second launch through while the provider was paused (test_provider_pause.py's sixteen-TaskSpec
build, under load)."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import events
from projects import HatchProject

from hatchdoit.config.provider_models import ProvidersConfig
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import BusyError
from hatchdoit.core.locks import exclusive
from hatchdoit.layout import Layout
from hatchdoit.project import load_project
from hatchdoit.provider_runs.gate import (
    GateTurned,
    answered,
    faulted,
    gate,
    launching,
    read_state,
)
from hatchdoit.records.models import LaunchRecord, ProviderState, StopRecord
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext
from hatchdoit.steps.stop_wait import wait_for_stop

SETTINGS = ProvidersConfig(backoff=0.05, max_wait=1, jitter=0)
LIMIT = {"class": "usage_limit", "message": "limit"}
TID = "T-PROBE"


def _past_the_wait(state: ProviderState) -> None:
    until = datetime.fromisoformat(str(state.until).replace("Z", "+00:00"))
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.01)


def test_a_launch_let_go_before_the_breaker_opened_is_held_back(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    early = gate(layout, "p", "T1")  # closed: T1 may go, but has not launched yet
    assert early.verdict == "go"
    with launching(layout, gate(layout, "p", "T2"), "T2") as episode:
        pass  # T2 launched
    faulted(layout, "p", LIMIT, SETTINGS, launched_in=episode)  # ... and hit the limit
    with pytest.raises(GateTurned), launching(layout, early, "T1"):
        pytest.fail("T1 launched on a provider whose breaker is open")
    opened = read_state(layout, "p")
    _past_the_wait(opened)
    probe = gate(layout, "p", "T1")
    assert probe.probe
    with launching(layout, probe, "T1") as probing:
        assert probing == opened.episode  # the probe launches in the breaker's episode
    with pytest.raises(GateTurned), launching(layout, early, "T1"):
        pytest.fail("a stale permit passed while another launch probes")


def test_a_late_fault_of_a_run_launched_before_the_breaker_opened_leaves_the_probe_alone(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    launched = {}
    for tid in ("A", "B"):  # both launched while the breaker was closed
        with launching(layout, gate(layout, "p", tid), tid) as episode:
            launched[tid] = episode
    opened = faulted(layout, "p", LIMIT, SETTINGS, launched_in=launched["A"])
    assert (opened.state, opened.failures) == ("open", 1)
    _past_the_wait(opened)
    probe = gate(layout, "p", "C")
    assert probe.probe
    late = faulted(layout, "p", LIMIT, SETTINGS, launched_in=launched["B"])  # B reports now
    assert (late.state, late.probe, late.failures) == ("probing", "C", 1)
    assert gate(layout, "p", "D").verdict == "wait"  # still C's probe, no second one
    answered(layout, "p")
    assert gate(layout, "p", "D").verdict == "go"
    closed = faulted(layout, "p", LIMIT, SETTINGS, launched_in=launched["B"])
    assert closed.state == "closed"  # the provider answered since B launched: old news


def test_a_fault_of_the_probe_itself_opens_the_breaker_again(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    faulted(layout, "p", LIMIT, SETTINGS, launched_in=read_state(layout, "p").episode)
    _past_the_wait(read_state(layout, "p"))
    probe = gate(layout, "p", "C")
    with launching(layout, probe, "C") as episode:
        pass
    again = faulted(layout, "p", LIMIT, SETTINGS, launched_in=episode)
    assert (again.state, again.failures) == ("open", 2)
    stopped = faulted(layout, "p", {"class": "auth", "message": "bad key"}, SETTINGS, launched_in=0)
    assert stopped.state == "stopped"  # a refused credential stops it, however old the run


def test_the_probes_answer_is_on_record_before_the_gate_lets_anyone_go(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    faulted(layout, "p", LIMIT, SETTINGS, launched_in=0)
    _past_the_wait(read_state(layout, "p"))
    assert gate(layout, "p", "C").probe
    seen: list[str] = []

    def say() -> None:  # the audit line: written while no other worker can pass the gate
        seen.append(read_state(layout, "p").state)
        with pytest.raises(BusyError), exclusive(layout.locks / "provider-p.lock", "p"):
            pass

    answered(layout, "p", said=say)
    assert seen == ["closed"]
    assert gate(layout, "p", "D").verdict == "go"


def _race(root: str, tid: str, start: float) -> tuple[str, bool]:
    time.sleep(max(0.0, start - time.time()))
    opened = gate(Layout(Path(root)), "p", tid)
    return opened.verdict, opened.probe


def test_workers_racing_for_the_probe_send_one(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    faulted(layout, "p", LIMIT, SETTINGS, launched_in=0)
    _past_the_wait(read_state(layout, "p"))
    start = time.time() + 0.3  # every worker asks at the same moment
    with multiprocessing.get_context("fork").Pool(6) as pool:
        answers = pool.starmap(_race, [(str(tmp_path), f"T{n}", start) for n in range(6)])
    assert sorted(answers) == [("go", True)] + [("wait", False)] * 5


def test_a_probe_that_stopped_normally_answered_even_when_the_stop_is_seen_first(
    project: HatchProject,
) -> None:
    """The scripted provider marks the run healthy and the stop follows in milliseconds; a
    busy worker may see both at once. The stop is taken, and the probe answered: else the
    breaker stays probing for a live worker and the next launch of that TaskSpec probes again."""
    project.add_taskspec(TID, test_command="true")
    ctx = StepContext(load_project(project.root), TID)
    ctx.worktree.mkdir(parents=True)
    launch = LaunchRecord(
        taskspec_id=TID,
        role="factory",
        attempt=1,
        run_token="tok-probe",
        digest=ctx.digest,
        session="no-such-session",
        profile="scripted",
        socket=project.socket,
        prompt_file="_logs/factory/prompt.md",
    )
    run = AgentRun(ctx, "factory", 1, launch, ctx.tmux())
    faulted(ctx.layout, "p", LIMIT, SETTINGS, launched_in=0)
    _past_the_wait(read_state(ctx.layout, "p"))
    assert gate(ctx.layout, "p", TID).probe
    run.probe_for = "p"
    run.marker("healthy").parent.mkdir(parents=True, exist_ok=True)
    run.marker("healthy").touch()
    stop = StopRecord(
        run_token="tok-probe", taskspec_id=TID, role="factory", attempt=1, event="stop",
        source="hook", seq=1, reason="done",
    )  # fmt: skip
    write_json_atomic(run.stop_file, stop.model_dump(mode="json"))
    assert wait_for_stop(run).seq == 1
    assert read_state(ctx.layout, "p").state == "closed"
    assert events(project, "provider_answered", provider="p")
