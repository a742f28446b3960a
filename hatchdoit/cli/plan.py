"""`hatchdoit plan [--json]`: how the planning repo was read, before anything is built: every
TaskSpec with its id, title, where the plan defines it, its dependencies (those the plan's
order implies marked), acceptance criteria, files and status in the plan, its place in the start
order with its priority and predicted duration (build/priority.py); then every problem."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from hatchdoit.build.priority import start_order
from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_CONFIG, EXIT_OK

if TYPE_CHECKING:
    from hatchdoit.project import Project


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable")


def run(args: argparse.Namespace) -> int:
    project = project_of(args)
    report = plan_report(project)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(render(report)))
    return EXIT_CONFIG if report["errors"] else EXIT_OK


def plan_report(project: Project) -> dict[str, Any]:
    """The plan as `hatchdoit plan --json` prints it."""
    plan = project.plan
    order = start_order(project)
    rows: list[dict[str, Any]] = []
    for tid, loaded in plan.taskspecs.items():
        spec = project.taskspec(tid)
        ranked = order[tid]
        source = spec.source or _relative(project, loaded.path)
        rows.append(
            {
                "id": tid,
                "title": spec.title,
                "featspec": spec.featspec,
                "source": source,
                "status": f"{spec.plan_status} (in plan)" if spec.plan_status else "to build",
                "note": spec.plan_note,
                "depends_on": list(spec.depends_on),
                "inferred": [d for d in spec.depends_on if d in spec.inferred_deps],
                "acceptance": list(spec.acceptance),
                "files": list(spec.files),
                "loc_cap": spec.loc_cap,
                "test_command": spec.test_command,
                "max_attempts": project.max_attempts(tid),
                "start_rank": ranked.rank + 1,
                "priority_s": ranked.priority,
                "predicted_s": ranked.prediction.seconds,
                "predicted_from": ranked.prediction.source,
                "expected_attempts": ranked.prediction.attempts,
            }
        )
    rows.sort(key=lambda row: _place(row["source"]))
    return {
        "specs": str(project.specs_root),
        "format": plan.format,
        "featspecs": [
            {"id": fid, "title": loaded.spec.title, "path": _relative(project, loaded.path)}
            for fid, loaded in plan.featspecs.items()
        ],
        "taskspecs": rows,
        "counts": taskspec_counts(project),
        "errors": [error.one_line() for error in plan.errors],
        "warnings": [warning.one_line() for warning in plan.warnings],
    }


def taskspec_counts(project: Project) -> str:
    """`N TaskSpec(s): X to build, Y done in the plan, Z skipped in the plan` (the parts that
    are not 0; `to build` always): how `hatchdoit plan` and `hatchdoit validate` both count.
    What failed to load is not counted here: each problem is a line of its own."""
    statuses = [project.taskspec(tid).plan_status for tid in project.plan.taskspecs]
    parts = [f"{statuses.count(None)} to build"] + [
        f"{n} {status} in the plan"
        for status in ("done", "skipped")
        if (n := statuses.count(status))
    ]
    return f"{len(statuses)} TaskSpec(s): {', '.join(parts)}"


def render(report: dict[str, Any]) -> list[str]:
    """The report as text: FeatSpec by FeatSpec, a block per TaskSpec."""
    rows = report["taskspecs"]
    lines = [
        f"{report['specs']}: read as {report['format'] or 'nothing'}: "
        f"{len(report['featspecs'])} FeatSpec(s), {report['counts']}",
    ]
    for feat in report["featspecs"]:
        lines += ["", f"{feat['id']}: {feat['title']} ({feat['path']})"]
        for row in (r for r in rows if r["featspec"] == feat["id"]):
            lines += _task_lines(row)
    if any(row["inferred"] for row in rows):
        lines += ["", "(order): a dependency the plan's order implies (planning.infer_order)"]
    for kind in ("warnings", "errors"):
        if report[kind]:
            lines += ["", f"{kind}:"] + [f"  {line}" for line in report[kind]]
    return lines


def _task_lines(row: dict[str, Any]) -> list[str]:
    lines = [f"  {row['id']}  [{row['status']}]  {row['title']}", f"      at {row['source']}"]
    if row["depends_on"]:
        deps = [f"{d} (order)" if d in row["inferred"] else d for d in row["depends_on"]]
        lines.append(f"      depends on: {', '.join(deps)}")
    if row["acceptance"]:
        lines.append("      acceptance:")
        lines += [f"        - {item}" for item in row["acceptance"]]
    if row["files"]:
        lines.append(f"      files: {', '.join(row['files'])}")
    if row["note"]:
        lines.append(f"      note: {row['note']}")
    lines.append(
        f"      start order: #{row['start_rank']}, priority {row['priority_s']:g}s (longest "
        f"chain of predicted work from here); predicted {row['predicted_s']:g}s "
        f"({row['predicted_from']}, {row['expected_attempts']:g} attempt(s))"
    )
    return lines


def _relative(project: Project, path: Any) -> str:
    try:
        return str(path.relative_to(project.specs_root))
    except ValueError:
        return str(path)


def _place(source: str) -> tuple[str, int]:
    """(file, line) of a `file:line` source, to list TaskSpecs as the plan has them."""
    where, _, line = source.rpartition(":")
    return (where, int(line)) if line.isdigit() else (source, 0)


COMMANDS = (
    Command(
        "plan",
        "How the planning repo is read: every TaskSpec with its source, dependencies (inferred "
        "ones marked), acceptance criteria, files and status in the plan (read-only).",
        run,
        arguments,
    ),
)
