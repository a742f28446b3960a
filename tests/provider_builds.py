"""What the provider-fault build tests share: the scripted agent's provider (a file every agent
session of the project reads, hatchdoit/resources/agents/scripted/scripted_provider.py), short
provider waits, and audit timestamps as Unix seconds."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from projects import HatchProject


def provider(project: HatchProject, **state: object) -> Path:
    """The scripted provider's state file, given to every agent session of the project."""
    path = project.root.parent / "scripted-provider.json"
    path.write_text(json.dumps(state))
    project.env["SCRIPTED_PROVIDER"] = str(path)
    return path


def quick(project: HatchProject, max_wait: float = 2) -> None:
    """Provider waits of a test's length: no jitter, half a second of backoff."""
    project.configure(
        providers={"backoff": 0.5, "max_wait": max_wait, "jitter": 0, "probe_after": 2}
    )


def stamp(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
