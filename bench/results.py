"""What a measure hands back: table rows (figures as text, target met or not) and raw data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One line of the results table. `met` is None when the row has no target."""

    key: str
    measure: str
    hatchdoit: str
    baseline: str
    comparison: str
    target: str
    met: bool | None
    note: str = ""


@dataclass
class Section:
    """The result of one measure: its rows and the raw figures behind them."""

    name: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": [asdict(row) for row in self.rows],
            "data": self.data,
            "error": self.error,
        }


def failed_rows(keys: Sequence[tuple[str, str]], error: str) -> list[Row]:
    """Rows for a measure that could not run, so the table still names every measure."""
    return [
        Row(key, measure, "not measured", "-", "-", "-", False, f"error: {error}")
        for key, measure in keys
    ]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/min/max/mean of a sample, in the sample's unit."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MB"
