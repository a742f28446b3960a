"""The machine a run measured: CPUs, memory, kernel and the versions of every tool involved."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.fixtures import CHECKOUT


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    if done.returncode != 0:
        return "?"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else ""


def _proc_field(path: str, name: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    mem_kib = _proc_field("/proc/meminfo", "MemTotal").split()[0]
    commit = _first_line(["git", "-C", str(CHECKOUT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(CHECKOUT), "status", "--porcelain", "--", "hatchdoit"])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "memory_mb": int(mem_kib) // 1024 if mem_kib.isdigit() else None,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "doit": _version("doit"),
        "pydantic": _version("pydantic"),
        "watchdog": _version("watchdog"),
        "libtmux": _version("libtmux"),
        "tmux": _first_line(["tmux", "-V"]),
        "git": _first_line(["git", "--version"]),
        "hatchdoit": f"{_version('hatchdoit')} @ {commit}"
        + (" + uncommitted changes in hatchdoit/" if dirty not in ("", "?") else ""),
    }
