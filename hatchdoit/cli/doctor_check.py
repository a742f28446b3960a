"""What a doctor check is: a name, a status and a detail, with a fix when it is not ok; and the
helpers the checks of every kind use."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Literal

from hatchdoit.core.errors import HatchdoitError

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def failed_check(
    name: str, status: Status, exc: HatchdoitError, note: str = "", where: bool = True
) -> Check:
    """A check that an error ended: where (the file and field) and what went wrong, its fix."""
    return Check(name, status, (exc.located() if where else exc.message) + note, exc.fix or "")


def run_tool(argv: list[str], timeout: float = 30.0) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout or done.stderr).strip()


def version_tuple(text: str) -> tuple[int, ...]:
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in found.groups() if g is not None) if found else ()
