"""Whether this machine can confine, and if not why and what fixes it.

On Linux it needs unprivileged user namespaces (bubblewrap), bubblewrap, socat and ripgrep, node
and the pinned srt; Ubuntu 23.10 and later (GitHub's ubuntu-latest included) restrict
unprivileged user namespaces through AppArmor (`kernel.apparmor_restrict_unprivileged_userns`).
On macOS sandbox-exec is built in; ripgrep and srt are needed. The last check runs srt once on
`true`: whatever the checks above missed (a container without the capabilities, a seccomp
policy) shows there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hatchdoit.confinement.policy import Policy
from hatchdoit.confinement.srt import SRT_ENV, SRT_VERSION, srt_binary, write_settings

APT_PACKAGES = {"bwrap": "bubblewrap", "socat": "socat", "rg": "ripgrep"}
INSTALL = "hatchdoit confinement install"
APPARMOR_SYSCTL = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
APPARMOR_FIX = (
    "allow unprivileged user namespaces for bubblewrap: `sudo sysctl -w "
    "kernel.apparmor_restrict_unprivileged_userns=0` (persist it in /etc/sysctl.d/), or add an "
    "AppArmor profile granting `userns` to /usr/bin/bwrap (/etc/apparmor.d/bwrap)"
)


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str  # why not, or what confines
    fix: str = ""


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def missing_tools() -> list[str]:
    """The apt packages of the tools srt needs that are not on PATH (Linux)."""
    if not sys.platform.startswith("linux"):
        return [] if shutil.which("rg") else ["ripgrep"]
    return [pkg for tool, pkg in APT_PACKAGES.items() if shutil.which(tool) is None]


def _userns_problem() -> Availability | None:
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return Availability(
            False,
            "unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0)",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        )
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return Availability(
            False,
            "user namespaces are off (user.max_user_namespaces=0)",
            "sudo sysctl -w user.max_user_namespaces=15000",
        )
    return None


def _probe(srt: Path) -> Availability:
    """Run srt on `true` in an empty directory with a policy that allows nothing."""
    with tempfile.TemporaryDirectory(prefix="hatchdoit-probe-") as tmp:
        root = Path(tmp)
        (root / "ws").mkdir()
        policy = Policy(workspace=root / "ws", temp_dir=root / "tmp")
        settings = write_settings(policy, root / "srt.json")
        try:
            done = subprocess.run(
                [str(srt), "--settings", str(settings), "--", "true"],
                cwd=root / "ws",
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Availability(False, f"srt ({srt}) could not run: {exc}", f"run `{INSTALL}`")
    if done.returncode == 0:
        return Availability(True, f"srt {SRT_VERSION} ({_kind()})")
    said = (done.stderr or done.stdout).strip().splitlines()
    last = said[-1][:200] if said else f"exit code {done.returncode}"
    if _read(APPARMOR_SYSCTL) == "1":
        return Availability(
            False, f"AppArmor restricts unprivileged user namespaces: {last}", APPARMOR_FIX
        )
    fix = f"check `{srt} -d --settings FILE -- true`; run `{INSTALL}`"
    return Availability(False, f"srt cannot start a sandbox here: {last}", fix)


def _kind() -> str:
    return "bubblewrap" if sys.platform.startswith("linux") else "sandbox-exec"


def check() -> Availability:
    """Whether confinement works on this machine now (not cached: doctor)."""
    if not (sys.platform.startswith("linux") or sys.platform == "darwin"):
        return Availability(False, f"no sandbox for {sys.platform}", "run on Linux or macOS")
    missing = missing_tools()
    if missing:
        how = "apt-get install -y" if sys.platform.startswith("linux") else "brew install"
        return Availability(
            False, f"missing {', '.join(missing)}", f"{how} {' '.join(missing)}, then `{INSTALL}`"
        )
    srt = srt_binary()
    if not srt.exists():
        via = f" ({SRT_ENV} points there)" if SRT_ENV in os.environ else ""
        return Availability(False, f"srt {SRT_VERSION} is not installed at {srt}{via}", INSTALL)
    if shutil.which("node") is None and srt.name == "srt":
        return Availability(False, "node is not on PATH (srt runs on node)", "install nodejs")
    if sys.platform.startswith("linux"):
        problem = _userns_problem()
        if problem is not None:
            return problem
    return _probe(srt)


@cache
def check_cached(srt: str) -> Availability:
    """check(), once per process and srt binary."""
    return check()


def availability() -> Availability:
    return check_cached(str(srt_binary()))
