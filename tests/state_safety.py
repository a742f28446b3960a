"""Shared by the state-safety tests (test_state_*.py): the TaskSpec id they build, and the
problem lines of a build: hatchdoit's own lines in its output, but for the closing TaskSpec count.
"""

from __future__ import annotations

TID = "SS001-STATE"


def problem_lines(output: str, needle: str = "") -> list[str]:
    """hatchdoit's own lines that mention `needle` (the build summary line is not a problem)."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("hatchdoit:") and needle in line and " TaskSpec(s): " not in line
    ]
