"""`hatchdoit init`: make an execution repo a hatchdoit project."""

from __future__ import annotations

import shutil
from pathlib import Path

from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.errors import ConfigError
from hatchdoit.planning.mount import ensure_view
from hatchdoit.project import find_resources

CONFIG = """# hatchdoit configuration (see the user guide for every key)
specs: specs_link            # the planning repo, read-only
target:
  repo: .                    # agents work on worktrees of this repo
integrate: merge             # approved work is merged into the integration branch (tested on
                             # the merged tree first); squash | rebase | pr (a pull request per
                             # TaskSpec, with gh) | none
agents:
  factory: scripted          # e.g. claude-code; HATCHDOIT_AGENT overrides
  qa: scripted
limits:
  max_attempts: 3
"""

DOIT_CFG = """[GLOBAL]
dep_file = _logs/.doit.db
backend = sqlite3

[list]
subtasks = True
status = True
sort = definition
"""

IGNORES = ("/_logs/", "/_worktrees/", "/specs_link")


def init_project(root: Path, specs: Path, *, force: bool = False) -> list[str]:
    """Write dodo.py, hatchdoit.yaml, doit.cfg, specs_link, scripts/, agents/ and ignores."""
    root = root.resolve()
    specs = specs.resolve()
    if not (specs / "_specs").is_dir():
        raise ConfigError("no _specs/ directory", path=specs, fix="pass the planning repo's root")
    if not (root / ".git").exists():
        raise ConfigError("not a git repository", path=root, fix="run `git init` first")
    done = []
    resources = find_resources(Path(__file__).resolve().parent.parent)
    dodo = (resources / "dodo.py").read_text(encoding="utf-8")
    for name, text in (("dodo.py", dodo), ("hatchdoit.yaml", CONFIG), ("doit.cfg", DOIT_CFG)):
        path = root / name
        if path.exists() and not force:
            done.append(f"kept {name} (exists; --force overwrites)")
            continue
        write_atomic(path, text)
        done.append(f"wrote {name}")
    link = root / "specs_link"
    if link.is_symlink():
        link.unlink()
    view = ensure_view(resources / "scripts" / "mount" / "ensure_readonly_mount.sh", link, specs)
    done.append(f"specs_link -> {view['resolved']} ({view['mode']})")
    for folder in ("scripts", "agents"):
        target = root / folder
        if target.exists() and not force:
            done.append(f"kept {folder}/ (exists)")
            continue
        shutil.copytree(resources / folder, target, dirs_exist_ok=True)
        done.append(f"copied {folder}/")
    ignore = root / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    missing = [entry for entry in IGNORES if entry not in lines]
    if missing:
        write_atomic(ignore, "\n".join([*lines, *missing]) + "\n")
        done.append(f"added {', '.join(missing)} to .gitignore")
    return done
