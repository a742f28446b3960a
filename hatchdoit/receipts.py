"""Step receipts: a step is complete when its receipt parses, validates, records the current
input digest, and the artifact it names still has the hash it had."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hatchdoit.atomicio import read_json, write_json_atomic
from hatchdoit.layout import Layout
from hatchdoit.records import Outcome, Receipt
from hatchdoit.schemas import try_load


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
        data=data or {},
    )
    write_json_atomic(layout.receipt(tid, step, attempt), receipt.model_dump(mode="json"))
    return receipt


def current_receipt(
    layout: Layout, tid: str, step: str, attempt: int, digest: str
) -> Receipt | None:
    """The receipt if it is valid for `digest` and its artifact is unchanged, else None."""
    receipt = try_load(layout.receipt(tid, step, attempt), Receipt)
    if receipt is None or receipt.digest != digest:
        return None
    if receipt.artifact is None:
        return receipt
    path = layout.root / receipt.artifact
    if receipt.artifact_token is not None:
        return receipt if _run_token(path) == receipt.artifact_token else None
    return receipt if file_sha256(path) == receipt.artifact_sha256 else None


def _run_token(path: Path) -> str | None:
    try:
        value = read_json(path).get("run_token")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value is not None else None
