"""Step receipts: a step is complete when its receipt parses, validates, records the current
input digest, and the artifact it names still has the hash it had."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import read_json, write_json_atomic
from hatchdoit.layout import Layout
from hatchdoit.records.models import Outcome, Receipt
from hatchdoit.records.schemas import try_load


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def write_receipt(
    layout: Layout,
    tid: str,
    step: str,
    attempt: int,
    *,
    digest: str,
    outcome: Outcome,
    artifact: Path | None = None,
    reasons: list[str] | None = None,
    data: dict[str, Any] | None = None,
    token: str | None = None,
) -> Receipt:
    """Record that `step` finished; written last, after its artifact. The artifact is pinned by
    its hash, or, with `token`, by the run token inside it (a `.stop` file that the same agent
    run rewrites on later stops, e.g. after a summary request, stays the same run's result)."""
    # stat before hashing: a change while hashing then shows as a different stat later
    stat = _signature(artifact) if artifact is not None else None
    receipt = Receipt(
        taskspec_id=tid,
        step=step,
        attempt=attempt,
        digest=digest,
        outcome=outcome,
        reasons=reasons or [],
        artifact=layout.rel(artifact) if artifact is not None else None,
        artifact_sha256=file_sha256(artifact) if artifact is not None and not token else None,
        artifact_token=token,
        artifact_stat=list(stat) if stat is not None else None,
        data=data or {},
    )
    write_json_atomic(layout.receipt(tid, step, attempt), receipt.model_dump(mode="json"))
    return receipt


Signature = tuple[int, int, int]
# (receipt path, digest) -> (the receipt's signature, the artifact it names and that file's
# signature, the answer). A doit run asks about the same receipts many times (each task's
# uptodate, later attempts' "superseded?", the group tasks); while neither file changes the
# answer stays the same. Atomic writes replace the inode, so any rewrite changes a signature.
_answers: dict[
    tuple[str, str], tuple[Signature, Path | None, Signature | None, Receipt | None]
] = {}


def _signature(path: Path | str) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def current_receipt(
    layout: Layout, tid: str, step: str, attempt: int, digest: str
) -> Receipt | None:
    """The receipt if it is valid for `digest` and its artifact is unchanged, else None."""
    path = layout.receipt_path(tid, step, attempt)
    signature = _signature(path)
    if signature is None:
        return None
    known = _answers.get((path, digest))
    if known is not None and known[0] == signature:
        artifact, artifact_signature, answer = known[1:]
        if artifact is None:
            return answer
        now = _signature(artifact)
        if now is not None and now == artifact_signature and not _racy(now, signature):
            return answer
    receipt = try_load(Path(path), Receipt)
    if receipt is None or receipt.digest != digest:
        answer, artifact, artifact_signature = None, None, None
    elif receipt.artifact is None:
        answer, artifact, artifact_signature = receipt, None, None
    else:
        artifact = layout.root / receipt.artifact
        artifact_signature = _signature(artifact)  # before reading: a later change is seen
        unchanged = _unchanged_since(receipt, artifact_signature, signature)
        answer = receipt if unchanged or _artifact_matches(receipt, artifact) else None
    _answers[(path, digest)] = (signature, artifact, artifact_signature, answer)
    return answer


def _unchanged_since(receipt: Receipt, artifact: Signature | None, receipt_file: Signature) -> bool:
    """True when the artifact is the very file the receipt pinned, as git's index decides it:
    same inode, mtime and size, and "not racy": the artifact's mtime is older than the
    receipt's, so an edit after pinning would have given it a newer mtime. Every writer of
    ours replaces files (new inode); an in-place edit within the receipt's own clock tick
    counts as racy and is hashed."""
    if artifact is None or receipt.artifact_stat is None:
        return False
    return tuple(receipt.artifact_stat) == artifact and not _racy(artifact, receipt_file)


def _racy(artifact: Signature, receipt_file: Signature) -> bool:
    """An artifact not older than its receipt may have been edited after it was pinned without
    its stat showing it (same clock tick): only its content can tell."""
    return artifact[1] >= receipt_file[1]


def _artifact_matches(receipt: Receipt, path: Path) -> bool:
    if receipt.artifact_token is not None:
        return _run_token(path) == receipt.artifact_token
    return file_sha256(path) == receipt.artifact_sha256


def _run_token(path: Path) -> str | None:
    try:
        value = read_json(path).get("run_token")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value is not None else None
