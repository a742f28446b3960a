"""Sampling the memory of a process tree from /proc while it runs.

RSS is what the issue's target is stated in; it counts pages a `doit -n N` worker shares with
the main process (workers are forked) once per process. PSS splits each shared page between
the processes mapping it, so the sum of PSS is what the tree really holds; both are recorded.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def parent_map() -> dict[int, int]:
    """pid -> ppid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _read(f"/proc/{entry.name}/stat")
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in parents:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()


def argv(pid: int) -> list[str]:
    return _read(f"/proc/{pid}/cmdline").split("\0")[:-1]


def rss_kib(pid: int) -> int:
    fields = _read(f"/proc/{pid}/statm").split()
    return int(fields[1]) * PAGE_KIB if len(fields) > 1 else 0


def pss_kib(pid: int) -> int:
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


@dataclass
class Sample:
    at: float
    counts: dict[str, int] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    pss: dict[str, int] = field(default_factory=dict)
    marked: int = 0


class TreeSampler:
    """Samples the tree under `root` every `interval` seconds in a thread. The root and its
    children with the root's own command line (its forked workers) are class "root", the rest
    of the tree "other". `marker` counts processes anywhere on the machine whose argv[1] is exactly
    `marker` (e.g. the agent script of a run, started by its interpreter)."""

    def __init__(self, root: int, *, interval: float = 0.1, marker: str | None = None) -> None:
        self.root, self.interval, self.marker = root, interval, marker
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        parents = parent_map()
        now = Sample(at=time.monotonic())
        own = cmdline(self.root)
        for pid in descendants(self.root, parents):
            # Forked workers are the root's children with its command line; a worker's own
            # child caught between fork and exec also has it, but is one level further down.
            forked = parents.get(pid) == self.root and cmdline(pid) == own
            kind = "root" if pid == self.root or forked else "other"
            now.counts[kind] = now.counts.get(kind, 0) + 1
            now.rss[kind] = now.rss.get(kind, 0) + rss_kib(pid)
            now.pss[kind] = now.pss.get(kind, 0) + pss_kib(pid)
        if self.marker:
            now.marked = sum(1 for pid in parents if argv(pid)[1:2] == [self.marker])
        if now.counts:
            self.samples.append(now)

    def peak(self, kind: str) -> dict[str, Any]:
        """The sample with the largest RSS sum of `kind`, and the peak of each figure."""
        if not self.samples:
            return {"samples": 0}
        top = max(self.samples, key=lambda s: s.rss.get(kind, 0))
        return {
            "samples": len(self.samples),
            "peak_rss_kib": top.rss.get(kind, 0),
            "pss_kib_at_peak_rss": top.pss.get(kind, 0),
            "processes_at_peak_rss": top.counts.get(kind, 0),
            "peak_pss_kib": max(s.pss.get(kind, 0) for s in self.samples),
            "peak_processes": max(s.counts.get(kind, 0) for s in self.samples),
            "peak_marked": max(s.marked for s in self.samples),
        }


def hwm_kib(pid: int) -> int:
    """VmHWM: the peak RSS of a process so far (0 once it has gone)."""
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class HighWater:
    """Follows one process's VmHWM every `interval` seconds in a thread until `stop()`."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval, self.kib = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self.kib = max(self.kib, hwm_kib(self.pid))
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
