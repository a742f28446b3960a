"""A provider that fails pauses the build instead of burning attempts (README "When the provider
fails"), shown with the bundled scripted agent, whose provider is a file the test writes
(SCRIPTED_PROVIDER, scripted_provider.py) and which reports its faults through the generic
stop-failure contract (`kind`, `resets_at`): the same path any CLI's hook takes. The real CLIs'
own signals are in test_provider_faults.py. Real doit, tmux, git."""

from __future__ import annotations

import json
import time

import pytest
from conftest import events, read_audit, run_doit
from daily_use import hatchdoit
from projects import HatchProject
from provider_builds import provider, quick, stamp

from hatchdoit.core.errors import EXIT_PAUSED, EXIT_PROVIDER
from hatchdoit.records.models import DoneRecord, PausedRecord, ProviderState
from hatchdoit.records.schemas import load_valid, try_load

pytestmark = pytest.mark.integration

TID = "T-PROV-1"


def test_a_usage_limit_pauses_and_the_same_attempt_resumes_after_the_reset(
    project: HatchProject,
) -> None:
    quick(project)
    limit = provider(project, kind="usage_limit", for_s=3, message="You've hit your limit")
    project.add_taskspec(TID, max_attempts=1)
    built = run_doit(project, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    reset = json.loads(limit.read_text())["until"]  # 3 s after the first prompt
    done = load_valid(project.layout.done(TID), DoneRecord)
    assert done.attempt == 1  # the paused attempt did not count
    (fault,) = events(project, "provider_fault")
    assert (fault["fault_class"], fault["provider"], fault["role"]) == (
        "usage_limit",
        "scripted",
        "factory",
    )
    (resumed,) = events(project, "resumed", role="factory")
    assert resumed["paused_s"] > 0
    launches = events(project, "launch", role="factory")
    assert len(launches) == 2 and {e["attempt"] for e in launches} == {1}
    assert stamp(launches[1]["ts"]) >= reset  # the relaunch came after the reset
    assert not project.layout.paused(TID).exists()
    aside = project.layout.hooks_dir(TID) / "factory-1.paused-1.stop"
    assert json.loads(aside.read_text())["payload"]["provider_fault"]["class"] == "usage_limit"
    assert "paused until" in built.stderr
    state = try_load(project.layout.provider_state("scripted"), ProviderState)
    assert state is not None and state.state == "closed"
    assert not project.layout.escalated(TID).exists()


def test_a_bad_key_stops_the_build_at_once_and_the_next_build_after_the_fix_goes_on(
    project: HatchProject,
) -> None:
    quick(project)
    state = provider(project, kind="auth", message="Invalid API key · Fix external API key")
    project.add_taskspec(TID, max_attempts=2)
    project.add_taskspec("T-PROV-2", max_attempts=2)
    started = time.monotonic()
    stopped = run_doit(project, "-n", "2", timeout=120)
    took = time.monotonic() - started
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    lines = [line for line in stopped.stderr.splitlines() if line.startswith("hatchdoit: ")]
    refused = [line for line in lines if "refused the credentials" in line]
    assert refused, stopped.stderr
    assert "provider scripted refused the credentials: Invalid API key" in refused[0]
    assert "(fix: check the credentials profile scripted passes" in refused[0]
    assert "the attempt was not counted" in refused[0]
    for tid in (TID, "T-PROV-2"):  # no attempt counted, nothing escalated
        assert not project.layout.receipt(tid, "factory", 1).exists(), tid
        assert not project.layout.escalated(tid).exists(), tid
    breaker = load_valid(project.layout.provider_state("scripted"), ProviderState)
    assert (breaker.state, breaker.fault) == ("stopped", "auth")
    print(f"\n[provider] a bad key stopped the build in {took:.1f}s")

    state.unlink()  # the key is fixed
    again = run_doit(project, "-n", "2", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    for tid in (TID, "T-PROV-2"):
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 1


def test_sixteen_taskspecs_on_one_limited_provider_send_one_probe(project: HatchProject) -> None:
    """Four sessions hit the limit at once and open the breaker; nothing else launches while it
    is open; at the reset one launch probes, and the rest follow once it answered."""
    quick(project)
    project.configure(limits={"parallel_sessions": 4})
    limit = provider(project, kind="usage_limit", for_s=3, message="5-hour limit reached")
    tids = [f"T-MANY-{n:02d}" for n in range(16)]
    for tid in tids:
        project.add_taskspec(tid, max_attempts=1)
    built = run_doit(project, "-n", "4", timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    reset = json.loads(limit.read_text())["until"]  # 3 s after the first prompt, however late
    audit = [
        e
        for e in read_audit(project)
        if e["event"] in ("launch", "provider_fault", "provider_answered")
    ]
    first_fault = next(i for i, e in enumerate(audit) if e["event"] == "provider_fault")
    answered = next(i for i, e in enumerate(audit) if e["event"] == "provider_answered")
    # the sessions there were slots for: a launch that passed the gate just before the first
    # fault opened the breaker may be recorded just after it, but long before the reset
    early = [e for e in audit[:answered] if e["event"] == "launch" and stamp(e["ts"]) < reset]
    while_paused = [
        e for e in audit[first_fault:answered] if e["event"] == "launch" and e not in early
    ]
    assert len(early) <= 4, early
    assert len(while_paused) == 1, while_paused  # the probe
    assert stamp(while_paused[0]["ts"]) >= reset
    for tid in tids:
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 1, tid


def test_ci_ends_with_exit_5_when_a_provider_refuses_the_credentials(project: HatchProject) -> None:
    quick(project)
    provider(project, kind="auth", message="Invalid API key")
    project.add_taskspec(TID)
    done = hatchdoit(project, "ci", timeout=180)
    assert done.returncode == EXIT_PROVIDER, done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if "provider scripted stopped" in line]
    assert said == [
        "hatchdoit ci: provider scripted stopped: auth: Invalid API key (fix: check the "
        "credentials profile scripted passes; `hatchdoit doctor --profile scripted`, then rerun "
        "doit: the attempt was not counted)"
    ]
    assert not project.layout.escalated(TID).exists()


def test_ci_ends_with_exit_6_and_the_resume_time_when_the_pause_is_long(
    project: HatchProject,
) -> None:
    quick(project)
    project.configure(providers={"ci_max_wait": 5})
    reset = time.time() + 3600
    provider(project, kind="usage_limit", until=reset, message="You've hit your limit")
    project.add_taskspec(TID)
    done = hatchdoit(project, "ci", timeout=180)  # not the hour
    assert done.returncode == EXIT_PAUSED, done.stdout + done.stderr
    paused = load_valid(project.layout.paused(TID), PausedRecord)
    assert paused.fault == "usage_limit" and paused.resume_at is not None
    assert stamp(paused.resume_at) >= reset
    line = next(x for x in done.stdout.splitlines() if f"{TID} paused" in x)
    assert f"until {paused.resume_at}: run hatchdoit ci again after that" in line
    assert not project.layout.escalated(TID).exists()
