"""`hatchdoit init`: make a git repo a hatchdoit project. Nothing is copied: the scripts, the
agent profiles and the prompt templates stay in the installed package (a project's own
`agents/` only adds to or overrides them). What init writes carries a version stamp that
`hatchdoit doctor` compares with the installed package."""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping
from pathlib import Path

from hatchdoit import __version__
from hatchdoit.cli.init_agent import choose_agent
from hatchdoit.cli.init_detect import Detected, detect_project, flow, workspace_block
from hatchdoit.core import bundled
from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.errors import ConfigError
from hatchdoit.planning.formats.registry import detect_format, planning_block, view_paths
from hatchdoit.planning.mount import ensure_view
from hatchdoit.project import agents_search

STAMP = "written by hatchdoit init {version}"
STAMP_RE = re.compile(r"written by hatchdoit init (\S+)")
STAMPED = ("hatchdoit.yaml", "dodo.py", "doit.cfg")

CONFIG = """# hatchdoit configuration, {stamp} (every key: hatchdoit config-doc)
specs: specs_link            # the planning repo, read-only
{planning}target:
  repo: .                    # agents work on worktrees of this repo
worktrees: .hatchdoit/worktrees  # a dot-folder: out of the way of test runners and linters
integrate: merge             # approved work is merged into the integration branch (tested on
                             # the merged tree first); squash | rebase | pr (a pull request per
                             # TaskSpec, with gh) | none
agents:                      # {why}; HATCHDOIT_AGENT overrides
  factory: {agent}
  qa: {agent}
limits:
  max_attempts: 3
{workspace}"""

# The two lines that add the plan's tasks to a dodo.py (build/graph.py: add_tasks).
IMPORT_LINE = "from hatchdoit.graph import add_tasks"
CALL_LINE = "add_tasks(globals())"
DODO = f'''"""doit entry point: hatchdoit's tasks for the plan in hatchdoit.yaml ({{stamp}})."""

{IMPORT_LINE}

{CALL_LINE}
'''

DOIT_CFG = """# doit's settings for hatchdoit's tasks ({stamp})
[GLOBAL]
dep_file = _logs/.doit.db
backend = sqlite3

[list]
subtasks = True
status = True
sort = definition
"""

# What a build makes in the repo: its logs and records, the worktrees, the planning repo's view.
IGNORES = ("/_logs/", "/.hatchdoit/", "/specs_link")


def init_project(
    root: Path,
    specs: Path,
    environ: Mapping[str, str],
    *,
    agent: str | None = None,
    force: bool = False,
) -> list[str]:
    """Write hatchdoit.yaml, dodo.py (or say what to add to the one there), doit.cfg,
    specs_link and ignores; return what was done, line by line. Every check comes first: a
    refusal leaves the repo as it was."""
    root = root.resolve()
    specs = specs.resolve()
    fmt = detect_format(specs) if specs.is_dir() else None
    found = detect_project(root, environ)
    test_command = flow(found.test_command) if found and found.test_command else None
    # no plan there: a ConfigError naming the layouts
    planning = planning_block(specs, fmt, test_command)
    if not (root / ".git").exists():
        raise ConfigError("not a git repository", path=root, fix="run `git init` first")
    name, why = choose_agent(agents_search(root, "agents"), environ, agent)
    stamp = STAMP.format(version=__version__)
    done = [f"planning repo: {specs} ({fmt})", f"agent: {name} ({why})", _found(found)]
    config = CONFIG.format(
        stamp=stamp,
        planning=planning,
        workspace=workspace_block(found),
        agent=name,
        why=why.split(":")[0],
    )
    done += _write(root / "hatchdoit.yaml", config, force)
    done += _dodo(root / "dodo.py", stamp, force)
    done += _write(root / "doit.cfg", DOIT_CFG.format(stamp=stamp), force)
    link = root / "specs_link"
    if link.is_symlink():
        link.unlink()
    script = bundled.SCRIPTS / "mount" / "ensure_readonly_mount.sh"
    view = ensure_view(script, link, specs, expect=view_paths(fmt or "auto", specs))
    done.append(f"specs_link -> {view['resolved']} ({view['mode']})")
    ignore = root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    missing = [entry for entry in IGNORES if entry not in lines]
    if missing:
        write_atomic(ignore, "\n".join([*lines, *missing]) + "\n")
        done.append(f"added {', '.join(missing)} to .gitignore")
    done.append(
        "commit for CI: hatchdoit.yaml, dodo.py, doit.cfg, .gitignore; ignored: _logs/ (the "
        "build's records), .hatchdoit/ (worktrees), specs_link"
    )
    done.append("next: hatchdoit doctor, then doit list")
    return done


def _found(found: Detected | None) -> str:
    if found is None:
        return "project: nothing detected; write workspace.setup in hatchdoit.yaml"
    setup = "; ".join(" ".join(argv) for argv in found.setup) or "none"
    test = " ".join(found.test_command) if found.test_command else "none found, set one"
    return f"project: {found.kind} (setup: {setup}; tests: {test})"


def _write(path: Path, text: str, force: bool) -> list[str]:
    if not path.exists():
        write_atomic(path, text)
        return [f"wrote {path.name}"]
    old = path.read_text(encoding="utf-8")
    if old == text:
        return [f"kept {path.name} (up to date)"]
    if not force:
        return [f"kept {path.name} (exists; --force overwrites, showing the diff)"]
    write_atomic(path, text)
    return [f"rewrote {path.name}:", *_diff(path.name, old, text)]


def _dodo(path: Path, stamp: str, force: bool) -> list[str]:
    """A new dodo.py, or hatchdoit's two lines in the user's own: printed to add, or (--force)
    inserted, the import after its imports and the call at the end. Its own tasks stay."""
    if not path.exists():
        return _write(path, DODO.format(stamp=stamp), force)
    old = path.read_text(encoding="utf-8")
    if re.search(r"\b(add_tasks|doit_namespace)\(", old):
        return ["kept dodo.py (it adds hatchdoit's tasks)"]
    new = _with_hatchdoit(old, stamp)
    if not force or new is None:
        why = "it does not parse" if new is None else "--force adds them"
        return [
            f"dodo.py exists: add these two lines to it, the call last ({why}):",
            f"    {IMPORT_LINE}",
            f"    {CALL_LINE}",
        ]
    write_atomic(path, new)
    return ["added hatchdoit's tasks to dodo.py:", *_diff("dodo.py", old, new)]


def _with_hatchdoit(source: str, stamp: str) -> str | None:
    """`source` with IMPORT_LINE after its leading imports and CALL_LINE at the end."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    at = 0  # the line after which the import goes: the last leading import, or the docstring
    for node in body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and at == 0
        if not (is_doc or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        at = node.end_lineno or at
    lines = source.splitlines()
    lines[at:at] = [IMPORT_LINE]
    text = "\n".join(lines).rstrip("\n")
    return f"{text}\n\n# hatchdoit's tasks for the plan in hatchdoit.yaml ({stamp})\n{CALL_LINE}\n"


def _diff(name: str, old: str, new: str) -> list[str]:
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm=""
    )
    return [f"    {line}" for line in diff]


def stamped_version(path: Path) -> str | None:
    """The hatchdoit version that `init` wrote `path` with; None if it carries no stamp."""
    try:
        found = STAMP_RE.search(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    return found.group(1) if found else None
