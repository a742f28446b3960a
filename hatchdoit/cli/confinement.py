"""`hatchdoit confinement [install]`: what confines agents and tests here, and installing it.

`hatchdoit confinement install` puts the pinned srt (@anthropic-ai/sandbox-runtime) into
`~/.cache/hatchdoit/sandbox-runtime/<version>/` with npm and names the system packages that are
missing (bubblewrap, socat, ripgrep on Linux); exit 1 while something is missing. Without
`install` it only says what is in force (as `hatchdoit doctor`'s confinement line does).
"""

from __future__ import annotations

import argparse

from hatchdoit.cli.command import Command
from hatchdoit.core.errors import EXIT_FAILED, EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="?", choices=["install", "status"], default="status",
        help="install: the pinned srt into the cache; status (default): what is in force",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from hatchdoit.cli.doctor_confinement import check_confinement, project_confinement

    if args.action == "install":
        from hatchdoit.confinement.install import install_srt, system_hint

        print(f"installed {install_srt()}")
        hint = system_hint()
        if hint:
            print(f"missing system packages: run `{hint}`")
    check = check_confinement(project_confinement(args.root))
    fix = f" (fix: {check.fix})" if check.fix else ""
    print(f"confinement: {check.status}: {check.detail}{fix}")
    incomplete = args.action == "install" and check.status != "ok"
    return EXIT_FAILED if check.status == "fail" or incomplete else EXIT_OK


COMMANDS = [
    Command(
        "confinement",
        "what confines agents and their tests here; `install` installs the pinned sandbox",
        run,
        arguments,
    )
]
