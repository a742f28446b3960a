"""What agents spent, in USD: the cost a CLI reports (Claude Code's `total_cost_usd`), else
its tokens at hatchdoit.yaml's `budgets.prices` for its model (or `*`); a run with neither is
unknown spend, counted apart. Read from the runs' `.stop` files (set-aside ones of paused
launches included), so it holds across builds, crashes and reruns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchdoit.config.provider_models import Prices
from hatchdoit.layout import Layout
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
    usage = payload.get("usage")
    price = prices.get(str(payload.get("model") or "")) or prices.get("*")
    if not isinstance(usage, Mapping) or price is None:
        return None
    return tokens_usd(usage, price)


def tokens_usd(usage: Mapping[str, Any], price: Prices) -> float:
    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) else 0

    per = 1_000_000
    cached = price.cached_input if price.cached_input is not None else price.input
    written = price.cache_write if price.cache_write is not None else price.input
    return (
        count("input_tokens") * price.input
        + count("output_tokens") * price.output
        + count("cache_read_input_tokens") * cached
        + count("cache_creation_input_tokens") * written
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
