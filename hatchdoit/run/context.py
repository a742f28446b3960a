"""What every step works with: the project, one TaskSpec, its digest, logs and audit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchdoit.core.logs import log
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.layout import Layout
from hatchdoit.planning.specs import TaskSpec
from hatchdoit.project import Project
from hatchdoit.records.audit import audit
from hatchdoit.records.models import Outcome, Receipt
from hatchdoit.records.receipts import write_receipt

if TYPE_CHECKING:
    from hatchdoit.agents.tmux import Tmux


@dataclass
class StepContext:
    project: Project
    tid: str

    @property
    def spec(self) -> TaskSpec:
        return self.project.taskspec(self.tid)

    @property
    def layout(self) -> Layout:
        return self.project.layout

    @property
    def digest(self) -> str:
        """The inputs of the whole chain (done.json, escalated.json)."""
        return self.project.digest(self.tid)

    def step_digest(self, step: str, attempt: int) -> str:
        """The inputs a receipt of `step` (of attempt `attempt`) must record to be current."""
        return self.project.step_digest(self.tid, step, attempt)

    @property
    def worktree(self) -> Path:
        return self.layout.worktree(self.tid)

    def tmux(self) -> Tmux:
        from hatchdoit.agents.tmux import Tmux

        return Tmux(self.project.config.tmux_socket, self.project.scripts_dir)

    def logger(self, component: str) -> logging.Logger:
        return self.project.logger(component)

    def log(self, component: str, level: int, msg: str, **context: Any) -> None:
        log(self.logger(component), level, msg, **{**context, "taskspec_id": self.tid})

    def write_receipt(
        self,
        step: str,
        attempt: int,
        outcome: Outcome,
        *,
        artifact: Path | None = None,
        reasons: list[str] | None = None,
        data: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Receipt:
        """Record that `step` finished for the current inputs (after its artifact is written)."""
        fault_point(f"{step}.before_receipt", self.tid)
        return write_receipt(
            self.layout,
            self.tid,
            step,
            attempt,
            digest=self.step_digest(step, attempt),
            outcome=outcome,
            artifact=artifact,
            reasons=reasons,
            data=data,
            token=token,
        )

    def audit(self, event: str, /, **fields: Any) -> None:
        audit(self.layout.audit, event, self.tid, **fields)
