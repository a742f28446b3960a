"""What the confinement tests share: the pinned srt of the developer's cache (tests run with a
home of their own, so its path is given by HATCHDOIT_SRT), and a failing stand-in for it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from hatchdoit.confinement.srt import SRT_ENV, cache_dir

REAL_SRT = Path(os.environ.get(SRT_ENV) or cache_dir() / "node_modules" / ".bin" / "srt")


def need_srt() -> Path:
    """The real srt, or skip (CI installs it: .ci/setup-confinement)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the confinement tests run on Linux")
    missing = [t for t in ("bwrap", "socat", "rg", "node") if shutil.which(t) is None]
    if missing or not REAL_SRT.exists():
        pytest.skip(f"confinement is not installed here ({missing or REAL_SRT})")
    return REAL_SRT


def failing_srt(directory: Path) -> Path:
    """A stand-in srt that cannot start a sandbox (as on a machine without user namespaces)."""
    path = directory / "srt-broken"
    path.write_text(
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path
