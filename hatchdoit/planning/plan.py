"""Load a planning repo's `_specs/`: parse, validate, resolve dependencies, report every problem."""

from __future__ import annotations

import contextlib
import graphlib
import hashlib
import os
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hatchdoit.errors import SpecError, SpecErrors
from hatchdoit.parse_cache import ParseCache, Signature, parser_key, signature
from hatchdoit.specs import FeatSpec, LoadedSpec, TaskSpec

SPEC_SUFFIXES = (".md", ".markdown", ".yaml", ".yml")
MAX_SPEC_BYTES = 1024 * 1024
IGNORED_NAMES = {"README.md", "readme.md", "index.md"}
# libyaml's parser when PyYAML was built with it: the same safe subset, several times faster.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class SpecLoader(_SafeBase):  # type: ignore[misc]
    """The safe loader, refusing a key given twice in one mapping: YAML requires unique keys,
    and PyYAML would silently keep the last value (`id: A` then `id: B` becomes B)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line
                if key_node.value in seen:
                    raise _DuplicateKey(key_node.value, seen[key_node.value], line)
                seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


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
    parsed = ParseCache(cache, parser_key(specs_dir, Path(__file__)))
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
    _check_references(plan)
    _order_and_check_cycles(plan)
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
        known = _read_and_parse(path, plan)
        if known is None:
            return None
        cache.put(path, sig, known)
    data, sha = known
    spec = _validate(path, dict(data), plan)
    if spec is None:
        return None
    return LoadedSpec(spec=spec, path=path, source_sha256=sha)


def _read_and_parse(path: Path, plan: Plan) -> tuple[dict[str, Any], str] | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        plan.errors.append(SpecError(f"cannot read: {exc.strerror}", path=path))
        return None
    if len(raw) > MAX_SPEC_BYTES:
        plan.errors.append(
            SpecError(
                f"file is {len(raw)} bytes, over the {MAX_SPEC_BYTES} byte limit",
                path=path,
                fix="split the work into smaller TaskSpecs",
            )
        )
        return None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        plan.errors.append(SpecError("not UTF-8 text", path=path, fix="save the file as UTF-8"))
        return None
    try:
        data = _parse(path, text)
    except SpecError as exc:
        plan.errors.append(exc)
        return None
    command = data.get("test_command")
    if isinstance(command, str):
        # Split once here, so the cached entry holds the argv TaskSpec's validator would make
        # (shlex is a third of validating a TaskSpec). A string shlex rejects stays a string:
        # validation then reports it exactly as before.
        with contextlib.suppress(ValueError):
            data["test_command"] = shlex.split(command)
    return data, hashlib.sha256(raw).hexdigest()


def _parse(path: Path, text: str) -> dict[str, Any]:
    if path.suffix in (".md", ".markdown"):
        front, body = _split_front_matter(path, text)
        data = _yaml_mapping(path, front, first_line=2)
        if "body" in data:
            raise SpecError(
                "'body' is the Markdown text after the front matter",
                path=path,
                field="body",
                fix="move it below the closing ---",
            )
        data["body"] = body.strip("\n")
        return data
    return _yaml_mapping(path, text)


def _split_front_matter(path: Path, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SpecError(
            "no YAML front matter",
            path=path,
            fix="start the file with a '---' line, the YAML fields, then '---'",
        )
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise SpecError("front matter is not closed", path=path, fix="add a '---' line after it")


def _yaml_mapping(path: Path, text: str, first_line: int = 1) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=SpecLoader)
    except _DuplicateKey as exc:
        raise SpecError(
            f"given twice (lines {exc.first + first_line} and {exc.again + first_line})",
            path=path,
            field=exc.key,
            fix="keep one of the two",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + first_line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(
            f"YAML error{where}: {problem}", path=path, fix="fix the YAML syntax"
        ) from exc
    if not isinstance(data, dict):
        raise SpecError(
            "front matter must be a mapping of fields", path=path, fix="write 'key: value' lines"
        )
    return {str(k): v for k, v in data.items()}


def _validate(path: Path, data: dict[str, Any], plan: Plan) -> TaskSpec | FeatSpec | None:
    kind = data.get("kind")
    if kind is None:
        ident = str(data.get("id", ""))
        taskspec_fields = {"test_command", "featspec", "loc_cap", "depends_on"}
        kind = "taskspec" if "-TS-" in ident or taskspec_fields & set(data) else "featspec"
    model: type[TaskSpec] | type[FeatSpec] = TaskSpec if kind == "taskspec" else FeatSpec
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(file)"
            plan.errors.append(
                SpecError(_describe(err), path=path, field=loc, fix=_fix_for(err, model))
            )
        return None


def _describe(err: Any) -> str:
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _fix_for(err: Any, model: type[TaskSpec] | type[FeatSpec]) -> str:
    kind = err["type"]
    if kind == "missing":
        return f"add the field '{err['loc'][0]}'"
    if kind == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return f"remove it or use one of: {known}"
    return _VALUE_FIXES.get(str(err["loc"][0]) if err["loc"] else "", "correct the value")


_VALUE_FIXES = {
    "body": "write the work description below the front matter's closing ---",
    "id": "rename it, e.g. 001-TS-2025-08-18-JWT-MIDDLEWARE",
}


def _check_references(plan: Plan) -> None:
    for tid, loaded in list(plan.taskspecs.items()):
        spec = loaded.spec
        assert isinstance(spec, TaskSpec)
        if spec.featspec not in plan.featspecs:
            plan.errors.append(
                SpecError(
                    f"unknown FeatSpec {spec.featspec!r}",
                    path=loaded.path,
                    field="featspec",
                    fix="use the id of a FeatSpec in _specs/",
                )
            )
            del plan.taskspecs[tid]
            continue
        unknown = [dep for dep in spec.depends_on if dep not in plan.taskspecs]
        if unknown:
            plan.errors.append(
                SpecError(
                    f"unknown TaskSpec id(s) {', '.join(unknown)}",
                    path=loaded.path,
                    field="depends_on",
                    fix="list ids of valid TaskSpecs in _specs/",
                )
            )
            del plan.taskspecs[tid]
    drop_dependents_of_missing(plan)


def drop_dependents_of_missing(plan: Plan) -> None:
    """Remove (and report) TaskSpecs that depend on one that is not in the plan."""
    changed = True
    while changed:
        changed = False
        for tid, loaded in list(plan.taskspecs.items()):
            spec = loaded.spec
            assert isinstance(spec, TaskSpec)
            missing = [d for d in spec.depends_on if d not in plan.taskspecs]
            if missing:
                plan.errors.append(
                    SpecError(
                        f"depends on {', '.join(missing)}, which cannot be built",
                        path=loaded.path,
                        field="depends_on",
                        fix="fix the TaskSpec(s) it depends on",
                    )
                )
                del plan.taskspecs[tid]
                changed = True


def _order_and_check_cycles(plan: Plan) -> None:
    while True:
        graph = {tid: set(plan.taskspec(tid).depends_on) for tid in plan.taskspecs}
        try:
            order = list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = list(dict.fromkeys(exc.args[1]))
            for tid in cycle:
                plan.errors.append(
                    SpecError(
                        f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}",
                        path=plan.taskspecs[tid].path,
                        field="depends_on",
                        fix="remove one of the dependencies in the cycle",
                    )
                )
                del plan.taskspecs[tid]
            drop_dependents_of_missing(plan)
            continue
        plan.taskspecs = {tid: plan.taskspecs[tid] for tid in order}
        return
