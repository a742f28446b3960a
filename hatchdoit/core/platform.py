"""What this operating system offers hatchdoit, feature by feature, and what is used instead where
a feature is missing (macOS has no pidfd, no `waitid` before Python 3.13, no PR_SET_PDEATHSIG, no
/proc and no mount namespaces).

HATCHDOIT_TEST_PLATFORM is a switch for the test suite only, so that the fallbacks run on the
Linux machines CI has: a comma-separated list of features to treat as missing here (`pidfd`,
`waitid`, `pdeathsig`, `proc`, `namespaces`), or `macos` for all of them. No user sets it; the
fallbacks are what a platform without the feature runs anyway.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

SIMULATE = "HATCHDOIT_TEST_PLATFORM"
FEATURES = ("pidfd", "waitid", "pdeathsig", "proc", "namespaces")


def simulated_missing() -> frozenset[str]:
    """The features the test switch removes (read at each call: tests set it per process)."""
    raw = os.environ.get(SIMULATE, "")
    names = {n.strip() for n in raw.split(",") if n.strip()}
    if "macos" in names:
        names |= set(FEATURES)
    return frozenset(names & set(FEATURES))


def has_pidfd() -> bool:
    """os.pidfd_open (Linux 5.3+): a worker's end is an event on a descriptor."""
    return hasattr(os, "pidfd_open") and "pidfd" not in simulated_missing()


def has_waitid_nowait() -> bool:
    """os.waitid with WNOWAIT: how a child ended, without reaping it (doit reaps its workers)."""
    return hasattr(os, "waitid") and hasattr(os, "WNOWAIT") and "waitid" not in simulated_missing()


def has_pdeathsig() -> bool:
    """prctl(PR_SET_PDEATHSIG): the kernel kills a worker when the build's main process dies."""
    return sys.platform.startswith("linux") and "pdeathsig" not in simulated_missing()


def has_proc() -> bool:
    """/proc with Linux's layout (/proc/locks, /proc/PID/stat)."""
    return os.path.isfile("/proc/self/stat") and "proc" not in simulated_missing()


def has_namespaces() -> bool:
    """Mount namespaces (unshare): the read-only view of the plan an agent gets. Whether this
    machine permits them is probed by scripts/mount/readonly_view.sh --probe; this says only
    whether the operating system has them at all."""
    return sys.platform.startswith("linux") and "namespaces" not in simulated_missing()


def platform_name() -> str:
    """`linux`, `macos`, or sys.platform; `(simulated: ...)` names what the test switch removed."""
    linux = sys.platform.startswith("linux")
    name = "linux" if linux else {"darwin": "macos"}.get(sys.platform, sys.platform)
    missing = simulated_missing()
    return f"{name} (simulated without {', '.join(sorted(missing))})" if missing else name


@dataclass(frozen=True)
class Feature:
    """One thing hatchdoit needs from the operating system and how it is done here."""

    name: str
    native: bool
    how: str


def features() -> list[Feature]:
    """Each feature with the means this platform gives it (for `hatchdoit doctor`)."""
    pidfd = has_pidfd()
    waitid = has_waitid_nowait()
    return [
        Feature(
            "worker watch",
            pidfd,
            "pidfd_open (an event per worker)" if pidfd else "polling each worker's pid (0.5 s)",
        ),
        Feature(
            "worker exit status",
            waitid,
            "waitid(WNOWAIT)"
            if waitid
            else "unknown: a worker left unreaped is taken as lost (no waitid WNOWAIT)",
        ),
        Feature(
            "workers die with the build",
            has_pdeathsig(),
            "PR_SET_PDEATHSIG"
            if has_pdeathsig()
            else "each worker watches its parent and ends itself when the parent is gone",
        ),
        Feature(
            "process CPU and build-lock holders",
            has_proc(),
            "/proc" if has_proc() else "psutil; the build lock's holder from its recorded pid",
        ),
        Feature(
            "read-only plan view",
            has_namespaces(),
            "mount namespaces (unshare), where this machine permits them"
            if has_namespaces()
            else "snapshot: agents get read-only copies of their specs (no mount namespaces)",
        ),
        Feature(
            "file events",
            True,
            "watchdog (inotify on Linux, FSEvents on macOS, kqueue on BSD)",
        ),
    ]
