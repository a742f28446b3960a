"""hatchdoit.yaml's `providers:` (what a build does when an agent's provider fails) and
`budgets:` (what agents may spend)."""

from __future__ import annotations

from pydantic import Field

from hatchdoit.config.base import Strict


class ProvidersConfig(Strict):
    """What a build does when an agent's provider fails (README "When the provider fails")."""

    backoff: float = Field(
        default=30.0,
        gt=0,
        description="Seconds before the first retry after a rate limit, an overload, a server "
        "error or a network fault with no reset time; doubled for each further fault in a row",
    )
    max_wait: float = Field(
        default=1800.0,
        gt=0,
        description="The longest such wait; a usage limit waits for its reset, however far",
    )
    jitter: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Up to this fraction of a wait (of at most its first 300 s) is added at "
        "random, so that paused TaskSpecs do not all come back in the same second",
    )
    probe_after: float = Field(
        default=20.0,
        gt=0,
        description="Seconds a run must go without a provider fault to count as the probe's "
        "success, when its CLI gives no earlier sign (the other launches wait for it)",
    )
    auth_retries: int = Field(
        default=1,
        ge=0,
        le=10,
        description="Retries a CLI may make of an authentication failure (an OAuth refresh) "
        "before hatchdoit ends the run and stops the build",
    )
    ci_max_wait: float = Field(
        default=600.0,
        ge=0,
        description="`hatchdoit ci`: a pause longer than this ends the run (exit 6) with the "
        "resume time, instead of waiting in the job",
    )


class Prices(Strict):
    """USD per million tokens, for a CLI that reports tokens but no cost (interactive Claude
    Code, Codex)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(
        default=None, ge=0, description="Cache reads (default: the input price)"
    )
    cache_write: float | None = Field(
        default=None, ge=0, description="Cache writes (default: the input price)"
    )
    cache_write_1h: float | None = Field(
        default=None,
        ge=0,
        description="Cache writes kept an hour, where the CLI tells them apart (Claude Code's "
        "transcript; default: the cache write price)",
    )


class BudgetsConfig(Strict):
    """Spend caps in USD (unset: none). Spend is what the agents report (Claude Code print
    mode's cost) or their tokens at a price (interactive Claude Code, Codex): `prices`, else the
    dated table hatchdoit ships (providers/price_table.py); README "Budgets"."""

    attempt_usd: float | None = Field(
        default=None,
        gt=0,
        description="One attempt (factory or QA run): its session is ended "
        "when it crosses this, and the attempt fails",
    )
    taskspec_usd: float | None = Field(
        default=None,
        gt=0,
        description="All attempts of a TaskSpec: over it, the TaskSpec "
        "escalates with cause `budget` (`hatchdoit retry --budget-usd N` grants more)",
    )
    build_usd: float | None = Field(
        default=None,
        gt=0,
        description="Everything spent in the project's _logs/: once spent, "
        "no agent is launched and the build ends with one line",
    )
    prices: dict[str, Prices] = Field(
        default_factory=dict,
        description="Per model name the price of tokens, over the dated table hatchdoit ships; "
        "`*`: any model neither names. A run with neither a cost nor a price counts as unknown "
        "spend",
    )
