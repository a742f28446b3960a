"""The circuit breaker of each provider (`_logs/providers/<provider>.json`), shared by every
launch of the project, in every doit worker:

- closed: launch.
- open (a usage limit, rate limit, overload, server error or network fault): no launch before
  `until` (the reset the CLI named, plus jitter; else `providers.backoff` doubled per fault in a
  row, at most `providers.max_wait`). Sessions already working are left alone.
- probing: `until` has passed and one launch, the probe, is trying the provider; the others
  wait until it answers (the run's healthy marker, a normal stop, or `providers.probe_after`
  seconds without a fault: closed) or faults again (open, longer).
- stopped (auth, billing): no launch at all until a person fixes the account; the next build
  starts closed again (`reset_stopped` at build start).

Every change is made under the breaker's lock, so 16 TaskSpecs hitting one limit open it once
and send one probe. Three rules keep that true between doit workers that check, launch and
report at different moments:

- a launch checks the breaker again under its lock as it is recorded (`launching`): one that
  passed the gate just before another run opened the breaker waits instead;
- a fault counts only in the breaker's episode its run launched in (a compare-and-swap on
  `episode`, which counts the openings from closed): the late report of a run launched before
  the breaker opened is already accounted for, and neither reopens a probing breaker nor one
  the provider has answered since;
- the probe's answer is recorded (the audit line) under the lock that closes the breaker, so
  no launch is on record between the opening and the answer but the probe's.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from hatchdoit.config.provider_models import ProvidersConfig
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.locks import exclusive, pid_alive
from hatchdoit.layout import Layout
from hatchdoit.records.fault_classes import FaultClass
from hatchdoit.records.models import ProviderState
from hatchdoit.records.schemas import try_load

Fault = dict[str, object]


@dataclass(frozen=True)
class Gate:
    """What a launch may do now: go (`probe`: as the provider's probe), wait until `until`, or
    not at all (`stopped`)."""

    verdict: str  # go | wait | stopped
    state: ProviderState
    probe: bool = False
    until: datetime | None = None


class GateTurned(Exception):
    """The breaker changed between a launch's gate and its launch: wait at the gate again."""


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextmanager
def _locked(layout: Layout, provider: str) -> Iterator[ProviderState]:
    with exclusive(layout.locks / f"provider-{provider}.lock", f"provider {provider}", wait=True):
        path = layout.provider_state(provider)
        yield try_load(path, ProviderState) or ProviderState(provider=provider, state="closed")


def _save(layout: Layout, state: ProviderState) -> ProviderState:
    state = state.model_copy(update={"updated_at": _text(_now())})
    write_json_atomic(layout.provider_state(state.provider), state.model_dump(mode="json"))
    return state


def read_state(layout: Layout, provider: str) -> ProviderState:
    found = try_load(layout.provider_state(provider), ProviderState)
    return found or ProviderState(provider=provider, state="closed")


def gate(layout: Layout, provider: str, tid: str) -> Gate:
    """May a launch for `tid` go now? Takes the probe's place when the wait is over."""
    with _locked(layout, provider) as state:
        if state.state == "closed":
            return Gate("go", state)
        if state.state == "stopped":
            return Gate("stopped", state)
        until = _parse(state.until)
        if state.state == "open" and until is not None and _now() < until:
            return Gate("wait", state, until=until)
        if state.state == "probing" and state.probe != tid and _probe_alive(state):
            return Gate("wait", state, until=None)
        taken = state.model_copy(
            update={"state": "probing", "probe": tid, "probe_pid": os.getpid()}
        )
        return Gate("go", _save(layout, taken), probe=True)


def _probe_alive(state: ProviderState) -> bool:
    return state.probe_pid is not None and pid_alive(state.probe_pid)


@contextmanager
def launching(layout: Layout, opened: Gate, tid: str) -> Iterator[int]:
    """Record a launch the gate let go (the body: the launch record and its audit line) while
    the breaker still lets it: closed, or probing with `tid` as its probe from this process.
    Yields the episode the run launches in (for `faulted`); raises GateTurned otherwise."""
    with _locked(layout, opened.state.provider) as state:
        if opened.probe:
            mine = state.probe == tid and state.probe_pid == os.getpid()
            allowed = state.state == "probing" and mine
        else:
            allowed = state.state == "closed"
        if not allowed:
            raise GateTurned(f"provider {state.provider} is {state.state} now")
        yield state.episode


def answered(layout: Layout, provider: str, said: Callable[[], None] | None = None) -> None:
    """The provider answered a run: close the breaker (a no-op when it is closed) and, still
    under its lock, record that (`said`), before any other launch can pass the gate."""
    with _locked(layout, provider) as state:
        if state.state in ("open", "probing"):
            _save(layout, ProviderState(provider=provider, state="closed", episode=state.episode))
        if said is not None:
            said()


def faulted(
    layout: Layout,
    provider: str,
    fault: Fault,
    settings: ProvidersConfig,
    fix: str = "",
    launched_in: int | None = None,
) -> ProviderState:
    """A run hit a provider fault: open the breaker until the reset or the backoff (keeping a
    later `until` another run set), or stop it (auth, billing). A run launched in an earlier
    episode (`launched_in`, from `launching`; None: unknown, as a re-attached run) reports what
    the breaker knows already: an open breaker keeps the later `until`, a probing or answered
    one is left alone."""
    cls = str(fault["class"])
    kind = cast(FaultClass, cls)
    with _locked(layout, provider) as state:
        message = str(fault.get("message") or "")
        if cls in ("auth", "billing"):
            stopped = ProviderState(
                provider=provider,
                state="stopped",
                fault=kind,
                message=message,
                fix=fix,
                episode=state.episode + (state.state == "closed"),
            )
            return _save(layout, stopped)
        stale = launched_in is not None and launched_in < state.episode
        if stale and state.state != "open":
            return state
        failures = state.failures + (not stale)
        until = resume_time(fault, max(failures, 1), settings)
        kept = _parse(state.until)
        if state.state == "open" and kept is not None and kept > until:
            until = kept
        opened = ProviderState(
            provider=provider,
            state="open",
            fault=kind,
            message=message,
            until=_text(until),
            failures=failures,
            episode=state.episode + (state.state == "closed"),
        )
        return _save(layout, opened)


def resume_time(fault: Fault, failures: int, settings: ProvidersConfig) -> datetime:
    """When to try again: the reset the CLI named, else what it asked to wait, else the
    backoff for `failures` faults in a row; plus jitter."""
    now = _now()
    reset = _parse(str(fault["resets_at"])) if fault.get("resets_at") else None
    retry = fault.get("retry_after_s")
    if reset is not None and reset > now:
        wait = (reset - now).total_seconds()
    elif isinstance(retry, int | float) and retry > 0:
        wait = min(float(retry), settings.max_wait)
    else:
        wait = min(settings.backoff * 2 ** (failures - 1), settings.max_wait)
    jitter = random.uniform(0, settings.jitter * min(wait, 300.0))
    return now + timedelta(seconds=wait + jitter)


def reset_stopped(layout: Layout) -> None:
    """At build start: a provider stopped for its credentials gets another chance (the person
    who reran the build is expected to have fixed them; a wrong key stops it again at once)."""
    folder = layout.logs / "providers"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        state = try_load(path, ProviderState)
        if state is not None and state.state in ("stopped", "probing"):
            with _locked(layout, state.provider) as current:
                if current.state in ("stopped", "probing"):
                    closed = ProviderState(
                        provider=current.provider, state="closed", episode=current.episode
                    )
                    _save(layout, closed)


def states(layout: Layout) -> list[ProviderState]:
    """Every provider's breaker, for status, watch, report and metrics."""
    folder = layout.logs / "providers"
    found = (
        [try_load(p, ProviderState) for p in sorted(folder.glob("*.json"))]
        if folder.is_dir()
        else []
    )
    return [s for s in found if s is not None]
