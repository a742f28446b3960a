"""What the installed package ships beside its code (package data under hatchdoit/resources/):
the bash scripts, the bundled agent profiles and prompt templates, the scripted agent."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SCRIPTS = RESOURCES / "scripts"
AGENTS = RESOURCES / "agents"
