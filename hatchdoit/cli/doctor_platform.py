"""doctor's checks of the platform: which operating system this is, what each feature hatchdoit
needs from it uses here (core/platform.py), and the bash the bundled scripts run with."""

from __future__ import annotations

import shutil

from hatchdoit.cli.doctor_check import Check, run_tool, version_tuple
from hatchdoit.core import platform

BASH_MINIMUM = (4, 2)  # {fd} redirections, $BASHPID, printf %(...)T: see scripts/lib/common.sh


def check_bash() -> Check:
    """The first bash on PATH (the scripts' `#!/usr/bin/env bash` and hatchdoit run that one)."""
    fix = "put bash 4.2 or newer first on PATH (macOS: brew install bash)"
    bash = shutil.which("bash")
    if bash is None:
        return Check("bash", "fail", "not on PATH", fix)
    code, out = run_tool([bash, "-c", 'echo "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}"'])
    version = version_tuple(out) if code == 0 else ()
    if version < BASH_MINIMUM:
        return Check("bash", "fail", f"{bash} is bash {out or '?'}; the scripts need 4.2+", fix)
    return Check("bash", "ok", f"{bash} (bash {out})")


def check_platform() -> list[Check]:
    """The platform and, per feature, how it is done here: natively, or by its fallback."""
    checks = [Check("platform", "ok", platform.platform_name())]
    for feature in platform.features():
        checks.append(Check(feature.name, "ok", feature.how))
    checks.append(check_bash())
    return checks
