"""Spend that was counted as $0 (providers/spend.py, provider_runs/live_spend.py,
agents/transcript.py, agents/codex_rollout.py, providers/price_table.py): interactive Claude Code's
tokens at the dated price table hatchdoit ships (budgets.prices over it), model by model; a
transcript of any size, read from where the last read ended; a Codex run's spend while it goes, from
its rollout file; and `hatchdoit validate` / `doctor` saying when a budget cannot see a profile's
spend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit.agents.codex_rollout import RolloutTally, codex_usage, rollout_model
from hatchdoit.agents.transcript import TranscriptTally, transcript_usage
from hatchdoit.config.provider_models import Prices
from hatchdoit.project import load_project
from hatchdoit.provider_runs.live_spend import RunSpend
from hatchdoit.providers.price_table import PRICES_CHECKED, SHIPPED, price_key, price_of
from hatchdoit.providers.spend import payload_usd
from hatchdoit.records.models import LaunchRecord
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext

SONNET = "claude-sonnet-4-5-20250929"


def assistant(mid: str, model: str, **usage: Any) -> str:
    return json.dumps({"type": "assistant", "message": {"id": mid, "model": model, "usage": usage}})


def test_interactive_claude_code_is_priced_from_the_shipped_table(tmp_path: Path) -> None:
    """Its transcript names tokens and a model, no cost: without budgets.prices the spend was
    unknown (counted $0); now the table prices it, cache writes kept an hour at their price."""
    transcript = tmp_path / "t.jsonl"
    usage = {
        "input_tokens": 1000,
        "output_tokens": 2000,
        "cache_read_input_tokens": 100_000,
        "cache_creation_input_tokens": 10_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 4000, "ephemeral_1h_input_tokens": 6000},
    }
    transcript.write_text(assistant("m1", SONNET, **usage) + "\n")
    payload = transcript_usage(transcript)
    expected = (1000 * 3 + 2000 * 15 + 100_000 * 0.30 + 4000 * 3.75 + 6000 * 6) / 1e6
    assert payload_usd(payload, {}) == pytest.approx(expected)
    mine = {"claude-sonnet-4-5": Prices(input=1, output=1)}  # budgets.prices wins
    assert payload_usd(payload, mine) == pytest.approx((1000 + 2000 + 100_000 + 10_000) / 1e6)
    anything = {"*": Prices(input=100, output=100)}  # `*` prices only what the table does not
    assert payload_usd(payload, anything) == pytest.approx(expected)
    assert payload_usd({**payload, "model": "claude-unknown-9"}, {}) is None
    assert payload_usd({**payload, "model": "claude-unknown-9"}, anything) == pytest.approx(
        (1000 + 2000 + 100_000 + 10_000) * 100 / 1e6
    )


def test_model_ids_of_each_vendor_find_their_price() -> None:
    for model, key in (
        (SONNET, "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-opus-5-5[1m]", "claude-opus-5-5"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("gpt-5.6-terra", "gpt-5.6-terra"),
    ):
        assert price_key(model) == key and key in SHIPPED, model
    assert price_of("gpt-5.1-codex-mini", {}) == SHIPPED["gpt-5.1-codex-mini"]
    assert price_of("claude-opus-4-9", {}) is None  # not guessed from a neighbour
    assert PRICES_CHECKED[:4] == "2026"


def test_runs_of_several_models_are_priced_model_by_model(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    lines = [
        assistant("m1", "claude-opus-4-5-20251101", input_tokens=1000, output_tokens=100),
        assistant("m2", "claude-haiku-4-5-20251001", input_tokens=1000, output_tokens=100),
    ]
    transcript.write_text("\n".join(lines) + "\n")
    payload = transcript_usage(transcript)
    assert payload_usd(payload, {}) == pytest.approx((5000 + 2500 + 1000 + 500) / 1e6)
    lines.append(assistant("m3", "claude-nobody-1", input_tokens=1, output_tokens=1))
    transcript.write_text("\n".join(lines) + "\n")
    assert payload_usd(transcript_usage(transcript), {}) is None  # one model unknown: unknown


def test_a_transcript_over_64_mib_counts(tmp_path: Path) -> None:
    transcript = tmp_path / "big.jsonl"
    filler = json.dumps({"type": "user", "message": {"content": "x" * (65 * 1024 * 1024)}})
    with transcript.open("w") as out:
        out.write(assistant("m1", SONNET, input_tokens=10, output_tokens=5) + "\n")
        out.write(filler + "\n")
        out.write(assistant("m2", SONNET, input_tokens=20, output_tokens=5) + "\n")
    found = transcript_usage(transcript)
    assert found["usage"]["input_tokens"] == 30 and found["num_turns"] == 2


def test_a_transcript_is_read_from_where_the_last_read_ended(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    first = assistant("m1", SONNET, input_tokens=10, output_tokens=1)
    transcript.write_text(first + "\n")
    tally = TranscriptTally(transcript)
    assert tally.read()["usage"]["input_tokens"] == 10
    later = assistant("m2", SONNET, input_tokens=5, output_tokens=1)
    with transcript.open("r+") as out:
        out.write(" " * len(first))  # what was read is not read again ...
        out.seek(0, 2)
        out.write(later[:20])  # ... and a line still being written waits for its end
    assert tally.read()["usage"]["input_tokens"] == 10
    with transcript.open("a") as out:
        out.write(later[20:] + "\n")
    found = tally.read()
    assert found["usage"]["input_tokens"] == 15 and found["num_turns"] == 2


ROLLOUT = [
    {"type": "session_meta", "payload": {"id": "th-1"}},
    {"type": "turn_context", "payload": {"model": "gpt-5.1-codex", "cwd": "/w"}},
    {
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {
                "total_token_usage": {
                    "input_tokens": 600_000,
                    "cached_input_tokens": 400_000,
                    "output_tokens": 50_000,
                    "reasoning_output_tokens": 20_000,
                }
            },
        },
    },
]
CODEX_USD = (200_000 * 1.25 + 400_000 * 0.125 + 50_000 * 10) / 1e6  # fresh input: 600k - 400k


def test_codex_counts_cached_input_inside_input_and_its_rollout_has_the_model(
    tmp_path: Path,
) -> None:
    assert codex_usage({"input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 80}) == {
        "input_tokens": 1000,
        "output_tokens": 80,
        "cache_read_input_tokens": 200,
    }
    home = tmp_path / "codex-home"
    rollout = home / "sessions" / "2026" / "12" / "07" / "rollout-2026-12-07T07-15-05-th-1.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text("\n".join(json.dumps(e) for e in ROLLOUT) + "\n")
    found = RolloutTally(rollout).read()
    assert found["model"] == "gpt-5.1-codex"
    assert payload_usd(found, {}) == pytest.approx(CODEX_USD)
    env = {"CODEX_HOME": str(home)}  # what the headless runner puts in the stop (its price)
    assert rollout_model(env, "th-1") == "gpt-5.1-codex" and rollout_model(env, "th-2") == ""


def codex_run(project: HatchProject) -> AgentRun:
    project.configure(agents={"factory": "codex"}, budgets={"attempt_usd": 5})
    project.add_taskspec("T-SPEND", test_command="true")
    ctx = StepContext(load_project(project.root), "T-SPEND")
    launch = LaunchRecord(
        taskspec_id="T-SPEND", role="factory", attempt=1, run_token="tok", digest=ctx.digest,
        session="s", profile="codex", socket=project.socket, prompt_file="p",
    )  # fmt: skip
    return AgentRun(ctx, "factory", 1, launch, ctx.tmux())


def test_a_codex_runs_spend_is_known_while_it_runs(
    project: HatchProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`codex exec --json` says nothing of tokens before turn.completed at the run's end; the
    rollout file Codex writes after every model response does, so a cap can stop it partway."""
    home = tmp_path / "codex-home"
    monkeypatch.setenv("CODEX_HOME", str(home))
    run = codex_run(project)
    layout = run.ctx.layout
    stream = layout.stream_log("T-SPEND", "factory", 1)
    stream.parent.mkdir(parents=True, exist_ok=True)
    stream.write_text(json.dumps({"type": "thread.started", "thread_id": "th-1"}) + "\n")
    meter = RunSpend(run)
    assert meter.now() is None  # nothing written yet
    rollout = home / "sessions" / "2026" / "12" / "07" / "rollout-2026-12-07T07-15-05-th-1.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text("\n".join(json.dumps(e) for e in ROLLOUT[:2]) + "\n")
    assert meter.now() is None
    with rollout.open("a") as out:
        out.write(json.dumps(ROLLOUT[2]) + "\n")
    assert meter.now() == pytest.approx(CODEX_USD)


