"""The confinement of one agent run (confinement/): the policy it runs under, what launch_agent.sh
puts before its argv (on Linux bubblewrap directly with its launcher's proxy, confinement/direct.py;
else srt with its settings file), and what confinement changes in the profile
(Claude Code skips its permission prompts, Codex turns its own sandbox off: hatchdoit's holds).

What the agent may write: its worktree (and the git metadata a commit there writes), its run's
directory `_logs/sessions/<ID>/<role>-00k/` (config home, temp dir), what its CLI needs besides
(CONFINED_NEEDS), and the one output directory of its run, `_logs/runs/<ID>/<role>-00k/` (stop
file, markers, hook log, stream log, summary or verdict), from which hatchdoit takes validated
copies (steps/run_output.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hatchdoit.agents import codex
from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.direct import agent_prefix
from hatchdoit.confinement.gitconfig import scrub_prefix
from hatchdoit.confinement.mode import Decision, build_decision
from hatchdoit.confinement.policy import agent_policy
from hatchdoit.confinement.srt import confined_argv, write_settings
from hatchdoit.layout import Role
from hatchdoit.run.context import StepContext

SETTINGS_NAME = "confinement.json"  # beside the run's directory: out of the agent's reach
# What confinement changes in a profile's parameters, per `setup:` (hatchdoit.yaml's
# agent_params still decide when they set the key).
CONFINED_PARAMS: dict[str, dict[str, Any]] = {
    "claude": {"skip_permissions": True},
    "codex": {"bypass_sandbox": True},
}
# What a CLI needs besides its workspace, per `setup:`: (paths it writes, base URLs it calls).
CONFINED_NEEDS = {"codex": codex.confinement_needs}


@dataclass(frozen=True)
class AgentConfinement:
    decision: Decision
    prefix: list[str] = field(default_factory=list)  # launch_agent.sh --confine-with, each

    @property
    def label(self) -> str:
        return self.decision.label


def decision_for(ctx: StepContext) -> Decision:
    return build_decision(ctx.project.config.confinement)


def confined_params(setup: str, user_params: Mapping[str, Any], confined: bool) -> dict[str, Any]:
    """The profile parameters confinement sets, unless hatchdoit.yaml sets them itself."""
    if not confined:
        return {}
    return {k: v for k, v in CONFINED_PARAMS.get(setup, {}).items() if k not in user_params}


def settings_path(run_dir: Path) -> Path:
    return run_dir.with_name(f"{run_dir.name}.{SETTINGS_NAME}")


def confine_agent(
    ctx: StepContext,
    role: Role,
    attempt: int,
    *,
    run_dir: Path,
    env: Mapping[str, str],
    provider: str | None,
    setup: str = "none",
    decision: Decision | None = None,
) -> AgentConfinement:
    """The launcher's prefix and the variables for this run; nothing when not confined."""
    decision = decision or decision_for(ctx)
    if not decision.confined:
        return AgentConfinement(decision)
    layout = ctx.layout
    config: ConfinementConfig = ctx.project.config.confinement
    temp = run_dir / "tmp"
    outputs = layout.run_output(ctx.tid, role, attempt)
    outputs.mkdir(parents=True, exist_ok=True)
    needs = CONFINED_NEEDS.get(setup)
    cli_writes, base_urls = needs(env) if needs is not None else ([], [])
    policy = agent_policy(
        config,
        workspace=ctx.worktree,
        output_dir=outputs,
        temp_dir=temp,
        config_home=run_dir,
        provider=provider,
        env=env,
        base_urls=base_urls,
        sessions_root=layout.logs / "sessions",
        extra_write=tuple(cli_writes),
        target=ctx.project.target_repo,
    )
    settings = write_settings(policy, settings_path(run_dir))
    inside = {"TMPDIR": str(temp), "TEMP": str(temp), "TMP": str(temp), "IS_SANDBOX": "1"}
    direct = agent_prefix(policy, inside, run_dir.with_name(f"{run_dir.name}.direct.json"))
    if direct is not None:
        return AgentConfinement(decision, direct)
    scrub = scrub_prefix(policy.git_config, run_dir.with_name(f"{run_dir.name}.gitconfig"))
    return AgentConfinement(decision, [*scrub, *confined_argv([], policy, settings, inside)])
