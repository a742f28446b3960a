"""`python -m bench [--quick] [--only NAMES] [--out PATH] [--json PATH] [--keep] [--taskspecs N]`

Runs from the checkout's root. Progress goes to stderr; stdout gets the JSON document, then the
markdown table. Exit status 0 when every measure ran (missed targets included: they are
findings, not failures), 1 when a measure could not run.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    concurrency,
    confinement,
    end_to_end,
    integration,
    makespan,
    merge_batch,
    provider_resume,
    scale,
    shared_runners,
    stop_latency,
    workspace,
)
from bench.fixtures import CHECKOUT, Sandbox
from bench.machine import machine_info
from bench.report import document, markdown, write_doc
from bench.results import Section, failed_rows
from bench.sizes import FULL, QUICK, Sizes

Measure = Callable[[Sandbox, Sizes], Section]
# name -> (function, the rows it reports: shown as "not measured" if it fails)
MEASURES: dict[str, tuple[Measure, list[tuple[str, str]]]] = {
    "stop": (
        stop_latency.run,
        [("stop_latency", "stop file written -> waiting step returns")],
    ),
    "e2e": (
        end_to_end.run,
        [
            ("end_to_end", "one TaskSpec end to end"),
            ("stack_floor", "the chosen stack's start-up"),
            ("further_taskspec", "each further TaskSpec"),
            ("stop_in_build", "stop -> next step"),
        ],
    ),
    "scale": (
        scale.run,
        [
            ("list_scale", "`doit list --all --status`"),
            ("noop_scale", "no-op `doit` rerun"),
            ("status_scale", "`hatchdoit status`"),
        ],
    ),
    "concurrent": (
        concurrency.run,
        [("concurrent", "concurrent sessions"), ("throughput", "throughput")],
    ),
    "integrate": (
        integration.run,
        [
            ("integration_overhead", "one integration beyond its tests"),
            ("integration_sequence", "TaskSpecs integrated in sequence"),
        ],
    ),
    "batch": (
        merge_batch.run,
        [
            ("merge_batch_time", "integration time"),
            ("merge_batch_culprit_runs", "test runs with a culprit"),
        ],
    ),
    "makespan": (
        makespan.run,
        [(f"makespan_{o.replace('-', '_')}", "makespan") for o in makespan.ORDERS],
    ),
    "resume": (
        provider_resume.run,
        [("provider_resume", "a usage limit's reset -> resumed work")],
    ),
    "workspace": (
        workspace.run,
        [
            ("workspace_setup", "a worktree's setup, first and later"),
            ("workspace_disk", "disk per set-up worktree"),
            ("demo_worktrees_disk", "disk under the worktrees root after the demo"),
        ],
    ),
    "confinement": (
        confinement.run,
        [("confinement_test_run", "one test run"), ("confinement_agent_launch", "agent launch")],
    ),
    "shared": (
        shared_runners.measure,
        [(f"shared_{n}", f"`ci --shared` on {n} machines") for n in shared_runners.MACHINES[1:]],
    ),
}


def _log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the smoke test)")
    parser.add_argument(
        "--only", default=",".join(MEASURES), help=f"comma-separated subset of {list(MEASURES)}"
    )
    parser.add_argument(
        "--out",
        default=str(CHECKOUT / "docs" / "benchmarks.md"),
        help="markdown file whose generated section is rewritten ('-' for none)",
    )
    parser.add_argument("--json", dest="json_out", help="also write the full JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temp projects")
    parser.add_argument("--taskspecs", type=int, help="override the generated TaskSpec count")
    parser.add_argument("--repeats", type=int, help="override the timings per command")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.taskspecs or args.repeats:
        sizes = dataclasses.replace(
            sizes,
            taskspecs=args.taskspecs or sizes.taskspecs,
            repeats=args.repeats or sizes.repeats,
        )
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        print(f"bench: unknown measure(s) {unknown}; choose from {list(MEASURES)}", file=sys.stderr)
        return 2
    started, wall = datetime.now(UTC), time.perf_counter()
    meta = {
        "started_at": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "sizes": sizes.__dict__,
        "loadavg_start": round(os.getloadavg()[0], 2),
    }
    # Bytecode as an installed package has it (an editable install compiles nothing, and with
    # PYTHONDONTWRITEBYTECODE no process writes any): else each doit, agent and hook process
    # of the run would compile hatchdoit's sources again.
    compileall.compile_dir(CHECKOUT / "hatchdoit", quiet=1)  # the bundled agents are in there
    meta["pythondontwritebytecode"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    machine = machine_info()
    _log(f"{meta['mode']} run on {machine['nproc']} CPU(s), load {meta['loadavg_start']}")
    sections: list[Section] = []
    for name in names:
        measure, keys = MEASURES[name]
        _log(f"{name} ...")
        begun = time.perf_counter()
        try:
            with Sandbox(keep=args.keep) as sandbox:
                if args.keep:
                    _log(f"  temp projects under {sandbox.root}")
                section = measure(sandbox, sizes)
        except Exception as exc:  # one failed measure must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            section = Section(name=name, rows=failed_rows(keys, repr(exc)), error=repr(exc))
        section.data["seconds"] = time.perf_counter() - begun
        _log(f"{name} done in {section.data['seconds']:.0f} s")
        sections.append(section)
    meta["seconds"] = time.perf_counter() - wall
    meta["loadavg_end"] = round(os.getloadavg()[0], 2)
    doc = document(machine, sections, meta)
    print(json.dumps(doc, indent=1, sort_keys=True))
    print()
    print(markdown(doc))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    if args.out != "-":
        write_doc(Path(args.out), doc)
        _log(f"wrote {args.out}")
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
