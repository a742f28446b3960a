"""Confining one command run on agent-written code: a test command, the post-merge tests, a
workspace setup. `confined_command` is the one call: it gives the argv to run (under bubblewrap
when the command reaches no host or any, else under srt; unchanged when this build is not
confined) and the variables to add (TMPDIR: its own temp
dir), and removes the temp dir afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.bwrap import bwrap_argv
from hatchdoit.confinement.gitconfig import scrub_prefix
from hatchdoit.confinement.mode import Decision, build_decision
from hatchdoit.confinement.policy import command_policy
from hatchdoit.confinement.srt import confined_argv, write_settings

Network = Literal["none", "registries", "any"]


@dataclass(frozen=True)
class Confined:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # to add to the command's environment
    label: str = "off"  # Decision.label: confined | unconfined | off


@contextmanager
def confined_command(
    argv: list[str],
    workspace: Path,
    config: ConfinementConfig,
    *,
    network: Network | None = None,
    decision: Decision | None = None,
    target: Path | None = None,
) -> Iterator[Confined]:
    """`argv` as it must run in `workspace` under this build's confinement. `network` defaults
    to `confinement.test_network`; a workspace setup passes "registries". `target`: the target
    repo the workspace is a clone of (its `.git/config` is hidden)."""
    decision = decision or build_decision(config)
    if not decision.confined:
        yield Confined(list(argv), {}, decision.label)
        return
    root = Path(tempfile.mkdtemp(prefix="hatchdoit-run-"))
    try:
        temp = root / "tmp"
        policy = command_policy(
            config, workspace=workspace, temp_dir=temp, network=network, target=target
        )
        env = {"TMPDIR": str(temp), "TEMP": str(temp), "TMP": str(temp)}
        direct = bwrap_argv(list(argv), policy, env)  # no proxy needed: bubblewrap alone
        if direct is None:
            settings = write_settings(policy, root / "srt-settings.json")
            scrub = scrub_prefix(policy.git_config, root / "gitconfig")
            direct = [*scrub, *confined_argv(list(argv), policy, settings, env)]
        yield Confined(direct, {}, decision.label)
    finally:
        shutil.rmtree(root, ignore_errors=True)
