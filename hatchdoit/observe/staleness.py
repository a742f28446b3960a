"""Whether a TaskSpec with nothing built for its current inputs had something built for older
ones (`hatchdoit status` calls it stale: the next doit rebuilds it), and which changes are
known to have caused it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.layout import ROLES
from hatchdoit.observe.progress import StateFiles
from hatchdoit.project import Project
from hatchdoit.records.models import LaunchRecord, Receipt
from hatchdoit.records.schemas import try_load


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class StaleInfo(_Model):
    was: Literal["done", "escalated", "started"] = Field(
        description="what the artifacts made for older inputs say"
    )
    attempt: int
    changed: list[str] = Field(description="the changes known (agent profiles); others may be")
    why: str = Field(description="one sentence for people")


def stale_info(project: Project, tid: str, files: StateFiles) -> StaleInfo | None:
    """What a TaskSpec with no artifact for its current inputs had built for older ones."""
    if not files.names:
        return None  # nothing built at all
    digest = project.digest(tid)
    done, escalated = files.done, files.escalated
    was: Literal["done", "escalated", "started"]
    if done is not None and done.digest != digest:
        was, attempt = "done", done.attempt
    elif escalated is not None and escalated.digest != digest:
        was, attempt = "escalated", escalated.attempts
    else:
        old = [
            rec
            for path in files.paths("", ".receipt.json")
            if (rec := try_load(path, Receipt)) is not None
            and rec.digest != project.step_digest(tid, rec.step, rec.attempt)
        ]
        if not old:
            return None
        was, attempt = "started", max(rec.attempt for rec in old)
    why = "inputs changed since it was built"
    changed = _profile_changes(project, tid, files)
    if changed:
        why += f" ({', '.join(changed)})"
    return StaleInfo(was=was, attempt=attempt, changed=changed, why=why)


def _profile_changes(project: Project, tid: str, files: StateFiles) -> list[str]:
    """`factory profile claude-code -> scripted`, from the latest launch record of each role."""
    changes = []
    for role in ROLES:
        launches = [
            rec
            for path in files.paths(f"{role}-", ".launch.json")
            if (rec := try_load(path, LaunchRecord)) is not None
        ]
        if not launches:
            continue
        was = max(launches, key=lambda rec: (rec.started_at, rec.attempt)).profile
        now = project.profile_name(tid, role)
        if was != now:
            changes.append(f"{role} profile {was} -> {now}")
    return changes
