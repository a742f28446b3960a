"""Load a planning repo's `_specs/`: find the spec files, read them (frontmatter.py), validate
them (kinds.py), check their dependencies (dependencies.py); report every problem."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from hatchdoit.core.errors import SpecError, SpecErrors
from hatchdoit.planning import frontmatter
from hatchdoit.planning.dependencies import check_references, order_and_check_cycles
from hatchdoit.planning.frontmatter import read_spec_file
from hatchdoit.planning.kinds import validate_spec
from hatchdoit.planning.parse_cache import ParseCache, Signature, parser_key, signature
from hatchdoit.planning.specs import LoadedSpec, TaskSpec

SPEC_SUFFIXES = (".md", ".markdown", ".yaml", ".yml")
IGNORED_NAMES = {"README.md", "readme.md", "index.md"}


@dataclass
class Plan:
    """The valid specs of a planning repo, in dependency order, plus every problem found."""

    root: Path
    featspecs: dict[str, LoadedSpec] = field(default_factory=dict)
    taskspecs: dict[str, LoadedSpec] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)

    def taskspec(self, taskspec_id: str) -> TaskSpec:
        spec = self.taskspecs[taskspec_id].spec
        assert isinstance(spec, TaskSpec)
        return spec

    def raise_errors(self) -> None:
        if self.errors:
            raise SpecErrors(self.errors)


def load_plan(root: Path, cache: Path | None = None) -> Plan:
    """Load every spec under `root/_specs`; invalid specs go to `plan.errors`, not the graph.
    With `cache`, parsed files are kept there and reused while unchanged (parse_cache.py)."""
    specs_dir = root / "_specs"
    plan = Plan(root=root)
    if not specs_dir.is_dir():
        plan.errors.append(
            SpecError(
                "no _specs/ directory",
                path=specs_dir,
                fix="point specs at a planning repo that has _specs/ (HATCHDOIT_SPECS or specs:)",
            )
        )
        return plan
    seen: dict[str, Path] = {}
    parsed = ParseCache(cache, parser_key(specs_dir, Path(frontmatter.__file__)))
    for path, st in _spec_files(specs_dir, plan):
        loaded = _load_one(path, signature(st), plan, parsed)
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
    check_references(plan)
    order_and_check_cycles(plan)
    return plan


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


def _load_one(path: Path, sig: Signature, plan: Plan, cache: ParseCache) -> LoadedSpec | None:
    known = cache.get(path, sig)
    if known is None:
        try:
            known = read_spec_file(path)
        except SpecError as exc:
            plan.errors.append(exc)
            return None
        cache.put(path, sig, known)
    data, sha = known
    spec = validate_spec(path, dict(data), plan.errors)
    if spec is None:
        return None
    return LoadedSpec(spec=spec, path=path, source_sha256=sha)
