"""build/runlock.py's reading of a doit command line: which ones run tasks (and take the build
lock), with options before the command and their values."""

from __future__ import annotations

import pytest
from doit import cmd_base
from doit.doit_cmd import DoitMain

from hatchdoit.build.runlock import READ_ONLY_COMMANDS, VALUE_OPTIONS, runs_tasks


@pytest.mark.parametrize(
    ("argv", "runs"),
    [
        (["doit"], True),
        (["doit", "-n", "4"], True),
        (["doit", "taskspec:T-1"], True),
        (["doit", "list"], False),
        (["doit", "-f", "dodo.py", "list"], False),
        (["doit", "--file", "dodo.py", "info", "taskspec:T"], False),
        (["doit", "-d", "list", "list"], False),  # a directory named `list`, then the command
        (["doit", "-f", "list"], True),  # a dodo file named `list`, then the default tasks
        (["doit", "--file=dodo.py", "list"], False),
        (["doit", "-n", "2", "run", "taskspec"], True),
        (["doit", "--db-file", "x.db", "clean"], True),
        (["doit", "--reporter", "json", "forget"], False),
    ],
)
def test_the_command_word_is_found_past_option_values(argv: list[str], runs: bool) -> None:
    assert runs_tasks(argv) is runs


def _doit_value_options() -> set[str]:
    """Every option of doit's commands and loader that takes a value, as doit defines them."""
    found: set[str] = set()
    tables = [getattr(cmd_base, name) for name in dir(cmd_base) if name.startswith("opt_")]
    for command in DoitMain().get_cmds().values():
        tables += [*getattr(command, "base_options", ()), *command.cmd_options]
    for option in tables:
        if isinstance(option, dict) and option.get("type") is not bool:
            if option.get("short"):
                found.add(f"-{option['short']}")
            if option.get("long"):
                found.add(f"--{option['long']}")
    return found


def test_every_doit_option_with_a_value_is_known() -> None:
    assert _doit_value_options() - VALUE_OPTIONS == set()
    assert READ_ONLY_COMMANDS.issubset(DoitMain().get_cmds())
