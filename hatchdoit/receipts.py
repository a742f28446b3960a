"""Step receipts: a step is complete when its receipt parses, validates, records the current
input digest, and the artifact it names still has the hash it had."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hatchdoit.atomicio import write_json_atomic
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
) -> Receipt:
    """Record that `step` finished; written last, after its artifact."""
    receipt = Receipt(
        taskspec_id=tid,
        step=step,
        attempt=attempt,
        digest=digest,
        outcome=outcome,
        reasons=reasons or [],
        artifact=layout.rel(artifact) if artifact is not None else None,
        artifact_sha256=file_sha256(artifact) if artifact is not None else None,
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
    if receipt.artifact is not None and (
        file_sha256(layout.root / receipt.artifact) != receipt.artifact_sha256
    ):
        return None
    return receipt
