"""`hatchdoit logs`: the JSON-lines logs of every component, merged in time order, filtered by
TaskSpec, minimum level and component; human-readable lines by default, raw JSON with `--json`;
`-f` follows the files as they grow (surviving rotation, like `tail -F`)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from hatchdoit.agents.waiting import no_move_pairing_hold
from hatchdoit.core.errors import ConfigError
from hatchdoit.core.logs import component_logs, rotated_files, rotation_lock
from hatchdoit.layout import LOG_COMPONENTS

LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_STYLES = {"DEBUG": "dim", "WARN": "yellow", "ERROR": "red", "CRITICAL": "bold red"}
SHOWN_FIRST = ("ts", "level", "component", "taskspec_id", "msg", "pid")
DEFAULT_FOLLOW_LINES = 20


@dataclass(frozen=True)
class LogFilter:
    taskspec: str | None = None
    level: str | None = None
    components: tuple[str, ...] = ()

    def accepts(self, entry: dict[str, Any]) -> bool:
        if self.taskspec and entry.get("taskspec_id") != self.taskspec:
            return False
        # components choose the files read (errors.jsonl keeps each line's own component)
        return not self.level or LEVELS.get(str(entry.get("level")), 20) >= LEVELS[self.level]


def make_filter(taskspec: str | None, level: str | None, components: list[str]) -> LogFilter:
    if level is not None and level.upper() not in LEVELS:
        raise ConfigError(
            f"unknown level {level!r}",
            fix=f"use one of {', '.join(LEVELS).replace('WARNING, ', '')}",
        )
    return LogFilter(taskspec, level.upper() if level else None, tuple(components))


def log_files(logs_dir: Path, components: tuple[str, ...]) -> list[Path]:
    """The current log file of each wanted component. Without a choice, every component but
    `errors`, whose lines are copies of the other components' ERROR and CRITICAL lines."""
    if components:
        return [logs_dir / c / f"{c}.jsonl" for c in components]
    found = {p.stem for p in component_logs(logs_dir)} | set(LOG_COMPONENTS)
    return [logs_dir / c / f"{c}.jsonl" for c in sorted(found - {"errors", "summaries", "state"})]


