"""What a `hatchdoit` command is: its name, one line of help, its arguments and what it runs.

cli/main.py lists the commands; each lives in a module of its own in this folder, which imports
what the command needs only when it runs, so that `hatchdoit status` does not load what
`hatchdoit report` needs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hatchdoit.project import Project


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line: the command's entry in `hatchdoit --help` and its description
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


def project_of(args: argparse.Namespace) -> Project:
    """The project at `--root`."""
    from hatchdoit.project import load_project

    return load_project(Path(args.root))


def positive(text: str) -> float:
    """An argparse type: a number > 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value
