"""Measure what the pinned CLIs emit when their API fails: each failure mode of
tests/fake_faults.py against the real Claude Code (`claude -p --output-format stream-json
--verbose`) and Codex (`codex exec --json`), with their default retry settings, offline.

    python3 tests/measure_provider_signals.py [--out DIR] [--timeout S] [MODE ...]

MODE is a name from MODES (default: all; a prefix such as `claude-` selects several). Each run
is saved as DIR/MODE.json (every event with the second it arrived, exit code, requests the
stand-in saw, hook payloads) and summed up in one Markdown table row on stdout; the findings are
written up by hand in docs/provider-signals.md. A full run takes about half an hour (Claude Code
retries a 401, a 5xx or a dropped connection ten times, for minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from claude_code_cli import pinned_claude_code
from codex_cli import pinned_codex
from fake_anthropic import FakeAnthropic
from fake_faults import FaultPlan
from fake_openai import FakeOpenAI
from provider_runs import Outcome, run_claude, run_codex


@dataclass(frozen=True)
class Mode:
    cli: str  # claude | codex
    faults: str  # a FaultPlan spec
    auth: str = "key"  # claude: key | gateway | oauth
    reset_in: float = 5.0
    retry_after: int | None = None
    note: str = ""


MODES = {
    "claude-401": Mode("claude", "unauthorized"),
    "claude-429": Mode("claude", "rate_limit", note="retry-after: 1"),
    "claude-429-then-ok": Mode("claude", "rate_limit:2", note="2 refusals, then answers"),
    "claude-529": Mode("claude", "overloaded"),
    "claude-500": Mode("claude", "server_error"),
    "claude-billing": Mode("claude", "billing"),
    "claude-disconnect": Mode("claude", "disconnect"),
    "claude-stream-cut": Mode("claude", "stream_cut"),
    "claude-usage-key-5s": Mode("claude", "usage_limit", reset_in=5),
    "claude-usage-key-600s": Mode("claude", "usage_limit", reset_in=600),
    "claude-usage-gateway-5s": Mode("claude", "usage_limit", "gateway", reset_in=5),
    "claude-usage-gateway-600s": Mode("claude", "usage_limit", "gateway", reset_in=600),
    "claude-usage-oauth-5s": Mode("claude", "usage_limit", "oauth", reset_in=5),
    "claude-usage-oauth-600s": Mode("claude", "usage_limit", "oauth", reset_in=600),
    "claude-usage-oauth-5s-retry-after-600": Mode(
        "claude", "usage_limit", "oauth", reset_in=5, retry_after=600
    ),
    "codex-401": Mode("codex", "unauthorized"),
    "codex-429": Mode("codex", "rate_limit", note="retry-after: 1"),
    "codex-429-then-ok": Mode("codex", "rate_limit:2", note="2 refusals, then answers"),
    "codex-503": Mode("codex", "overloaded"),
    "codex-500": Mode("codex", "server_error"),
    "codex-billing": Mode("codex", "billing"),
    "codex-disconnect": Mode("codex", "disconnect"),
    "codex-stream-cut": Mode("codex", "stream_cut"),
    "codex-usage-5s": Mode("codex", "usage_limit", reset_in=5),
    "codex-usage-600s": Mode("codex", "usage_limit", reset_in=600),
}

QUIET = {"system/init", "thread.started", "turn.started", "system/status"}


def kind(event: dict[str, Any]) -> str:
    if event.get("type") == "system":
        return f"system/{event.get('subtype')}"
    return str(event.get("type"))


def signal_of(event: dict[str, Any]) -> str:
    """A short description of one event, with the fields a classification would read."""
    k = kind(event)
    if k == "system/api_retry":
        keys = ("attempt", "max_retries", "retry_delay_ms", "error_status", "error")
        return "api_retry " + json.dumps({key: event.get(key) for key in keys})
    if k == "rate_limit_event":
        info = event.get("rate_limit_info") or {}
        keys = ("status", "resetsAt", "rateLimitType", "overageStatus")
        return "rate_limit_event " + json.dumps({key: info.get(key) for key in keys if key in info})
    if k == "assistant" and event.get("error"):
        keys = ("error", "api_error_status", "api_error", "api_error_type")
        fields = {key: event.get(key) for key in keys if key in event}
        text = "".join(b.get("text", "") for b in event["message"].get("content", []))
        return f"assistant {json.dumps(fields)} text={text!r}"
    if k == "result":
        keys = ("is_error", "subtype", "api_error_status", "api_error", "terminal_reason")
        fields = {key: event.get(key) for key in keys if key in event}
        return f"result {json.dumps(fields)} result={str(event.get('result'))[:160]!r}"
    if k in ("error", "turn.failed"):
        error = event.get("error")
        message = error.get("message") if isinstance(error, dict) else event.get("message")
        return f"{k} {str(message)[:220]!r}"
    if k == "turn.completed":
        return f"turn.completed usage={json.dumps(event.get('usage'))}"
    return k


FAILURE = {"system/api_retry", "rate_limit_event", "result", "error", "turn.failed"}


def is_failure(event: dict[str, Any]) -> bool:
    k = kind(event)
    failed_result = k == "result" and bool(event.get("is_error"))
    return (k in FAILURE and k != "result") or failed_result or bool(event.get("error"))


def row(record: dict[str, Any]) -> str:
    """The Markdown table row of one saved run."""
    events = record["events"]
    failures = [e for e in events if is_failure(e) and kind(e) != "assistant"]
    first = f"{failures[0]['t']:.2f}s {signal_of(failures[0])}" if failures else "-"
    last = f"{events[-1]['t']:.2f}s {signal_of(events[-1])}" if events else "-"
    counts: dict[str, int] = {}
    for e in failures:
        counts[kind(e)] = counts.get(kind(e), 0) + 1
    statuses = sorted({r["status"] for r in record["requests"]})
    code = record["exit_code"]
    cells = [
        record["mode"]["name"],
        first,
        ", ".join(f"{k} x{n}" for k, n in counts.items()) or "-",
        last,
        f"{record['elapsed']:.1f}s",
        str(code if code is not None else f"stopped ({record['stopped']})"),
        f"{len(record['requests'])} {statuses}",
        ",".join(str(h.get("hook_event_name")) for h in record["hooks"]) or "-",
    ]
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


HEADER = (
    "| mode | first failure signal | failure events | last event | until exit | exit |"
    " requests (statuses) | hooks fired |\n|---|---|---|---|---|---|---|---|"
)


def measure(name: str, mode: Mode, work: Path, timeout: float) -> Outcome:
    plan = FaultPlan.parse(mode.faults, reset_in=mode.reset_in, retry_after=mode.retry_after)
    if mode.cli == "claude":
        with FakeAnthropic(faults=plan, lifetime=timeout + 60) as fake:
            return run_claude(pinned_claude_code(), fake, work, auth=mode.auth, timeout=timeout)
    with FakeOpenAI(faults=plan, lifetime=timeout + 60) as served:
        return run_codex(pinned_codex(), served, work, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="*", help="mode names or prefixes (default: all)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "signals")
    parser.add_argument("--timeout", type=float, default=400.0)
    parser.add_argument("--report", action="store_true", help="only print DIR's saved runs")
    args = parser.parse_args(argv)
    chosen = [n for n in MODES if not args.modes or any(n.startswith(m) for m in args.modes)]
    args.out.mkdir(parents=True, exist_ok=True)
    print(HEADER)
    for name in chosen:
        if args.report:
            saved = args.out / f"{name}.json"
            if saved.exists():
                print(row(json.loads(saved.read_text())))
            continue
        mode = MODES[name]
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as work:
            outcome = measure(name, mode, Path(work), args.timeout)
        record = {
            "mode": {"name": name, **asdict(mode)},
            "exit_code": outcome.run.exit_code,
            "stopped": outcome.run.stopped,
            "elapsed": outcome.run.elapsed,
            "events": [{"t": round(t, 3), **e} for t, e in outcome.run.events],
            "signals": [
                {"t": round(t, 3), "signal": signal_of(e)}
                for t, e in outcome.run.events
                if kind(e) not in QUIET
            ],
            "requests": [asdict(s) for s in outcome.requests],
            "hooks": outcome.hooks,
            "stderr": outcome.run.stderr[-4000:],
            "other_lines": outcome.run.other_lines[-50:],
        }
        (args.out / f"{name}.json").write_text(json.dumps(record, indent=1, default=str))
        print(row(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