def _parse(line: bytes, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return {"level": "WARN", "component": path.stem, "msg": f"unparsable line: {line[:200]!r}"}
    value.setdefault("component", path.stem)
    return value


def read_entries(files: list[Path], limits: dict[Path, int] | None = None) -> list[dict[str, Any]]:
    """Every complete line of the files and their rotated predecessors, in time order (with
    `limits`, only the first `limits[path]` bytes of each file, none of a file not in it)."""
    entries: list[dict[str, Any]] = []
    for path in files:
        for part in [*reversed(rotated_files(path)), path]:
            try:
                data = part.read_bytes()
            except OSError:
                continue
            if limits is not None:
                data = data[: limits.get(part, 0)]
            complete = data[: data.rfind(b"\n") + 1]
            entries += [_parse(line, path) for line in complete.splitlines() if line.strip()]
    return sorted(entries, key=lambda e: str(e.get("ts", "")))  # stable: file order within a ts


def format_entry(entry: dict[str, Any]) -> str:
    """`12:10:46.432 INFO  orchestrator 001-TS-X  worktree ready  operation=create_worktree`."""
    ts = str(entry.get("ts", ""))
    clock = ts[11:23] if len(ts) >= 23 else ts
    level = str(entry.get("level", "?"))
    extras = " ".join(
        f"{key}={_compact(value)}" for key, value in entry.items() if key not in SHOWN_FIRST
    )
    parts = [
        clock,
        f"{level:<8}",
        f"{entry.get('component', '?'):<12}",
        str(entry.get("taskspec_id") or "-"),
        str(entry.get("msg", "")),
    ]
    return " ".join(parts[:3]) + " " + "  ".join(parts[3:]) + (f"  {extras}" if extras else "")


def _compact(value: object) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def render(entry: dict[str, Any], as_json: bool) -> str:
    return json.dumps(entry, ensure_ascii=False, default=str) if as_json else format_entry(entry)


@dataclass
class _Tail:
    """One followed log and its rotated files, tracked by inode: each poll reads every file from
    where it was left (new inodes from their start), oldest first. Renames between polls, even
    several rotations, lose nothing, and a line a writer appends to a file just rotated away is
    still read. Names are only used to find the files; inodes say what was read (a file
    shorter than what was read from its inode is a new file reusing a deleted one's inode)."""

    path: Path
    offsets: dict[int, int] = field(default_factory=dict)
    pending: dict[int, bytes] = field(default_factory=dict)

    def _files(self) -> list[Path]:
        return [*reversed(rotated_files(self.path)), self.path]

    def start(self) -> dict[Path, int]:
        """Mark everything already written as read; returns the sizes seen, by path."""
        sizes: dict[Path, int] = {}
        for path in self._files():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            self.offsets[st.st_ino] = sizes[path] = st.st_size
        return sizes

    def poll(self) -> list[bytes]:
        """Complete new lines since the last poll, oldest first. The names are walked newest
        first (the log, then .1, .2, ... until one is missing) under the rotation lock, so no
        rotation renames a file in the middle of the walk (logs.rotation_lock says why)."""
        with rotation_lock(self.path, shared=True):
            return self._walk()

    def _walk(self) -> list[bytes]:
        chunks: list[list[bytes]] = []
        seen: set[int] = set()
        index = 0
        while True:
            path = self.path if index == 0 else self.path.with_name(f"{self.path.name}.{index}")
            index += 1
            try:
                handle = open(path, "rb")  # noqa: SIM115  (closed right below)
            except FileNotFoundError:
                if index == 1:
                    continue  # the log itself may not exist (yet) while rotated files do
                break
            except OSError:
                continue
            with handle:
                st = os.fstat(handle.fileno())
                if st.st_ino in seen:  # renamed while we walked the names
                    continue
                seen.add(st.st_ino)
                start = self.offsets.get(st.st_ino, 0)
                if st.st_size < start:  # a reused inode: a new file
                    start = 0
                    self.pending.pop(st.st_ino, None)
                handle.seek(start)
                chunk = handle.read()
            self.offsets[st.st_ino] = start + len(chunk)
            data = self.pending.pop(st.st_ino, b"") + chunk
            cut = data.rfind(b"\n") + 1
            if data[cut:]:
                self.pending[st.st_ino] = data[cut:]
            chunks.append([line for line in data[:cut].splitlines() if line.strip()])
        return [line for chunk in reversed(chunks) for line in chunk]


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.event.set()


def follow(
    logs_dir: Path,
    tails: list[_Tail],
    emit: Callable[[dict[str, Any]], None],
    stop: threading.Event,
    poll: float = 1.0,
) -> None:
    """Emit new entries as they are appended until `stop` is set. inotify wakes us; the poll
    backs it up (and notices a component directory that did not exist yet)."""
    files = [tail.path for tail in tails]
    woke = threading.Event()
    no_move_pairing_hold()  # a rotation renames the file: its lines would come 0.5 s late
    observer = Observer()
    watched: set[Path] = set()
    for directory in {logs_dir, *(p.parent for p in files)}:
        if directory.is_dir():
            observer.schedule(_Wake(woke), str(directory), recursive=False)
            watched.add(directory)
    observer.daemon = True
    observer.start()
    try:
        while not stop.is_set():
            batch = [_parse(line, t.path) for t in tails for line in t.poll()]
            for entry in sorted(batch, key=lambda e: str(e.get("ts", ""))):
                emit(entry)
            for directory in {p.parent for p in files} - watched:
                if directory.is_dir():
                    observer.schedule(_Wake(woke), str(directory), recursive=False)
                    watched.add(directory)
            woke.wait(poll)
            woke.clear()
    finally:
        observer.stop()
        observer.join(timeout=2)


def show_logs(
    logs_dir: Path,
    log_filter: LogFilter,
    *,
    lines: int | None,
    as_json: bool,
    follow_on: bool,
    out: Callable[[str], None],
    stop: threading.Event | None = None,
) -> int:
    """Print the matching entries (the last `lines` of them), then follow when asked."""
    files = log_files(logs_dir, log_filter.components)
    known = sorted(
        {p.stem for p in component_logs(logs_dir)} | {*LOG_COMPONENTS} - {"state", "summaries"}
    )
    unknown = [c for c in log_filter.components if c not in known]
    if unknown:
        raise ConfigError(
            f"no log component {', '.join(unknown)}",
            path=logs_dir,
            fix=f"use one of {', '.join(known)}",
        )
    tails = [_Tail(path) for path in files] if follow_on else []
    limits: dict[Path, int] | None = None
    if follow_on:  # sizes taken before reading history: no line is lost or shown twice
        limits = {}
        for tail in tails:
            limits.update(tail.start())
    matching = [e for e in read_entries(files, limits) if log_filter.accepts(e)]
    if lines is None and follow_on:
        lines = DEFAULT_FOLLOW_LINES
    for entry in _last(matching, lines):
        out(render(entry, as_json))
    if follow_on:

        def emit(entry: dict[str, Any]) -> None:
            if log_filter.accepts(entry):
                out(render(entry, as_json))

        follow(logs_dir, tails, emit, stop or threading.Event())
    return 0


def _last(entries: list[dict[str, Any]], lines: int | None) -> Iterator[dict[str, Any]]:
    yield from entries if lines is None else entries[-lines:] if lines > 0 else []
