"""The plan formats hatchdoit reads: which module reads each, how a planning repo shows its
format, and the `planning:` block `hatchdoit init` writes for a repo. A new format is one module
in this folder and one line in each table below."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hatchdoit.config.models import PLAN_FORMATS
from hatchdoit.core.errors import ConfigError, SpecError

if TYPE_CHECKING:
    from hatchdoit.planning.formats.source import SourcePlan, Wanted

# format -> "module:function" reading it into a SourcePlan (source.py); imported when used, so
# that loading a native `_specs/` plan never imports them. The native format is plan.py's own.
READERS: dict[str, str] = {
    "spec-kit": "hatchdoit.planning.formats.speckit:read_plan",
    "taskmaster": "hatchdoit.planning.formats.taskmaster:read_plan",
    "kiro": "hatchdoit.planning.formats.kiro:read_plan",
}
# format -> globs under the repo root that show a repo is in it (the first format found wins)
MARKERS: dict[str, tuple[str, ...]] = {
    "hatchdoit": ("_specs/",),
    "spec-kit": ("specs/*/tasks.md",),
    "taskmaster": (".taskmaster/tasks/tasks.json", "tasks/tasks.json"),
    "kiro": (".kiro/specs/*/tasks.md",),
}
# format -> paths the read-only view must hold one of (ensure_readonly_mount.sh --expect; the
# script's own default is _specs/, the native format's)
VIEW_PATHS: dict[str, tuple[str, ...]] = {
    "spec-kit": ("specs",),
    "taskmaster": (".taskmaster/tasks/tasks.json", "tasks/tasks.json"),
    "kiro": (".kiro/specs",),
}
LAYOUTS = (
    "_specs/ (hatchdoit), specs/<feature>/tasks.md (spec-kit), .taskmaster/tasks/tasks.json "
    "or tasks/tasks.json (Task Master), .kiro/specs/<feature>/tasks.md (Kiro)"
)


def detect_formats(root: Path) -> list[str]:
    """Every format the planning repo at `root` has files of, in PLAN_FORMATS order."""
    found = []
    for name in PLAN_FORMATS:
        for pattern in MARKERS[name]:
            if pattern.endswith("/"):
                hit = (root / pattern).is_dir()
            else:
                hit = any(path.is_file() for path in root.glob(pattern))
            if hit:
                found.append(name)
                break
    return found


def detect_format(root: Path) -> str | None:
    """The format `format: auto` reads the planning repo at `root` in, or None."""
    found = detect_formats(root)
    return found[0] if found else None


def view_paths(fmt: str, root: Path) -> tuple[str, ...]:
    """What the read-only view of the planning repo at `root`, in format `fmt` (auto: the one
    detected), must hold one of, for ensure_view's `expect`; () for `_specs/`, its default."""
    if fmt == "auto":
        fmt = detect_format(root) or "hatchdoit"
    return () if fmt == "hatchdoit" else VIEW_PATHS[fmt]


def choose_format(
    root: Path, configured: str, errors: list[SpecError], warnings: list[SpecError]
) -> str:
    """The format to read: the configured one, or with auto the first found (a warning names
    the others); "" with an error when auto finds none. `_specs/` alone costs one stat."""
    if configured != "auto":
        return configured
    if (root / "_specs").is_dir():
        return "hatchdoit"
    found = detect_formats(root)
    if not found:
        errors.append(
            SpecError(
                "no _specs/ directory, and no spec-kit, Task Master or Kiro plan",
                path=root / "_specs",
                fix=f"point specs (HATCHDOIT_SPECS or specs:) at a planning repo with {LAYOUTS}",
            )
        )
        return ""
    if len(found) > 1:
        warnings.append(
            SpecError(
                f"holds plans in {', '.join(found)}: read as {found[0]}, the others ignored",
                path=root,
                field="planning.format",
                fix=f"set planning.format in hatchdoit.yaml to one of {', '.join(found)}",
            )
        )
    return found[0]


def reader(fmt: str) -> Callable[[Path, Wanted], SourcePlan]:
    module, _, name = READERS[fmt].partition(":")
    function: Callable[[Path, Wanted], SourcePlan] = getattr(importlib.import_module(module), name)
    return function


def planning_block(root: Path, fmt: str | None = None, test_command: str | None = None) -> str:
    """The `planning:` block of hatchdoit.yaml for the planning repo at `root` (in format `fmt`,
    else the one detected), as YAML text ending in a newline; what `hatchdoit init` writes.
    `test_command`: the target's test command as YAML text (init detects it), the default of
    every TaskSpec that names none."""
    fmt = fmt or detect_format(root)
    if fmt is None:
        raise ConfigError(
            "no plan found", path=root, fix=f"pass the root of a planning repo with {LAYOUTS}"
        )
    if fmt == "hatchdoit":
        block = "planning:\n  format: hatchdoit           # _specs/: FeatSpec and TaskSpec files\n"
        if test_command:
            block += (
                "  defaults:                  # what a TaskSpec file does not say\n"
                f"    test_command: {test_command}\n"
            )
        return block
    return (
        "planning:\n"
        f"  format: {fmt:<19}# detected; `hatchdoit plan` shows how it is read\n"
        "  include: []                # features or tags to build (empty: all)\n"
        "  infer_order: true          # dependencies from the plan's order "
        "(docs/planning-formats.md)\n"
        "  defaults:                  # what the plan does not say, for every TaskSpec\n"
        "    loc_cap: 400\n"
        f"    test_command: {test_command or 'python3 -m pytest -q'}   # the target's own test "
        "command\n"
        "    max_attempts: 3\n"
    )
