"""`hatchdoit config-doc`: the configuration reference, generated from the model."""

from __future__ import annotations

import argparse
from pathlib import Path

from hatchdoit.cli.command import Command
from hatchdoit.core.errors import EXIT_FAILED, EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="write to this file instead of stdout")
    parser.add_argument("--check", metavar="PATH", help="exit 1 if PATH is not up to date")
    parser.add_argument("--profiles", action="store_true", help="the agent profile fields instead")


def run(args: argparse.Namespace) -> int:
    if args.profiles:
        from hatchdoit.agents.profile_reference import profile_reference

        text = profile_reference()
    else:
        from hatchdoit.config.reference import config_reference

        text = config_reference()
    if args.check:
        current = Path(args.check).read_text(encoding="utf-8") if Path(args.check).exists() else ""
        if current != text:
            print(f"{args.check} is out of date: run hatchdoit config-doc --out {args.check}")
            return EXIT_FAILED
        return EXIT_OK
    if args.out:
        from hatchdoit.core.atomicio import write_atomic

        write_atomic(Path(args.out), text)
        print(f"wrote {args.out}")
        return EXIT_OK
    print(text, end="")
    return EXIT_OK


COMMANDS = (
    Command(
        "config-doc",
        "Print (or write, or check) the configuration reference generated from the model.",
        run,
        arguments,
    ),
)
