"""Parsed spec files, kept between runs under `_logs/` and reused while a file is unchanged.

Every `doit` command parses the whole planning repo; for 1000 TaskSpecs the YAML front matter
alone was a third of a `doit list`. A file counts as unchanged while its inode, size, mtime and
ctime are the same (ctime cannot be set back by tools, so a rewrite always shows); the cache
holds what parsing produced (the field mapping with its body, and the file's sha256), never the
validated models: validation runs every time, so a cached entry can never let an invalid spec
through. The cache is also keyed by the parser's own source, so a new hatchdoit reparses.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import write_atomic

Signature = tuple[int, int, int, int]
Parsed = tuple[dict[str, Any], str]  # (fields incl. body, sha256 of the file's bytes)


def signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ParseCache:
    """A map of spec path -> (signature, parsed) read from and written to one pickle file."""

    def __init__(self, path: Path | None, key: str) -> None:
        self.path, self.key = path, key
        self.entries: dict[str, tuple[Signature, Parsed]] = {}
        self.used: dict[str, tuple[Signature, Parsed]] = {}
        if path is None:
            return
        try:
            with open(path, "rb") as fh:
                stored = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            return  # no cache yet, or an unreadable one: parse everything
        if isinstance(stored, dict) and stored.get("key") == key:
            self.entries = stored.get("entries") or {}

    def get(self, path: Path, sig: Signature) -> Parsed | None:
        found = self.entries.get(str(path))
        if found is None or found[0] != sig:
            return None
        self.used[str(path)] = found
        return found[1]

    def put(self, path: Path, sig: Signature, parsed: Parsed) -> None:
        self.used[str(path)] = (sig, parsed)

    def save(self) -> None:
        """Write the entries of this load (so deleted files drop out) when anything changed."""
        if self.path is None or self.used == self.entries:
            return
        blob = pickle.dumps({"key": self.key, "entries": self.used}, pickle.HIGHEST_PROTOCOL)
        # A read-only or full _logs/ keeps no cache: the next load parses again, nothing is lost.
        with contextlib.suppress(OSError):
            write_atomic(self.path, blob)


def parser_key(specs_dir: Path, *sources: Path) -> str:
    """The cache key: where the specs are and the source of the code that parses them."""
    digest = hashlib.sha256(str(specs_dir).encode())
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()
