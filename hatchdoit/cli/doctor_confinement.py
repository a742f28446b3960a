"""`hatchdoit doctor`'s confinement line: which mode is in force, whether this machine confines,
why not, and the fix (README: What an agent can touch)."""

from __future__ import annotations

from pathlib import Path

from hatchdoit.cli.doctor_check import Check
from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.availability import check


def project_confinement(root: str | Path) -> ConfinementConfig:
    """The project's `confinement:` section; the defaults when it cannot be loaded (the
    project's own check says why)."""
    from hatchdoit.config.loader import load_config
    from hatchdoit.core.errors import HatchdoitError

    try:
        return load_config(Path(root)).confinement
    except (HatchdoitError, OSError):
        return ConfinementConfig()


def check_confinement(config: ConfinementConfig) -> Check:
    network = f"agents reach {config.agent_network}, tests {config.test_network}"
    if config.mode == "off":
        return Check(
            "confinement",
            "warn",
            "off (hatchdoit.yaml): agents and their tests run with your whole account",
            "set `confinement: auto`",
        )
    found = check()
    if found.available:
        return Check("confinement", "ok", f"{config.mode}: confined by {found.reason}; {network}")
    if config.mode == "required":
        return Check(
            "confinement", "fail", f"required, but cannot confine: {found.reason}", found.fix
        )
    return Check(
        "confinement",
        "warn",
        f"auto: cannot confine ({found.reason}): a local doit runs agents and tests UNCONFINED "
        "(one WARN line per build), `hatchdoit ci` refuses",
        found.fix,
    )
