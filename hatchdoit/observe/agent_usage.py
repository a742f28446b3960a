"""What one agent run reported using, from its stop payload: tokens by kind, and its cost in
USD as providers/spend.py tells it (the reported cost, else the tokens at budgets.prices)."""

from __future__ import annotations

from collections.abc import Mapping

from hatchdoit.config.provider_models import Prices
from hatchdoit.providers.spend import payload_usd
from hatchdoit.records.models import StopRecord

TOKEN_KEYS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_creation_input_tokens": "cache_write",
    "cache_read_input_tokens": "cache_read",
}


def stop_usage(
    stop: StopRecord, prices: Mapping[str, Prices] | None = None
) -> tuple[dict[str, int], float | None]:
    """Tokens by kind that an agent reported in its stop payload, and its cost in USD
    (providers/spend.payload_usd: the reported cost, else the tokens at `prices`)."""
    payload = stop.payload
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else payload
    tokens: dict[str, int] = {}
    for key, kind in TOKEN_KEYS.items():
        value = usage.get(key) if isinstance(usage, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            tokens[kind] = int(value)
    if not tokens and isinstance(payload.get("tokens"), int | float):
        tokens["total"] = int(payload["tokens"])
    elif tokens:
        tokens["total"] = sum(v for k, v in tokens.items())
    return tokens, payload_usd(payload, prices or {})
