"""How long each TaskSpec is expected to take, from this project's own history.

The audit trail (`_logs/audit.jsonl`, read by `observe/timeline.py`) holds every step's start and
end. A step's predicted duration is, in this order:

1. the TaskSpec's own earlier runs of that step (their median: an attempt killed or rejected
   before still says how long this work takes);
2. the p50 of that step in this project's history for the same agent profile (the factory and
   QA steps; the others have no profile, so all TaskSpecs' p50);
3. a default (`DEFAULT_SECONDS`).

A TaskSpec's prediction is its worktree, its expected number of attempts (the project's mean
attempts per finished TaskSpec, within 1 and max_attempts) times one attempt (factory, summary,
checks, QA), and, when work is delivered, its integrate step (the post-merge tests). A TaskSpec
already done (or settled in the plan) has nothing left: 0.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from hatchdoit.observe.timeline import StepRun, step_runs

if TYPE_CHECKING:
    from hatchdoit.project import Project

Source = Literal["own", "history", "default", "done"]
ATTEMPT_STEPS = ("factory", "summary", "checks", "qa")
ROLE_STEPS = ("factory", "qa")  # the steps an agent profile runs
# Seconds a step takes when nothing in the project's history says otherwise: agents take
# minutes, the orchestrator's own steps seconds.
DEFAULT_SECONDS = {
    "worktree": 2.0,
    "factory": 600.0,
    "summary": 2.0,
    "checks": 30.0,
    "qa": 180.0,
    "integrate": 30.0,
}


@dataclass(frozen=True)
class Prediction:
    """A TaskSpec's predicted remaining duration and where its factory figure came from."""

    seconds: float
    source: Source
    attempts: float  # expected attempts (retries included)


@dataclass
class History:
    """Finished step durations: per TaskSpec and step, per (step, profile) and per step."""

    own: dict[tuple[str, str], list[float]]
    by_profile: dict[tuple[str, str], list[float]]
    by_step: dict[str, list[float]]
    attempts: list[int]  # attempts each finished TaskSpec took

    def p50(self, values: list[float] | None) -> float | None:
        return statistics.median(values) if values else None


def read_history(project: Project) -> History:
    """The project's finished step runs, read from the audit trail (only its step events are
    parsed: a long trail is mostly launches, stops and verdicts)."""
    try:
        text = project.layout.audit.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return history_of([], project)
    events = []
    for line in text.split("\n"):  # as read_json_lines: JSON strings may hold U+2028
        if '"step_' in line:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
    return history_of(step_runs(events), project)


def history_of(runs: list[StepRun], project: Project) -> History:
    own: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_profile: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_step: dict[str, list[float]] = defaultdict(list)
    tries: dict[str, int] = {}
    for run in runs:
        seconds = run.duration
        if seconds is None or run.result != "ok":
            continue
        own[(run.taskspec_id, run.step)].append(seconds)
        by_step[run.step].append(seconds)
        if run.step in ROLE_STEPS:
            by_profile[(run.step, _profile(project, run.taskspec_id, run.step))].append(seconds)
        if run.step == "qa":
            tries[run.taskspec_id] = max(tries.get(run.taskspec_id, 0), run.attempt)
    finished = [n for tid, n in tries.items() if project.layout.done(tid).exists()]
    return History(dict(own), dict(by_profile), dict(by_step), finished)


def _profile(project: Project, tid: str, role: str) -> str:
    """The TaskSpec's profile for a role, or "" for a TaskSpec no longer in the plan."""
    if tid not in project.plan.taskspecs:
        return ""
    return project.profile_name(tid, "factory" if role == "factory" else "qa")


def step_seconds(history: History, project: Project, tid: str, step: str) -> tuple[float, Source]:
    """One step's predicted duration for a TaskSpec, and which figure gave it."""
    own = history.p50(history.own.get((tid, step)))
    if own is not None:
        return own, "own"
    pooled = (
        history.by_profile.get((step, _profile(project, tid, step)))
        if step in ROLE_STEPS
        else history.by_step.get(step)
    )
    found = history.p50(pooled)
    if found is not None:
        return found, "history"
    return DEFAULT_SECONDS[step], "default"


def expected_attempts(history: History, max_attempts: int) -> float:
    """The project's mean attempts per finished TaskSpec (1 without history), within the cap."""
    mean = statistics.fmean(history.attempts) if history.attempts else 1.0
    return min(max(mean, 1.0), float(max_attempts))


def predict(project: Project, history: History) -> dict[str, Prediction]:
    """Every TaskSpec's predicted remaining duration, in plan order."""
    delivers = project.config.integrate != "none"
    found: dict[str, Prediction] = {}
    for tid in project.plan.taskspecs:
        if project.taskspec(tid).plan_status is not None or project.layout.done(tid).exists():
            found[tid] = Prediction(0.0, "done", 0.0)
            continue
        factory, source = step_seconds(history, project, tid, "factory")
        attempt = factory + sum(
            step_seconds(history, project, tid, step)[0] for step in ATTEMPT_STEPS[1:]
        )
        tries = expected_attempts(history, project.max_attempts(tid))
        seconds = step_seconds(history, project, tid, "worktree")[0] + tries * attempt
        if delivers:
            seconds += step_seconds(history, project, tid, "integrate")[0]
        found[tid] = Prediction(round(seconds, 3), source, round(tries, 2))
    return found
