"""An agent's confinement without srt, on Linux: bubblewrap with the agent's policy (bwrap.py),
its hosts through a filtering proxy started by its launcher (launch.py), and the target repo's
`.git/config` read as a scrubbed copy (gitconfig.py). None where it cannot be had (not Linux, no
bubblewrap, socat or seccomp helper): srt is used then."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.confinement.bwrap import bwrap_argv
from hatchdoit.confinement.gitconfig import scrubbed_text
from hatchdoit.confinement.policy import Policy, git_config_of
from hatchdoit.core.atomicio import write_atomic, write_json_atomic

PROXY = "http://127.0.0.1:3128"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def agent_prefix(policy: Policy, env: Mapping[str, str], spec: Path) -> list[str] | None:
    """What launch_agent.sh puts before the agent's argv; `spec` (and the scrubbed config
    beside it) are written now, where the agent cannot write."""
    out = bwrap_argv([], policy, env, proxied=True)
    if out is None or shutil.which("socat") is None:
        return None
    cut = len(out) - 1 - out[::-1].index("--")
    bwrap, helper = out[:cut], out[cut + 1]
    config = policy.git_config or git_config_of(policy.workspace)
    if config is not None and config.is_file():
        copy = spec.with_name(spec.name + ".gitconfig")
        write_atomic(copy, scrubbed_text(config))
        bwrap += ["--ro-bind", str(copy), str(config)]
    for name in PROXY_VARS:
        bwrap += ["--setenv", name, PROXY]
    if not policy.keep_no_proxy:  # a loopback host (a local stand-in) goes through the proxy
        bwrap += ["--unsetenv", "NO_PROXY", "--unsetenv", "no_proxy"]
    write_json_atomic(spec, {"bwrap": bwrap, "helper": helper, "hosts": list(policy.hosts)})
    spec.chmod(0o600)
    return [sys.executable, "-m", "hatchdoit.confinement.launch", str(spec)]
