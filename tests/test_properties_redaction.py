"""Property-based test (hypothesis) of redaction: no secret value survives `redact`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from property_strategies import SETTINGS

from hatchdoit.core.logs import redact

# --------------------------------------------------------------------------------------------
# Redaction


@SETTINGS
@given(
    secrets=st.lists(
        st.text(alphabet="abcxyz0-_", min_size=8, max_size=16), min_size=1, max_size=3
    ),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_redaction_leaves_no_secret(secrets: list[str], before: str, after: str) -> None:
    ordered = sorted(set(secrets), key=len, reverse=True)
    text = before + "".join(f" {s} " for s in secrets) + after
    cleaned = redact(text, ordered)
    for secret in ordered:
        assert secret not in cleaned
