"""What a snapshot of a TaskSpec's records on the remote may hold, and its seal.

A runner that materialises `refs/hatchdoit/state/<ID>` writes into its own `_logs`, so the
snapshot is read as untrusted input, all or nothing:
- only plain files (mode 100644 or 100755: no symlink, submodule or anything else);
- only paths that belong to that TaskSpec: `state/<ID>/<name>`, `qa/<ID>/<name>`,
  `audit/<ID>.jsonl`, and, when a receipt of the snapshot names it as its artifact,
  `hooks/<ID>/<name>` or `summaries/<ID>-<name>` (flat names, none starting with a dot);
- at most MAX_FILES files of at most MAX_FILE bytes each and MAX_TOTAL together, checked from
  `git ls-tree -l` before a blob is read;
- with a key in the environment (HATCHDOIT_SHARED_KEY), a commit message carrying
  `hatchdoit-seal: <HMAC-SHA256 of the TaskSpec's ID and the commit's tree>`.
A snapshot that breaks a rule is refused as a whole, with one line naming the ref and the path.

Trust (docs/ci.md "Who can forge the shared state"): without a key, the records on the remote
are trusted like push rights to it; with one, only holders of the key can write records others
accept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterator

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.shared.remote_refs import STATE, Remote, _blobs

MAX_FILE = 1 << 20
MAX_TOTAL = 32 << 20
MAX_FILES = 4000
MAX_TREE = 256 << 10  # bytes of one tree (or commit) object, checked before it is read
KEY_ENV = "HATCHDOIT_SHARED_KEY"
SEAL = "hatchdoit-seal: "
PLAIN = ("100644", "100755")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class SnapshotRefused(HatchdoitError):
    """A snapshot on the remote broke a rule of this module: nothing of it was written."""


def shared_key() -> bytes | None:
    key = os.environ.get(KEY_ENV, "")
    return key.encode() if key else None


def seal_of(tid: str, tree: str, key: bytes) -> str:
    return hmac.new(key, f"state\0{tid}\0{tree}".encode(), hashlib.sha256).hexdigest()


def seal_line(tid: str) -> Callable[[str], str] | None:
    """A trailer maker for Remote.commit: `tree -> "\\nhatchdoit-seal: ..."`, or None (no key)."""
    key = shared_key()
    if key is None:
        return None
    return lambda tree: f"\n{SEAL}{seal_of(tid, tree, key)}\n"


def _check_seal(remote: Remote, tid: str, sha: str, ref: str) -> None:
    key = shared_key()
    if key is None:
        return
    tree = remote.tree_of(sha)
    message = remote.git("log", "-1", "--format=%B", sha)
    seals = [line.removeprefix(SEAL).strip() for line in message.splitlines() if
             line.startswith(SEAL)]  # fmt: skip
    if not any(hmac.compare_digest(s, seal_of(tid, tree, key)) for s in seals):
        raise SnapshotRefused(
            f"refused the snapshot {ref} ({sha[:12]}): no valid seal for {KEY_ENV}",
            fix=f"every runner and person sharing the build needs the same {KEY_ENV}",
            taskspec_id=tid,
        )


def _flat(rest: str) -> bool:
    return "/" not in rest and bool(NAME.match(rest))


def _belongs(tid: str, path: str) -> bool:
    """Paths a snapshot of `tid` may hold whatever its receipts say."""
    if path == f"audit/{tid}.jsonl":
        return True
    for top in ("state", "qa"):
        if path.startswith(f"{top}/{tid}/") and _flat(path.removeprefix(f"{top}/{tid}/")):
            return True
    return False


def _artifact_dir(tid: str, path: str) -> bool:
    if path.startswith(f"hooks/{tid}/"):
        return _flat(path.removeprefix(f"hooks/{tid}/"))
    return path.startswith(f"summaries/{tid}-") and _flat(path.removeprefix("summaries/"))


def read_snapshot(remote: Remote, tid: str, sha: str) -> dict[str, bytes]:
    """{path under _logs/: bytes} of the snapshot `sha` of `tid`, every rule of the module
    kept; SnapshotRefused (one line naming the ref and the path) otherwise."""
    ref = STATE + tid
    if not _flat(tid):
        raise SnapshotRefused(f"refused the snapshot {ref}: not a TaskSpec's ID")
    _check_seal(remote, tid, sha, ref)

    def refuse(path: str, why: str) -> SnapshotRefused:
        return SnapshotRefused(f"refused the snapshot {ref} ({sha[:12]}): {path}: {why}",
                               taskspec_id=tid)  # fmt: skip

    if int(remote.git("cat-file", "-s", sha).strip()) > MAX_TREE:
        raise refuse("(commit)", f"a commit of over {MAX_TREE} bytes")
    entries: list[tuple[str, str]] = []
    total = 0
    for path, parts in _walk(remote, f"{sha}^{{tree}}", "", 0, refuse):
        if len(parts) != 4 or parts[0] not in PLAIN or parts[1] != "blob":
            raise refuse(path, f"not a plain file (mode {parts[0] if parts else '?'})")
        if not (_belongs(tid, path) or _artifact_dir(tid, path)):
            raise refuse(path, f"not a record of {tid}")
        size = int(parts[3])
        total += size
        if size > MAX_FILE:
            raise refuse(path, f"{size} bytes, over {MAX_FILE}")
        if total > MAX_TOTAL or len(entries) >= MAX_FILES:
            raise refuse(path, f"over {MAX_FILES} files or {MAX_TOTAL} bytes in all")
        entries.append((path, parts[2]))
    blobs = _blobs(remote.repo, [blob for _, blob in entries])  # one git process for all
    files = {path: blobs[blob] for path, blob in entries}
    named = _named_artifacts(tid, files)
    for path in files:
        if not _belongs(tid, path) and path not in named:
            raise refuse(path, "an artifact no receipt of the snapshot names")
    return files


def _walk(
    remote: Remote, tree: str, prefix: str, depth: int, refuse: Callable[[str, str], Exception]
) -> Iterator[tuple[str, list[str]]]:
    """(path, [mode, type, object, size]) of the entries of `tree` down to the depth a record
    can be at (`state/<ID>/<name>`), each tree's size checked before it is listed: a deeper tree
    is an entry of its own (refused by the caller), never listed."""
    if int(remote.git("cat-file", "-s", tree).strip()) > MAX_TREE:
        raise refuse(prefix or "(tree)", f"a tree of over {MAX_TREE} bytes")
    for entry in filter(None, remote.git("ls-tree", "-l", "-z", tree).split("\0")):
        meta, _, name = entry.partition("\t")
        parts = meta.split()
        path = prefix + name
        if len(parts) == 4 and parts[1] == "tree" and depth < 2:
            yield from _walk(remote, parts[2], path + "/", depth + 1, refuse)
        else:
            yield path, parts


def _named_artifacts(tid: str, files: dict[str, bytes]) -> set[str]:
    named = set()
    for path, data in files.items():
        if path.startswith(f"state/{tid}/") and path.endswith(".receipt.json"):
            try:
                artifact = json.loads(data).get("artifact")
            except (ValueError, AttributeError):
                continue
            if isinstance(artifact, str) and artifact.startswith("_logs/"):
                named.add(artifact.removeprefix("_logs/"))
    return named
