"""The provider-fault classes every agent stop that is not a normal finish gets (README "When
the provider fails"). Standard library only: the stop hook classifies with them
(providers/fault_tables.py), the records validate them (models.py)."""

from __future__ import annotations

from typing import Literal, get_args

FaultClass = Literal[
    "usage_limit",
    "rate_limited",
    "overloaded",
    "server_error",
    "network",
    "auth",
    "billing",
    "other",
]
FAULT_CLASSES: tuple[str, ...] = get_args(FaultClass)
