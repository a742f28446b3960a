"""The scripted agent's `edit-plan` behaviour: an agent told to "update the spec"."""

from __future__ import annotations

import os
from pathlib import Path

from scripted_terminal import say


def edit_plan() -> None:
    """What an agent told to "update the spec" does: write into its TaskSpec's folder."""
    spec = Path(os.environ.get("HATCHDOIT_TASKSPEC_FILE", ""))
    for path, mode in ((spec, "a"), (spec.with_name("agent-notes.md"), "w")):
        try:
            with open(path, mode, encoding="utf-8") as out:
                out.write("\nedited by the scripted agent\n")
            say(f"wrote into the plan: {path}")
        except OSError as exc:
            say(f"could not write into the plan: {exc}")
