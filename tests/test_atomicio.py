"""Atomic writes, JSON round trips and concurrent appends (hatchdoit.atomicio)."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from hatchdoit.core.atomicio import (
    append_line,
    keep_as_backup,
    read_json,
    write_atomic,
    write_json_atomic,
)
from hatchdoit.records.audit import audit, read_audit


def leftovers(directory: Path) -> list[str]:
    """Temp files that write_atomic would leave behind (`.name.*.tmp`)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# --- write_atomic ------------------------------------------------------------------------------


def test_write_atomic_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "out.txt"
    write_atomic(target, "hello\n")
    assert target.read_text(encoding="utf-8") == "hello\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_write_atomic_accepts_bytes_and_str(tmp_path: Path) -> None:
    write_atomic(tmp_path / "b.bin", b"\x00\xff\x10")
    write_atomic(tmp_path / "s.txt", "grüße ✓")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff\x10"
    assert (tmp_path / "s.txt").read_bytes() == "grüße ✓".encode()


def test_write_atomic_accepts_string_path(tmp_path: Path) -> None:
    write_atomic(str(tmp_path / "x.txt"), "x")  # type: ignore[arg-type]
    assert (tmp_path / "x.txt").read_text() == "x"


def test_write_atomic_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "a much longer first version\n")
    write_atomic(target, "short\n")
    assert target.read_text() == "short\n"
    write_atomic(target, "")
    assert target.read_bytes() == b""
    assert leftovers(tmp_path) == []


def test_write_atomic_replaces_not_rewrites_in_place(tmp_path: Path) -> None:
    # A reader holding the old file keeps seeing the whole old content.
    target = tmp_path / "out.txt"
    write_atomic(target, "old content\n")
    with open(target, encoding="utf-8") as reader:
        old_inode = os.fstat(reader.fileno()).st_ino
        write_atomic(target, "new content\n")
        assert reader.read() == "old content\n"
    assert target.stat().st_ino != old_inode
    assert target.read_text() == "new content\n"


def test_no_temp_files_after_many_writes(tmp_path: Path) -> None:
    for i in range(20):
        write_atomic(tmp_path / "out.json", f"{i}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert (tmp_path / "out.json").read_text() == "19\n"


def test_failed_encode_keeps_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "lone surrogate \ud800")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


class _BadStr(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("encode failed")


def test_object_whose_encode_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "old\n")
    with pytest.raises(RuntimeError, match="encode failed"):
        write_atomic(target, _BadStr("new"))
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc_type", [OSError, KeyboardInterrupt])
def test_failed_replace_removes_temp_and_keeps_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc_type: type[BaseException]
) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "old\n")
    seen: list[str] = []

    def failing_replace(src: str, dst: Any) -> None:
        seen.append(Path(src).name)
        assert Path(src).read_text() == "new\n"  # the temp file was complete
        raise exc_type("replace failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(exc_type):
        write_atomic(target, "new\n")
    assert len(seen) == 1
    assert seen[0].startswith(".out.txt.") and seen[0].endswith(".tmp")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_failed_fsync_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        write_atomic(target, "data")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


# --- JSON --------------------------------------------------------------------------------------


def test_write_json_atomic_round_trips(tmp_path: Path) -> None:
    value = {
        "zeta": [1, 2.5, None, True],
        "alpha": {"nested": "ünïcödé ✓ 日本", "b": 2, "a": 1},
        "mid": "",
    }
    target = tmp_path / "deep" / "v.json"
    write_json_atomic(target, value)
    assert read_json(target) == value
    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert "ünïcödé ✓ 日本" in text  # not \u-escaped
    assert text.index('"alpha"') < text.index('"mid"') < text.index('"zeta"')
    assert text.index('"a"') < text.index('"b"') < text.index('"nested"')
    assert text == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert leftovers(target.parent) == []


def test_write_json_atomic_refuses_unserialisable_and_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "v.json"
    write_json_atomic(target, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert read_json(target) == {"ok": 1}
    assert leftovers(tmp_path) == []


def test_read_json_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError):
        read_json(tmp_path / "bad.json")
    (tmp_path / "latin1.json").write_bytes(b'"caf\xe9"')
    with pytest.raises(ValueError):
        read_json(tmp_path / "latin1.json")


# --- append_line -------------------------------------------------------------------------------


def test_append_line_appends_with_single_newline(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "audit.jsonl"
    append_line(log, '{"n": 1}')
    append_line(log, '{"n": 2}\n')
    append_line(log, "drei ✓")
    assert log.read_text(encoding="utf-8") == '{"n": 1}\n{"n": 2}\ndrei ✓\n'


def test_append_line_keeps_existing_content(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text("first\n")
    append_line(log, "second")
    assert log.read_text() == "first\nsecond\n"


def _append_many(path: str, worker: int, count: int, barrier: Any) -> None:
    barrier.wait()
    for i in range(count):
        payload = f"{worker}-{i}-" + chr(ord("a") + worker) * 300
        append_line(Path(path), json.dumps({"w": worker, "i": i, "p": payload}))


def test_concurrent_appends_from_processes_stay_intact(tmp_path: Path) -> None:
    workers, per_worker = 4, 200
    log = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_append_many, args=(str(log), w, per_worker, barrier))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * workers

    lines = log.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # file ends with a newline
    records = [json.loads(line) for line in lines[:-1]]  # every line parses: none interleaved
    assert len(records) == workers * per_worker == 800
    assert {(r["w"], r["i"]) for r in records} == {
        (w, i) for w in range(workers) for i in range(per_worker)
    }
    for r in records:
        assert r["p"] == f"{r['w']}-{r['i']}-" + chr(ord("a") + r["w"]) * 300
    for w in range(workers):  # each writer's lines stay in its own order
        assert [r["i"] for r in records if r["w"] == w] == list(range(per_worker))


def test_keep_as_backup_keeps_the_replaced_content(tmp_path: Path) -> None:
    path, backup = tmp_path / "state.json", tmp_path / "state.json.bak"
    write_atomic(path, "one\n")
    backup.write_text("older\n")
    keep_as_backup(path, backup, path.read_bytes())
    assert backup.stat().st_ino == path.stat().st_ino  # the same file, not a copy
    write_atomic(path, "two\n")
    assert (path.read_text(), backup.read_text()) == ("two\n", "one\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.bak"]


def test_keep_as_backup_writes_a_copy_where_links_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, backup = tmp_path / "state.json", tmp_path / "state.json.bak"
    write_atomic(path, "one\n")

    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    keep_as_backup(path, backup, b"one\n")
    assert backup.read_text() == "one\n" and backup.stat().st_ino != path.stat().st_ino


def test_read_audit_keeps_events_holding_unicode_line_separators(tmp_path: Path) -> None:
    """str.splitlines() would cut such an event in two and drop it."""
    path = tmp_path / "audit.jsonl"
    message = "line\u2028separator\u2029paragraph\x85next"
    audit(path, "agent_stop", "T1", last_assistant_message=message)
    audit(path, "step_end", "T1", step="qa")
    events = read_audit(path)
    assert [e["event"] for e in events] == ["agent_stop", "step_end"]
    assert events[0]["last_assistant_message"] == message
