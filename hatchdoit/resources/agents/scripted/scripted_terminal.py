"""The scripted agent's terminal: its transcript lines (the pane log is its transcript)."""

from __future__ import annotations

import sys

_eol = "\n"  # becomes "\r\n" once the terminal is raw (no output post-processing)


def use_raw_line_endings() -> None:
    """A raw terminal does no output post-processing: lines must end in CR LF."""
    global _eol
    _eol = "\r\n"


def say(message: str) -> None:
    """Print one transcript line; the pane log is the agent's transcript."""
    sys.stdout.write(message + _eol)
    sys.stdout.flush()