def test_validate_and_doctor_warn_when_a_budget_cannot_see_a_profiles_spend(
    project: HatchProject,
) -> None:
    project.add_taskspec("T-A")
    quiet = hatchdoit(project, "validate")
    assert quiet.returncode == 0 and "spend" not in quiet.stderr, quiet.stderr  # no budget
    project.configure(
        budgets={"taskspec_usd": 3},
        agents={"factory": "generic", "qa": "codex"},
        agent_params={"codex": {"model": "gpt-made-up"}},
    )
    said = hatchdoit(project, "validate")
    warnings = [line for line in said.stderr.splitlines() if line.startswith("warning: agent")]
    assert len(warnings) == 2, said.stderr
    assert "agent profile generic reports no cost or tokens hatchdoit can read" in warnings[0]
    assert "no cap can stop one partway" in warnings[0]
    assert (
        f"model gpt-made-up has no price (hatchdoit's table was checked {PRICES_CHECKED})"
        in (warnings[1])
    )
    assert "fix: add budgets.prices.gpt-made-up" in warnings[1]
    checked = hatchdoit(project, "doctor", "--json", timeout=120)
    spend = {c["name"]: c for c in json.loads(checked.stdout)["checks"] if "spend" in c["name"]}
    assert spend["spend of generic"]["status"] == "warn"
    assert spend["spend of codex"]["status"] == "warn"
    project.configure(agent_params={"codex": {"model": "gpt-5.1-codex"}})
    checked = hatchdoit(project, "doctor", "--json", timeout=120)
    codex = next(c for c in json.loads(checked.stdout)["checks"] if c["name"] == "spend of codex")
    assert codex["status"] == "ok" and "a cap can stop a run partway" in codex["detail"]


def test_a_codex_run_with_its_own_home_is_read_from_that_home(project: HatchProject) -> None:
    """hatchdoit gives each Codex run its own CODEX_HOME (agents/codex.py): the live spend reads
    the rollout there, not in hatchdoit's own CODEX_HOME."""
    run = codex_run(project)
    layout = run.ctx.layout
    stream = layout.stream_log("T-SPEND", "factory", 1)
    stream.parent.mkdir(parents=True, exist_ok=True)
    stream.write_text(json.dumps({"type": "thread.started", "thread_id": "th-1"}) + "\n")
    home = layout.session_dir("T-SPEND", "factory", 1) / "codex-home"
    rollout = home / "sessions" / "2026" / "12" / "07" / "rollout-2026-12-07T07-15-05-th-1.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text("\n".join(json.dumps(e) for e in ROLLOUT) + "\n")
    assert RunSpend(run).now() == pytest.approx(CODEX_USD)
