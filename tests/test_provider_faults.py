"""Provider faults of the real CLIs (Claude Code 2.1.330, headless and interactive; Codex
0.171.0), offline against the stand-ins failing on purpose (tests/fake_faults.py), through a
whole build: a rate or usage limit pauses the TaskSpec and the same attempt reaches done after
it, with its attempt counter unchanged; a bad key ends the build in seconds with one line and
no attempt counted, and the next build after the fix completes; a budget cap stops an agent
and escalates with cause `budget`. Signals: docs/provider-signals.md."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from claude_code_cli import pinned_claude_code, use_claude
from codex_cli import pinned_codex, use_codex_cli
from conftest import events, read_audit, run_doit
from daily_use import hatchdoit
from fake_anthropic import FakeAnthropic
from fake_openai import FakeOpenAI
from projects import HatchProject, module_body
from provider_builds import quick, stamp

from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.records.models import DoneRecord, EscalatedRecord, ProviderState, StopRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "T001-PROVIDER"


@pytest.fixture(scope="module")
def claude_bin() -> Path:
    return pinned_claude_code()


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    return pinned_codex()


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(max_requests=300, lifetime=240) as fake:
        fake.faults.scope = "main"  # a CLI's side requests (titles, quota) are not counted
        yield fake


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(max_requests=200, lifetime=240) as fake:
        yield fake


def one_taskspec(project: HatchProject) -> None:
    project.add_taskspec(TID, module_body("greet", "greet", "hello"), max_attempts=1)


def assert_paused_then_done(project: HatchProject, fault: str) -> dict[str, object]:
    built = run_doit(project, timeout=180)
    assert built.returncode == 0, built.stdout + built.stderr
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    faults = events(project, "provider_fault", role="factory")
    assert faults and faults[0]["fault_class"] == fault, faults
    assert events(project, "resumed", role="factory")
    assert not project.layout.paused(TID).exists()
    assert not project.layout.escalated(TID).exists()
    return faults[0]


@pytest.mark.parametrize("profile", ["claude-code-headless", "claude-code"])
def test_claude_rate_limit_pauses_and_the_attempt_resumes_its_session(
    project: HatchProject, anthropic: FakeAnthropic, claude_bin: Path, profile: str
) -> None:
    use_claude(project, anthropic, claude_bin, profile)  # CLAUDE_CODE_MAX_RETRIES=0
    quick(project, max_wait=3)
    anthropic.faults.add("rate_limit", 1, retry_after=1)
    one_taskspec(project)
    assert_paused_then_done(project, "rate_limited")
    launches = events(project, "launch", role="factory")
    assert len(launches) == 2 and {e["attempt"] for e in launches} == {1}


@pytest.mark.parametrize("profile", ["claude-code-headless", "claude-code"])
def test_claude_subscription_usage_limit_waits_for_its_reset(
    project: HatchProject, anthropic: FakeAnthropic, claude_bin: Path, profile: str
) -> None:
    """A claude.ai plan's limit: the stream's rate_limit_event (print mode) or the transcript's
    API error entry (the TUI, whose StopFailure text names only the minute) gives the reset to
    the second; hatchdoit waits for it (a few seconds here) instead of Claude Code's own
    retries or the attempt's failure."""
    use_claude(project, anthropic, claude_bin, profile)
    project.env.pop("ANTHROPIC_API_KEY")
    project.env["CLAUDE_CODE_OAUTH_TOKEN"] = "sk-ant-oat01-fake-subscription-token"
    quick(project, max_wait=3)
    reset = anthropic.faults.add("usage_limit", None, reset_in=4).peek()
    assert reset is not None
    one_taskspec(project)
    fault = assert_paused_then_done(project, "usage_limit")
    assert fault["signal"] in {"hook", "stream", "result"}, fault  # structured, not the screen
    relaunch = events(project, "launch", role="factory")[1]
    assert stamp(str(relaunch["ts"])) >= reset.resets_at


def test_codex_usage_limit_pauses_and_resumes(
    project: HatchProject, openai: FakeOpenAI, codex_bin: Path
) -> None:
    use_codex_cli(project, openai, codex_bin, request_max_retries=0, stream_max_retries=0)
    quick(project, max_wait=3)
    openai.faults.add("usage_limit", None, reset_in=3)
    one_taskspec(project)
    assert_paused_then_done(project, "usage_limit")
    stream = project.layout.stream_log(TID, "factory", 1)
    threads = [e["thread_id"] for e in read_json_lines(stream) if e["type"] == "thread.started"]
    assert len(threads) >= 2 and len(set(threads)) == 1, threads  # `exec resume <thread id>`


