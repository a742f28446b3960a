"""Measures 3, 4 and 6: a planning repo of N generated TaskSpecs (1000 in the full run).

3. `doit list --all --status` with nothing built, against bare doit with the same task graph of
   trivial file tasks (bench/bare_dodo.py; the task counts are checked equal).
4. All done (hatchdoit: artifacts written through its own functions, see done_state.py; bare:
   built once by doit), then a no-op `doit` on each.
6. `hatchdoit status` with nothing built and with everything done.
Each command runs `repeats` times, hatchdoit and bare alternating; medians are reported.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.done_state import write_all_done
from bench.fixtures import HatchProject, Sandbox, Timed, doit_argv, hatchdoit_argv, run_timed
from bench.results import Row, Section, median, mib, secs
from bench.sizes import Sizes
from hatchdoit.project import load_project
from tests.projects import module_body, write_featspec, write_taskspec

TARGET_RATIO = 1.5
TARGET_STATUS = 0.5
CHAIN = 10  # TaskSpecs per FeatSpec, each depending on the one before it


def generate(project: HatchProject, count: int) -> list[dict[str, Any]]:
    """Write `count` TaskSpecs in chains of CHAIN under one FeatSpec per chain."""
    entries: list[dict[str, Any]] = []
    for i in range(count):
        fid = f"FS-{i // CHAIN:03d}-BENCH"
        if i % CHAIN == 0:
            write_featspec(project.planning, fid, f"Bench feature {i // CHAIN}")
        tid = f"{i:04d}-TS-2025-08-18-BENCH"
        deps = [entries[-1]["id"]] if i % CHAIN else []
        path = write_taskspec(
            project.planning,
            tid,
            fid,
            module_body(f"m{i:04d}", f"f{i:04d}"),
            depends_on=deps,
            test_command="true",
        )
        entries.append({"id": tid, "deps": deps, "spec": str(path)})
    return entries


def make_bare(sandbox: Sandbox, entries: list[dict[str, Any]], attempts: int) -> Path:
    bare = sandbox.root / "bare"
    bare.mkdir()
    shutil.copyfile(Path(__file__).with_name("bare_dodo.py"), bare / "dodo.py")
    plan = {"taskspecs": entries, "attempts": attempts}
    (bare / "bare.json").write_text(json.dumps(plan), encoding="utf-8")
    return bare


class Pair:
    """Runs the same command in the hatchdoit project and the bare one, alternating."""

    def __init__(self, project: HatchProject, bare: Path, repeats: int) -> None:
        self.project, self.bare, self.repeats = project, bare, repeats

    def hatch(self, argv: list[str], what: str) -> Timed:
        return run_timed(argv, cwd=self.project.root, env=self.project.env, timeout=600).check(what)

    def plain(self, argv: list[str], what: str) -> Timed:
        return run_timed(argv, cwd=self.bare, env=self.project.env, timeout=600).check(what)

    def both(self, args: list[str], what: str) -> tuple[list[Timed], list[Timed]]:
        hatch: list[Timed] = []
        bare: list[Timed] = []
        for _ in range(self.repeats):
            hatch.append(self.hatch(doit_argv(*args), f"hatchdoit {what}"))
            bare.append(self.plain(doit_argv(*args), f"bare doit {what}"))
        return hatch, bare

    def status(self, *args: str) -> list[Timed]:
        return [
            self.hatch(hatchdoit_argv("status", *args), "hatchdoit status")
            for _ in range(self.repeats)
        ]


def _walls(runs: list[Timed]) -> list[float]:
    return [t.wall for t in runs]


def _figures(runs: list[Timed]) -> dict[str, Any]:
    return {
        "walls": _walls(runs),
        "median": median(_walls(runs)),
        "cpu_median": median([t.cpu for t in runs]),
        "max_rss_kib": max(t.max_rss_kib for t in runs),
    }


def _statuses(listing: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in listing.splitlines():
        if line.strip():
            key = line.split()[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


def _reports_all_done(state: Any, count: int) -> bool | None:
    """Whether `hatchdoit status --json` says all `count` TaskSpecs are done (None: a format
    this bench does not know; the command is being extended)."""
    if not isinstance(state, dict):
        return None
    totals = state.get("totals")
    if isinstance(totals, dict) and "done" in totals:
        return bool(totals["done"] == count)
    entries = state.get("taskspecs")
    if isinstance(entries, dict):
        entries = list(entries.values())
    if isinstance(entries, list):
        done = [e for e in entries if isinstance(e, dict) and e.get("status") == "done"]
        return len(done) == count == len(entries)
    return None


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    project = sandbox.project("scale")
    project.configure(limits={"poll_interval": 0.5})
    entries = generate(project, sizes.taskspecs)
    attempts = load_project(project.root).config.limits.max_attempts
    bare = make_bare(sandbox, entries, attempts)
    pair = Pair(project, bare, sizes.repeats)
    data: dict[str, Any] = {"taskspecs": sizes.taskspecs, "max_attempts": attempts}

    counts = [
        len(pair.hatch(doit_argv("list", "--all"), "list").stdout.splitlines()),
        len(pair.plain(doit_argv("list", "--all"), "list").stdout.splitlines()),
    ]
    if counts[0] != counts[1]:
        raise RuntimeError(f"task counts differ: hatchdoit {counts[0]}, bare {counts[1]}")
    tasks = data["doit_tasks"] = counts[0]

    hatch_list, bare_list = pair.both(["list", "--all", "--status"], "list (nothing built)")
    data["list_fresh"] = {"hatchdoit": _figures(hatch_list), "bare": _figures(bare_list)}
    data["status_fresh"] = _figures(pair.status())

    started = time.perf_counter()
    pair.plain(doit_argv(), "bare doit build")
    data["bare_build_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    write_all_done(project.root)
    data["done_state_write_seconds"] = time.perf_counter() - started

    hatch_done, bare_done = pair.both(["list", "--all", "--status"], "list (all done)")
    data["list_done"] = {"hatchdoit": _figures(hatch_done), "bare": _figures(bare_done)}
    shown = _statuses(hatch_done[0].stdout), _statuses(bare_done[0].stdout)
    data["list_done_statuses"] = {"hatchdoit": shown[0], "bare": shown[1]}
    if set(shown[0]) != {"U"}:
        # A no-op `doit` on a project that is not all done would launch real agents. (Bare
        # doit's six group tasks have no actions and always list as R, as doit's groups do.)
        raise RuntimeError(f"not everything is up to date after the done state: {shown}")

    hatch_noop, bare_noop = pair.both([], "no-op run")
    data["noop"] = {"hatchdoit": _figures(hatch_noop), "bare": _figures(bare_noop)}
    ran = [line for line in hatch_noop[0].stdout.splitlines() if line.startswith(".")]
    if ran:
        raise RuntimeError(f"the no-op hatchdoit build ran {len(ran)} task(s), e.g. {ran[0]}")
    data["status_done"] = _figures(pair.status())
    data["status_done_json"] = _figures(pair.status("--json"))
    state = json.loads(pair.hatch(hatchdoit_argv("status", "--json"), "status").stdout)
    data["status_reports_all_done"] = _reports_all_done(state, sizes.taskspecs)
    return Section(name="scale", rows=_rows(data, sizes.taskspecs, tasks), data=data)


def _rows(data: dict[str, Any], n: int, tasks: int) -> list[Row]:
    rows = []
    for key, label, figures in (
        ("list_scale", "`doit list --all --status`, nothing built", data["list_fresh"]),
        ("list_scale_done", "`doit list --all --status`, all done", data["list_done"]),
        ("noop_scale", "no-op `doit` rerun, all done", data["noop"]),
    ):
        hatch, bare = figures["hatchdoit"], figures["bare"]
        ratio = hatch["median"] / bare["median"]
        rows.append(
            Row(
                key=key,
                measure=f"{n} TaskSpecs ({tasks} doit tasks): {label}",
                hatchdoit=secs(hatch["median"]),
                baseline=f"{secs(bare['median'])} (bare doit, same graph)",
                comparison=f"{ratio:.2f}x",
                target="<= 1.5x" if key != "list_scale_done" else "(no target)",
                met=ratio <= TARGET_RATIO if key != "list_scale_done" else None,
                note=(
                    f"CPU {secs(hatch['cpu_median'])} vs {secs(bare['cpu_median'])}; "
                    f"peak RSS {mib(hatch['max_rss_kib'])} vs {mib(bare['max_rss_kib'])}"
                ),
            )
        )
    for key, label, figures in (
        ("status_scale", "`hatchdoit status`, all done", data["status_done"]),
        ("status_scale_fresh", "`hatchdoit status`, nothing built", data["status_fresh"]),
    ):
        rows.append(
            Row(
                key=key,
                measure=f"{n} TaskSpecs: {label}",
                hatchdoit=secs(figures["median"]),
                baseline="-",
                comparison="-",
                target="<= 0.5 s",
                met=figures["median"] <= TARGET_STATUS,
                note=f"CPU {secs(figures['cpu_median'])}"
                + (
                    f"; `--json`: {secs(data['status_done_json']['median'])}"
                    if key == "status_scale"
                    else ""
                ),
            )
        )
    return rows
