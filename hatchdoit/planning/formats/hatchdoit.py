"""The native format: a planning repo's `_specs/`, one FeatSpec or TaskSpec per file (Markdown
with YAML front matter, or plain YAML). Find the files, read them (frontmatter.py) through the
parse cache, validate them (kinds.py); every problem goes to the plan's errors."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchdoit.config.models import PlanningConfig
from hatchdoit.core.errors import SpecError
from hatchdoit.planning import frontmatter
from hatchdoit.planning.formats.defaults import task_defaults
from hatchdoit.planning.frontmatter import read_spec_file
from hatchdoit.planning.kinds import spec_kind, validate_spec
from hatchdoit.planning.parse_cache import ParseCache, Signature, parser_key, signature
from hatchdoit.planning.specs import LoadedSpec, TaskSpec

if TYPE_CHECKING:
    from hatchdoit.planning.plan import Plan

SPEC_SUFFIXES = (".md", ".markdown", ".yaml", ".yml")
IGNORED_NAMES = {"README.md", "readme.md", "index.md"}
SPECS_DIR = "_specs"
BOUNDS = ("max_attempts", "test_timeout")  # defaults that only bound work: not inputs


def read_specs_dir(
    root: Path, plan: Plan, cache: Path | None = None, planning: PlanningConfig | None = None
) -> None:
    """Add every spec under `root/_specs` to `plan`; invalid specs go to `plan.errors`. With
    `cache`, parsed files are kept there and reused while unchanged (parse_cache.py). A
    TaskSpec takes what it does not say from `planning.defaults` (`planning.features.<its
    featspec>` above them): test_command, loc_cap, ..."""
    specs_dir = root / SPECS_DIR
    if not specs_dir.is_dir():
        plan.errors.append(
            SpecError(
                "no _specs/ directory",
                path=specs_dir,
                fix="point specs at a planning repo that has _specs/ (HATCHDOIT_SPECS or specs:)",
            )
        )
        return
    seen: dict[str, Path] = {}
    parsed = ParseCache(cache, parser_key(specs_dir, Path(frontmatter.__file__)))
    for path, st in _spec_files(specs_dir, plan):
        loaded = _load_one(path, signature(st), plan, parsed, planning)
        if loaded is None:
            continue
        spec = loaded.spec
        if spec.id in seen:
            plan.errors.append(
                SpecError(
                    f"duplicate id {spec.id!r}, also defined in {seen[spec.id]}",
                    path=path,
                    field="id",
                    fix="give each spec a unique id",
                )
            )
            continue
        seen[spec.id] = path
        target = plan.taskspecs if isinstance(spec, TaskSpec) else plan.featspecs
        target[spec.id] = loaded
    parsed.save()


def _spec_files(specs_dir: Path, plan: Plan) -> list[tuple[Path, os.stat_result]]:
    """Regular files with a spec suffix under `specs_dir`, in path order, each with its stat;
    names starting with '.' or '_' are skipped with all below them; a broken symlink is an
    error. One stat per file (a walk, not a glob followed by three checks per path), and
    strings until the end: sorting 1000 Paths took longer than the walk."""
    found: list[tuple[tuple[str, ...], str, os.stat_result]] = []  # (sort key, dir, stat)
    broken: list[Path] = []
    top = str(specs_dir)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        below = tuple(dirpath[len(top) :].split(os.sep)[1:])  # the parts Path order compares
        for name in filenames:
            if name.startswith((".", "_")) or name in IGNORED_NAMES:
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if os.path.islink(path):
                    broken.append(Path(path))
                continue
            if stat.S_ISREG(st.st_mode) and os.path.splitext(name)[1] in SPEC_SUFFIXES:
                found.append(((*below, name), dirpath, st))
    for link in sorted(broken):
        plan.errors.append(
            SpecError("broken symlink", path=link, fix="remove the link or restore its target")
        )
    found.sort(key=lambda item: item[0])
    # one Path per directory: `dir / name` then parses only the name
    dirs = {dirpath: Path(dirpath) for dirpath in {entry[1] for entry in found}}
    return [(dirs[dirpath] / key[-1], st) for key, dirpath, st in found]


def _load_one(
    path: Path, sig: Signature, plan: Plan, cache: ParseCache, planning: PlanningConfig | None
) -> LoadedSpec | None:
    known = cache.get(path, sig)
    if known is None:
        try:
            known = read_spec_file(path)
        except SpecError as exc:
            plan.errors.append(exc)
            return None
        cache.put(path, sig, known)
    data, sha = known
    taken: dict[str, Any] = {}
    if planning is not None and spec_kind(data) == "taskspec":
        data, taken = _with_defaults(dict(data), planning)
    spec = validate_spec(path, dict(data), plan.errors)
    if spec is None:
        return None
    return LoadedSpec(spec=spec, path=path, source_sha256=_digest(sha, taken))


def _with_defaults(
    data: dict[str, Any], planning: PlanningConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`data` with what it does not say taken from the defaults, and what was taken."""
    taken: dict[str, Any] = {}
    for name, value in task_defaults(planning, str(data.get("featspec", ""))).items():
        if name == "agent" and isinstance(data.get("agent"), dict):
            merged = {**value, **data["agent"]}
            if merged != data["agent"]:
                taken[name] = data[name] = merged
        elif name not in data:
            taken[name] = data[name] = value
    return data, taken


def _digest(file_sha: str, taken: dict[str, Any]) -> str:
    """The TaskSpec's content digest: its file's, with the defaults it took (a changed default
    test command reruns its chain, as an edit of the file would); limits that only bound work
    are not inputs. Unchanged for a file that takes nothing."""
    inputs = {k: v for k, v in taken.items() if k not in BOUNDS}
    if not inputs:
        return file_sha
    text = json.dumps({"file": file_sha, "defaults": inputs}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