def test_claude_bad_key_ends_the_build_in_seconds_and_the_fix_completes_it(
    project: HatchProject, anthropic: FakeAnthropic, claude_bin: Path
) -> None:
    """Claude Code's default ten retries of a 401 took three minutes; the stream's first
    api_retry with 401 (after one retry, for an OAuth refresh) ends the run."""
    use_claude(project, anthropic, claude_bin, "claude-code-headless")
    project.env.pop("CLAUDE_CODE_MAX_RETRIES")  # its own retries, as a user has them
    quick(project, max_wait=3)
    anthropic.faults.add("unauthorized", None)
    one_taskspec(project)
    started = time.monotonic()
    stopped = run_doit(project, timeout=180)
    took = time.monotonic() - started
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    lines = [x for x in stopped.stderr.splitlines() if "refused the credentials" in x]
    assert len(lines) == 1, stopped.stderr
    assert "provider anthropic refused the credentials" in lines[0]
    assert "ANTHROPIC_API_KEY" in lines[0] and "hatchdoit doctor --profile" in lines[0]
    assert not project.layout.receipt(TID, "factory", 1).exists()
    assert not project.layout.escalated(TID).exists()
    state = load_valid(project.layout.provider_state("anthropic"), ProviderState)
    assert (state.state, state.fault) == ("stopped", "auth")
    print(f"\n[provider] a bad key ended the build in {took:.1f}s")

    anthropic.faults.clear()  # the key is fixed
    again = run_doit(project, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1


def test_codex_bad_key_stops_the_build(
    project: HatchProject, openai: FakeOpenAI, codex_bin: Path
) -> None:
    use_codex_cli(project, openai, codex_bin)
    quick(project, max_wait=3)
    openai.faults.add("unauthorized", None)
    one_taskspec(project)
    stopped = run_doit(project, timeout=180)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "provider openai refused the credentials" in stopped.stderr
    assert "OPENAI_API_KEY" in stopped.stderr
    assert not project.layout.escalated(TID).exists()


def test_a_budget_cap_stops_the_agent_and_escalates_with_cause_budget(
    project: HatchProject, anthropic: FakeAnthropic, claude_bin: Path
) -> None:
    """The factory's run costs more than the TaskSpec may spend: Claude Code is given what is
    left (--max-budget-usd) and stops; the TaskSpec escalates with the reason `budget`, and a
    retry with more budget takes it to done."""
    use_claude(project, anthropic, claude_bin, "claude-code-headless")
    project.configure(budgets={"taskspec_usd": 0.01})
    project.add_taskspec(TID, module_body("greet", "greet", "hello"), max_attempts=3)
    built = run_doit(project, timeout=180)
    assert built.returncode == 1, built.stdout + built.stderr
    escalated = load_valid(project.layout.escalated(TID), EscalatedRecord)
    assert escalated.reasons[-1].startswith("budget: the TaskSpec spent $")
    assert "of its $0.01" in escalated.reasons[-1]
    assert "escalated after 1 attempt(s): budget:" in built.stderr
    assert events(project, "escalated")[-1]["cause"] == "budget"
    assert not project.layout.receipt(TID, "factory", 2).exists()  # no further attempt
    (launch,) = events(project, "launch", role="factory")
    assert launch["attempt"] == 1

    granted = hatchdoit(project, "retry", TID, "--budget-usd", "5")
    assert granted.returncode == 0, granted.stderr
    again = run_doit(project, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 2


def test_a_tui_session_over_its_attempt_budget_is_ended_while_it_works(
    project: HatchProject, claude_bin: Path
) -> None:
    """Claude Code's TUI takes no --max-budget-usd: the wait reads the session's transcript as
    it goes (tokens at budgets.prices) and ends the session once it crosses attempt_usd."""
    with FakeAnthropic(max_requests=200, lifetime=240, think_s=1.5) as slow:
        use_claude(project, slow, claude_bin, "claude-code")
        # a model the shipped price table does not name, priced high by budgets.prices
        project.configure(
            budgets={
                "attempt_usd": 0.5,
                "prices": {"claude-fake": {"input": 1000, "output": 1000}},
            },
            agent_params={"claude-code": {"model": "claude-fake"}},
        )
        project.add_taskspec(TID, module_body("greet", "greet", "hello"), max_attempts=1)
        built = run_doit(project, timeout=180)
    assert built.returncode == 1, built.stdout + built.stderr
    escalated = load_valid(project.layout.escalated(TID), EscalatedRecord)
    assert escalated.reasons[0].startswith("attempt 1: factory budget: spent $"), escalated
    assert escalated.reasons[0].endswith("over the budget of $0.50 left to it")
    stop = load_valid(project.layout.stop_file(TID, "factory", 1), StopRecord)
    assert stop.event == "budget", stop
    assert not project.layout.summary(TID, 1).exists()  # ended before it finished its work


@pytest.mark.slow  # 16 TaskSpecs of real Claude Code runs; the scripted twin is in the default run
def test_sixteen_claude_code_taskspecs_at_one_usage_limit_send_one_probe(
    project: HatchProject, claude_bin: Path
) -> None:
    """test_provider_pause's breaker test with the real CLI's signals: four sessions hit the
    limit, no launch while it holds, then one probe, and every TaskSpec is done at attempt 1."""
    with FakeAnthropic(max_requests=2000, lifetime=600) as fake:
        fake.faults.scope = "main"
        use_claude(project, fake, claude_bin, "claude-code-headless")
        project.env.pop("ANTHROPIC_API_KEY")
        project.env["CLAUDE_CODE_OAUTH_TOKEN"] = "sk-ant-oat01-fake-subscription-token"
        quick(project, max_wait=3)
        project.configure(limits={"parallel_sessions": 4})
        tids = [f"T-MANY-{n:02d}" for n in range(16)]
        for n, tid in enumerate(tids):
            project.add_taskspec(tid, module_body(f"m{n}", f"f{n}", str(n)), max_attempts=1)
        reset = fake.faults.add("usage_limit", None, reset_in=6).peek()
        assert reset is not None
        built = run_doit(project, "-n", "4", timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wanted = ("launch", "provider_fault", "provider_answered")
    audit = [e for e in read_audit(project) if e["event"] in wanted]  # in the order written
    first_fault = next(i for i, e in enumerate(audit) if e["event"] == "provider_fault")
    answered = next(i for i, e in enumerate(audit) if e["event"] == "provider_answered")
    while_paused = [e for e in audit[first_fault:answered] if e["event"] == "launch"]
    assert len([e for e in audit[:first_fault] if e["event"] == "launch"]) <= 4
    assert len(while_paused) == 1, while_paused  # the probe
    assert stamp(str(while_paused[0]["ts"])) >= reset.resets_at
    for tid in tids:
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 1, tid
