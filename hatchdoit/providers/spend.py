"""What agents spent, in USD: the cost a CLI reports (Claude Code print mode's
`total_cost_usd`), else its tokens at the price of its model (providers/price_table.py:
hatchdoit.yaml's `budgets.prices`, else the dated table hatchdoit ships, else
`budgets.prices["*"]`), model by model where a run used several; a run with neither is
unknown spend, counted apart. Read from the runs' `.stop` files (set-aside ones of paused
launches included), so it holds across builds, crashes and reruns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchdoit.config.provider_models import Prices
from hatchdoit.layout import Layout
from hatchdoit.providers.price_table import price_of
from hatchdoit.records.models import StopRecord
from hatchdoit.records.schemas import try_load

COST_KEYS = ("total_cost_usd", "cost_usd")


@dataclass(frozen=True)
class Spend:
    usd: float = 0.0
    runs: int = 0
    unknown: int = 0  # runs that reported neither a cost nor tokens with a price

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.usd + other.usd, self.runs + other.runs, self.unknown + other.unknown)


def payload_usd(payload: Mapping[str, Any], prices: Mapping[str, Prices]) -> float | None:
    """One run's spend from its stop payload; None when it cannot be told."""
    for key in COST_KEYS:
        value = payload.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    by_model = payload.get("usage_by_model")
    if not isinstance(by_model, Mapping) or not by_model:
        by_model = {str(payload.get("model") or ""): payload.get("usage")}
    total = 0.0
    for model, usage in by_model.items():
        price = price_of(str(model), prices)
        if not isinstance(usage, Mapping) or price is None:
            return None
        total += tokens_usd(usage, price)
    return total


def tokens_usd(usage: Mapping[str, Any], price: Prices) -> float:
    """Claude-style counts (input_tokens without the cache's) at `price`, USD per million."""

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) else 0

    per = 1_000_000
    cached = price.cached_input if price.cached_input is not None else price.input
    written = price.cache_write if price.cache_write is not None else price.input
    hour = price.cache_write_1h if price.cache_write_1h is not None else written
    writes = count("cache_creation_input_tokens")
    kept_an_hour = min(count("cache_creation_1h_input_tokens"), writes)
    return (
        count("input_tokens") * price.input
        + count("output_tokens") * price.output
        + count("cache_read_input_tokens") * cached
        + (writes - kept_an_hour) * written
        + kept_an_hour * hour
    ) / per


def stop_files(layout: Layout, tid: str) -> Iterator[Path]:
    folder = layout.hooks_dir(tid)
    if folder.is_dir():
        yield from sorted(folder.glob("*.stop"))


def taskspec_spend(layout: Layout, tid: str, prices: Mapping[str, Prices]) -> Spend:
    total = Spend()
    for path in stop_files(layout, tid):
        stop = try_load(path, StopRecord)
        if stop is None:
            continue
        usd = payload_usd(stop.payload, prices)
        total += Spend(usd or 0.0, 1, 0 if usd is not None else 1)
    return total


def build_spend(layout: Layout, tids: list[str], prices: Mapping[str, Prices]) -> Spend:
    total = Spend()
    for tid in tids:
        total += taskspec_spend(layout, tid, prices)
    return total
