"""`hatchdoit init`'s choice of agent: `--agent PROFILE`, else the first real agent CLI installed
(Claude Code, then Codex), found the way `hatchdoit doctor` finds it. The scripted agent is for
the demo and the tests: it is chosen only when asked for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from hatchdoit.agents.profiles import load_profile
from hatchdoit.agents.setup import resolve_bin
from hatchdoit.cli.doctor_check import run_tool
from hatchdoit.core.errors import ConfigError, HatchdoitError

# In order of preference: the profile and how a person calls its CLI.
REAL_AGENTS = (("claude-code", "Claude Code"), ("codex", "Codex"))


def choose_agent(
    dirs: Sequence[Path], environ: Mapping[str, str], asked: str | None
) -> tuple[str, str]:
    """The profile init writes for both roles, and why it was chosen (said to the user)."""
    if asked:
        load_profile(dirs, asked)  # an unknown or invalid profile is a ConfigError here
        return asked, "chosen with --agent"
    tried = []
    for name, label in REAL_AGENTS:
        loaded = load_profile(dirs, name)
        try:
            binary = resolve_bin(loaded, environ)
        except HatchdoitError:
            tried.append(label)
            continue
        assert binary is not None  # the real agents' profiles name their executable
        exe = loaded.profile.executable
        code, out = run_tool([binary, *(exe.version_args if exe else ["--version"])])
        if code == 0:
            version = out.splitlines()[0] if out else "?"
            return name, f"found {label}: {binary} {version}"
        tried.append(f"{label} ({binary} does not run)")
    raise ConfigError(
        f"no agent CLI found (tried {', '.join(tried)})",
        field="--agent",
        fix="install Claude Code or Codex (`hatchdoit doctor` says how), or pass --agent "
        "PROFILE (--agent scripted: the bundled scripted agent, for a dry run)",
    )
