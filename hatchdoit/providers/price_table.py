"""The token prices hatchdoit ships, for CLIs that report tokens but no cost (interactive Claude
Code, Codex): USD per million tokens, standard tier, as the providers' pricing pages gave them on
PRICES_CHECKED. hatchdoit.yaml's `budgets.prices` overrides them per model (and prices models
not here); `*` there prices any model neither names.

A model is looked up by its normalised id (`price_key`): lower case, without a cloud vendor's
prefix (`us.anthropic.`), a context tag (`[1m]`), a version tag (`@20250929`, `-v1:0`) or a
date suffix (`-20250929`, `-2025-08-07`). A model not in the table is not guessed at: its spend
is unknown, and `hatchdoit validate` and `doctor` say so when a budget is set."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hatchdoit.config.provider_models import Prices

PRICES_CHECKED = "2026-12-07"
PRICE_SOURCES = (
    "https://platform.claude.com/docs/en/about-claude/pricing",
    "https://developers.openai.com/api/docs/pricing",
)

# model: (input, output, cache read, cache write 5 min, cache write 1 h); None: no such price
_Row = tuple[float, float, float, float | None, float | None]
_ANTHROPIC: dict[str, _Row] = {
    "claude-fable-5-2": (8.0, 40.0, 0.20, 10.0, 16.0),
    "claude-mythos-5-2": (8.0, 40.0, 0.20, 10.0, 16.0),
    "claude-fable-5-1": (10.0, 50.0, 0.25, 12.50, 20.0),
    "claude-mythos-5-1": (10.0, 50.0, 0.25, 12.50, 20.0),
    "claude-fable-5": (10.0, 50.0, 1.0, 12.50, 20.0),
    "claude-mythos-5": (10.0, 50.0, 1.0, 12.50, 20.0),
    "claude-opus-5-5": (4.0, 20.0, 0.20, 5.0, 8.0),
    "claude-opus-5": (5.0, 25.0, 0.50, 6.25, 10.0),
    "claude-opus-4-8": (5.0, 25.0, 0.50, 6.25, 10.0),
    "claude-opus-4-7": (5.0, 25.0, 0.50, 6.25, 10.0),
    "claude-opus-4-6": (5.0, 25.0, 0.50, 6.25, 10.0),
    "claude-opus-4-5": (5.0, 25.0, 0.50, 6.25, 10.0),
    "claude-opus-4-1": (15.0, 75.0, 1.50, 18.75, 30.0),
    "claude-opus-4": (15.0, 75.0, 1.50, 18.75, 30.0),
    "claude-opus-4-0": (15.0, 75.0, 1.50, 18.75, 30.0),
    "claude-sonnet-5-5": (2.0, 10.0, 0.10, 2.50, 4.0),  # cache reads cut 2026-10-07
    "claude-sonnet-5": (2.0, 10.0, 0.20, 2.50, 4.0),
    "claude-sonnet-4-6": (3.0, 15.0, 0.30, 3.75, 6.0),
    "claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75, 6.0),
    "claude-sonnet-4": (3.0, 15.0, 0.30, 3.75, 6.0),
    "claude-sonnet-4-0": (3.0, 15.0, 0.30, 3.75, 6.0),
    "claude-3-7-sonnet": (3.0, 15.0, 0.30, 3.75, 6.0),
    "claude-haiku-5-5": (0.10, 0.50, 0.01, 0.125, 0.20),  # prompts up to 100k tokens
    "claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25, 2.0),
    "claude-3-5-haiku": (0.80, 4.0, 0.08, 1.0, 1.60),
}
_OPENAI: dict[str, _Row] = {  # prompts up to the long-context threshold (272k, Luna 200k)
    "gpt-5.6-sol": (5.0, 30.0, 0.50, 6.25, None),
    "gpt-5.6-terra": (2.0, 12.0, 0.20, 2.50, None),
    "gpt-5.6-luna": (0.20, 1.20, 0.02, 0.25, None),
    "gpt-5.5": (5.0, 30.0, 0.50, None, None),
    "gpt-5.4": (2.50, 15.0, 0.25, None, None),
    "gpt-5.4-mini": (0.75, 4.50, 0.075, None, None),
    "gpt-5.4-nano": (0.20, 1.25, 0.02, None, None),
    "gpt-5.3-codex": (1.75, 14.0, 0.175, None, None),
    "gpt-5.2": (1.75, 14.0, 0.175, None, None),
    "gpt-5.2-codex": (1.75, 14.0, 0.175, None, None),
    "gpt-5.1": (1.25, 10.0, 0.125, None, None),
    "gpt-5.1-codex": (1.25, 10.0, 0.125, None, None),
    "gpt-5.1-codex-max": (1.25, 10.0, 0.125, None, None),
    "gpt-5.1-codex-mini": (0.25, 2.0, 0.025, None, None),
    "gpt-5": (1.25, 10.0, 0.125, None, None),
    "gpt-5-codex": (1.25, 10.0, 0.125, None, None),
    "gpt-5-mini": (0.25, 2.0, 0.025, None, None),
    "gpt-5-nano": (0.05, 0.40, 0.005, None, None),
}


def _prices(row: _Row) -> Prices:
    fresh, out, read, write, write_1h = row
    return Prices(
        input=fresh, output=out, cached_input=read, cache_write=write, cache_write_1h=write_1h
    )


SHIPPED: dict[str, Prices] = {k: _prices(v) for k, v in (_ANTHROPIC | _OPENAI).items()}

_VENDOR = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.|^(?:openai|anthropic)/")
_TAGS = re.compile(r"\[[^\]]*\]$|@.*$|-v\d+(?::\d+)?$")
_DATE = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


def price_key(model: str) -> str:
    """The table's key for a model id: `us.anthropic.claude-sonnet-4-5-20250929-v1:0` ->
    `claude-sonnet-4-5`."""
    key = _VENDOR.sub("", model.strip().lower())
    key = _DATE.sub("", _TAGS.sub("", _TAGS.sub("", key)))
    return key


def price_of(model: str, overrides: Mapping[str, Prices]) -> Prices | None:
    """The price of `model`'s tokens: `budgets.prices` for it, else the shipped table, else
    `budgets.prices["*"]`; None when nothing prices it."""
    if model:
        for name in (model, price_key(model)):
            if name in overrides:
                return overrides[name]
        found = SHIPPED.get(price_key(model))
        if found is not None:
            return found
    return overrides.get("*")
