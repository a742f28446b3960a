"""The CLI's one error handler: a reader that goes away (`hatchdoit status --json | head`) ends
every command quietly with 141, like a program killed by SIGPIPE; any other broken pipe is still
an unexpected error."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys

import pytest
from daily_use import MixedBuild, mixed

from hatchdoit.cli import main as cli

pytestmark = pytest.mark.integration
__all__ = ["mixed"]

COMMANDS = [
    ("status",),
    ("status", "--json"),
    ("status", "--schema"),
    ("watch", "--once"),
    ("logs",),
    ("logs", "--json"),
    ("metrics",),
    ("metrics", "--json"),
    ("config-doc",),
    ("validate",),
    ("plan",),
    ("plan", "--json"),
]


def run_into_closed_pipe(mixed: MixedBuild, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `hatchdoit ARGS` with stdout a pipe whose reading end is already closed: the first
    write fails every time (with `| head` it fails only when head exits first, 1 run in 3)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "hatchdoit", "--root", str(mixed.root), *args],
            cwd=mixed.root,
            env={**mixed.project.env, "COLUMNS": "200"},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_closed_stdout_ends_every_command_quietly_with_141(
    mixed: MixedBuild, args: tuple[str, ...]
) -> None:
    done = run_into_closed_pipe(mixed, *args)
    assert (done.returncode, done.stderr) == (cli.EXIT_BROKEN_PIPE, "")


def test_head_reads_what_it_wants_and_the_exit_is_0_or_141(mixed: MixedBuild) -> None:
    """The real thing: the reader leaves after one line, before or after we finish writing."""
    for _ in range(3):
        pipeline = subprocess.run(
            [
                "bash",
                "-c",
                'set -o pipefail; "$@" | head -3; echo "exit=${PIPESTATUS[0]}" >&2',
                "bash",
                *(sys.executable, "-m", "hatchdoit", "--root", str(mixed.root)),
                *("status", "--json"),
            ],
            env=mixed.project.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert len(pipeline.stdout.splitlines()) == 3
        assert pipeline.stderr.strip() in ("exit=0", "exit=141"), pipeline.stderr


def test_a_broken_pipe_elsewhere_is_still_unexpected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def notify_reader_left(_args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # e.g. a notify command that closed its stdin

    schemas = dataclasses.replace(cli.COMMANDS["schemas"], run=notify_reader_left)
    monkeypatch.setitem(cli.COMMANDS, "schemas", schemas)
    assert cli.main(["schemas"]) == cli.EXIT_UNEXPECTED
    assert "unexpected error: BrokenPipeError(32, 'Broken pipe')" in capsys.readouterr().err


def test_stdout_reader_gone_tells_a_closed_pipe_from_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        monkeypatch.setattr(sys, "stdout", writer)
        assert cli.stdout_reader_gone() is False  # someone still reads
        os.close(read_end)
        assert cli.stdout_reader_gone() is True
        monkeypatch.undo()
    with open(os.devnull, "w") as devnull:
        monkeypatch.setattr(sys, "stdout", devnull)
        assert cli.stdout_reader_gone() is False
