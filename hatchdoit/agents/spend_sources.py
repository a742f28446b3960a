"""Where hatchdoit learns what an agent profile's runs spend, whether it can know it at all, and
whether a cap can end one of its runs partway (README "Budgets"). `hatchdoit validate` and
`hatchdoit doctor` warn, when a budget is set, about a profile whose spend cannot be known: its
runs would count as $0 against the caps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from hatchdoit.agents.codex_rollout import codex_home
from hatchdoit.agents.profiles import AgentProfile
from hatchdoit.config.provider_models import Prices
from hatchdoit.providers.price_table import PRICES_CHECKED, price_of

Source = Literal["cost", "transcript", "rollout", "stop"]
SOURCES: dict[Source, str] = {
    "cost": "the cost Claude Code reports (each turn's result; --max-budget-usd stops it "
    "inside a turn)",
    "transcript": "its transcript's tokens at their model's price, after every model response",
    "rollout": "its rollout file's tokens at their model's price, after every model response",
    "stop": "what its stop payload reports (`total_cost_usd`, or `usage` and `model`), at the "
    "end of the run only",
}
_TOML_MODEL = re.compile(r'^model\s*=\s*"([^"]+)"', re.MULTILINE)


def spend_source(profile: AgentProfile) -> Source:
    """How a run's spend is known: Claude Code print mode reports its cost; interactive Claude
    Code's transcript and Codex's rollout file give tokens as the run goes; any other CLI only
    what its stop payload says."""
    if profile.setup == "claude":
        return "transcript" if profile.interactive else "cost"
    if profile.setup == "codex":
        return "rollout"
    return "stop"


def stops_partway(profile: AgentProfile) -> bool:
    """Whether `budgets.attempt_usd` (or what is left of a TaskSpec's cap) can end a run
    before it stops on its own."""
    return spend_source(profile) != "stop"


def profile_model(
    profile: AgentProfile, params: Mapping[str, Any], environ: Mapping[str, str]
) -> str:
    """The model the profile's runs use, as far as hatchdoit can tell before they run: its
    `model` parameter, else (Codex) `model` in CODEX_HOME's config.toml; "" for the CLI's own
    default."""
    model = str(params.get("model") or profile.params.get("model") or "")
    if model or profile.setup != "codex":
        return model
    try:
        text = (codex_home(dict(environ)) / "config.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    found = _TOML_MODEL.search(text)
    return found.group(1) if found else ""


def unknown_spend(
    profile: AgentProfile,
    params: Mapping[str, Any],
    prices: Mapping[str, Prices],
    environ: Mapping[str, str],
) -> str | None:
    """Why the profile's spend cannot be known (one line with its fix), or None."""
    source = spend_source(profile)
    if source == "cost":
        return None
    if source == "stop":
        if profile.name == "scripted" and environ.get("SCRIPTED_COST_USD"):
            return None  # the scripted agent reports that cost
        return (
            f"agent profile {profile.name} reports no cost or tokens hatchdoit can read (only "
            "what its CLI writes into its stop payload): its runs count as $0 against the "
            "budgets, and no cap can stop one partway (fix: have its CLI report "
            "`total_cost_usd` or `usage` and `model` at its stop, or use a profile that does)"
        )
    model = profile_model(profile, params, environ)
    if not model or price_of(model, prices) is not None:
        return None
    return (
        f"agent profile {profile.name}: model {model} has no price (hatchdoit's table was "
        f"checked {PRICES_CHECKED}): its runs count as $0 against the budgets (fix: add "
        f"budgets.prices.{model} with input and output USD per million tokens)"
    )
