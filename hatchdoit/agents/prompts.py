"""Prompt templates (`prompts/<name>.md` of the agents dirs), filled with `string.Template`
($name placeholders).

TaskSpec text is substituted as data: the result is written to a file and pasted into the agent,
never interpreted by a shell.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template

from hatchdoit.agents.profiles import first_found
from hatchdoit.core.errors import ConfigError

TEMPLATE_NAMES = ("factory", "qa", "summary")


def template_path(dirs: Sequence[Path], name: str) -> Path:
    """`prompts/<name>.md` of the first agents dir that has it."""
    return first_found(dirs, f"prompts/{name}.md")


def render_prompt(dirs: Sequence[Path], name: str, values: dict[str, str]) -> str:
    """Fill template `name`; a missing or misspelt placeholder is a ConfigError naming the file."""
    path = template_path(dirs, name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read prompt template: {exc.strerror}", path=path) from exc
    try:
        return Template(text).substitute(values)
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            f"unknown placeholder {exc}",
            path=path,
            fix=f"use only ${{{'}, ${'.join(sorted(values))}}}, or $$ for a literal $",
        ) from exc
