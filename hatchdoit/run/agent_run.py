"""A running agent session: the record of its launch and the files it signals through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hatchdoit.agents.tmux import Tmux
from hatchdoit.agents.waiting import DirWatch
from hatchdoit.config.models import RoleLimits
from hatchdoit.layout import Role
from hatchdoit.records.models import LaunchRecord
from hatchdoit.run.context import StepContext


@dataclass
class AgentRun:
    ctx: StepContext
    role: Role
    attempt: int
    launch: LaunchRecord
    tmux: Tmux
    # The provider this run probes for its breaker (provider_runs/gate.py), until it answers.
    probe_for: str | None = None
    # The breaker's episode the run launched in (provider_gate.launching); None: re-attached.
    launched_in: int | None = None
    _watch: DirWatch | None = field(default=None, repr=False)
    _alive: tuple[float, bool] | None = field(default=None, repr=False)  # (when asked, answer)

    def alive(self) -> bool:
        """Whether the agent's pane lives, for the waits: tmux is asked at most once per
        limits.poll_interval (a dead pane stays dead). The waits re-check on every file event in
        the hook directory, and an agent that ends also shows at once through the exit file
        launch_agent.sh writes, so a tmux call per event only added latency."""
        now = time.monotonic()
        if self._alive is not None:
            asked, answer = self._alive
            if not answer or now - asked < self.ctx.project.config.limits.poll_interval:
                return answer
        answer = self.tmux.alive(self.session, self.launch.run_token)
        self._alive = (now, answer)
        return answer

    @contextmanager
    def watching(self) -> Iterator[DirWatch]:
        """The inotify watch on the run's output directory (ready, submitted, exit and stop files
        all land there). Nested uses share the outermost one, so run_until_stop keeps one
        observer for the waits for readiness, the submit and the stop (each started and joined
        its own: ~5 ms apiece); a wait used on its own starts and stops its own."""
        if self._watch is not None:
            yield self._watch
            return
        with DirWatch(self.out_dir) as watch:
            self._watch = watch
            try:
                yield watch
            finally:
                self._watch = None

    @property
    def session(self) -> str:
        return self.launch.session

    def end(self) -> None:
        """Close this run's session (no other launch's of the same name)."""
        self.tmux.kill(self.session, self.launch.run_token)

    @property
    def limits(self) -> RoleLimits:
        return getattr(self.ctx.project.config.limits, self.role)  # type: ignore[no-any-return]

    @property
    def progress_every(self) -> float:
        """Seconds between the waiting lines (elapsed and idle time) on doit's output."""
        return self.ctx.project.config.limits.progress_every

    def marker(self, kind: str) -> Path:
        return self.ctx.layout.marker(self.ctx.tid, self.role, self.attempt, kind)

    @property
    def out_dir(self) -> Path:
        """The run's output directory (run_output.py): its stop, markers, summary or verdict."""
        return self.ctx.layout.run_output(self.ctx.tid, self.role, self.attempt)

    @property
    def stop_file(self) -> Path:
        return self.ctx.layout.stop_file(self.ctx.tid, self.role, self.attempt)
