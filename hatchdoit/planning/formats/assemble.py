"""A foreign plan's feature as the plan's specs: one FeatSpec, and a TaskSpec per task that is
not a parent of sub-tasks, with its id (ids.py), its group's context and dependencies
(groups.py), the dependencies the order implies (order.py), the plan's status, and what
hatchdoit.yaml's `planning.defaults` say (those formats carry no loc_cap or test command).

A TaskSpec's source_sha256 is the digest of its content, not of the file: it changes exactly
when what the TaskSpec is built from changes (its lines, its parent's text, the criteria it
pulls in, its defaults), not when another task of the same file does; where it came from
(`source`, file:line) is left out of it, so a line added above it reruns nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hatchdoit.config.models import PlanningConfig
from hatchdoit.core.errors import SpecError
from hatchdoit.planning.formats.defaults import task_defaults
from hatchdoit.planning.formats.groups import SETTLED, Groups
from hatchdoit.planning.formats.ids import feature_id, rename_duplicates, taskspec_id, valid_id
from hatchdoit.planning.formats.order import inferred_edges
from hatchdoit.planning.formats.source import SourceFeature, SourceTask, at
from hatchdoit.planning.kinds import validate_spec
from hatchdoit.planning.specs import FeatSpec, LoadedSpec, TaskSpec

CONFIG_FILE = "hatchdoit.yaml"


def assemble(
    feature: SourceFeature,
    settings: PlanningConfig,
    root: Path,
    errors: list[SpecError],
    warnings: list[SpecError],
) -> tuple[LoadedSpec | None, list[LoadedSpec]]:
    """(the FeatSpec, its TaskSpecs in file order) of one feature; problems to the lists."""
    fid = feature_id(feature.name)
    if not valid_id(fid):
        errors.append(
            SpecError(
                f"feature {feature.name!r} makes no valid id",
                path=feature.path,
                fix="rename the feature (folder or tag) to letters, digits, '.', '_' and '-'",
            )
        )
        return None, []
    featspec = FeatSpec(id=fid, title=feature.title or feature.name, body=feature.body)
    loaded_feat = LoadedSpec(featspec, feature.path, _digest(featspec))
    defaults = task_defaults(settings, feature.name)
    if "test_command" not in defaults:
        errors.append(
            SpecError(
                f"feature {feature.name} has no test command: its plan names none",
                path=CONFIG_FILE,
                field="planning.defaults.test_command",
                fix="set planning.defaults.test_command (or planning.features."
                f"{feature.name}.test_command), e.g. 'python3 -m pytest -q'",
            )
        )
        return loaded_feat, []
    if settings.optional_tasks == "skip":
        for task in feature.tasks:
            if task.optional and task.status != "done":
                task.status, task.status_word = "skipped", "optional `*`"
    rename_duplicates(feature, warnings)
    groups = Groups.of(feature)
    maker = _Maker(feature, groups, root, defaults, errors)
    order = inferred_edges(feature, groups) if settings.infer_order else {}
    taskspecs = []
    for key in groups.tasks:
        if not groups.is_group(key):
            loaded = maker.make(key, order)
            if loaded is not None:
                taskspecs.append(loaded)
    return loaded_feat, taskspecs


class _Maker:
    """Makes the TaskSpecs of one feature."""

    def __init__(
        self,
        feature: SourceFeature,
        groups: Groups,
        root: Path,
        defaults: dict[str, Any],
        errors: list[SpecError],
    ) -> None:
        self.feature, self.groups, self.defaults, self.errors = feature, groups, defaults, errors
        try:
            self.where = feature.path.relative_to(root).as_posix()
        except ValueError:
            self.where = str(feature.path)
        self.reported: set[tuple[int, str]] = set()

    def make(self, key: str, order: dict[str, list[str]]) -> LoadedSpec | None:
        groups, task = self.groups, self.groups.tasks[key]
        chain = [task, *groups.ancestors(key)]
        status, word = groups.status(key)
        explicit = self._explicit(chain)
        if explicit is None:
            return None
        inferred: list[str] = []
        if status not in SETTLED:
            waits = [k for t in chain for k in order.get(t.key, [])]
            inferred = [
                leaf for k in waits for leaf in groups.leaves(k) if not groups.settled(leaf)
            ]
        explicit = _unique(d for d in explicit if d != key)
        inferred = [d for d in _unique(inferred) if d != key and d not in explicit]
        deps = [*explicit, *inferred]
        tid = taskspec_id(self.feature.name, key)
        if not valid_id(tid):
            self.errors.append(
                SpecError(
                    f"makes the TaskSpec id {tid!r}, which is not a valid id",
                    path=at(self.feature.path, task.line),
                    field=key,
                    fix="shorten the feature's name or the task's id (at most 128 characters)",
                )
            )
            return None
        data: dict[str, Any] = {
            "id": tid,
            "kind": "taskspec",
            "title": task.title or key,
            "featspec": feature_id(self.feature.name),
            **self.defaults,
            "depends_on": [taskspec_id(self.feature.name, d) for d in deps],
            "inferred_deps": [taskspec_id(self.feature.name, d) for d in inferred],
            "acceptance": next((t.acceptance for t in chain if t.acceptance), []),
            "files": task.files,
            "source": f"{self.where}:{task.line}",
            "body": _body(task, chain[1:]),
        }
        skipped = [taskspec_id(self.feature.name, d) for d in self._skipped(deps)]
        data.update(_status_fields(status, word, skipped))
        spec = validate_spec(Path(at(self.feature.path, task.line)), data, self.errors)
        if not isinstance(spec, TaskSpec):
            return None
        return LoadedSpec(spec, self.feature.path, _digest(spec))

    def _explicit(self, chain: list[SourceTask]) -> list[str] | None:
        """The TaskSpecs its and its parents' stated dependencies name; None if one names a
        task the feature does not have (each such line reported once)."""
        found: list[str] = []
        ok = True
        for task in chain:
            for dep in task.depends:
                if dep.key in self.groups.tasks:
                    found += self.groups.leaves(dep.key)
                    continue
                ok = False
                if (dep.line, dep.key) not in self.reported:
                    self.reported.add((dep.line, dep.key))
                    self.errors.append(
                        SpecError(
                            f"depends on {dep.key}, which {self.where} has no task of",
                            path=at(self.feature.path, dep.line),
                            field=task.key,
                            fix="name the id of a task of this feature, or remove the dependency",
                        )
                    )
        return found if ok else None

    def _skipped(self, deps: list[str]) -> list[str]:
        return [d for d in deps if self.groups.status(d)[0] == "skipped"]


def _status_fields(status: str, word: str, skipped_deps: list[str]) -> dict[str, Any]:
    notes = []
    fields: dict[str, Any] = {}
    if status == "done":
        fields["plan_status"] = "done"
        notes.append(f"done in the plan ({word}): not built")
    elif status == "skipped":
        fields["plan_status"] = "skipped"
        notes.append(f"skipped in the plan ({word}): not built")
    elif status == "active":
        notes.append(f"in progress in the plan ({word}): built")
    if skipped_deps and status not in SETTLED:
        notes.append(f"built without {', '.join(skipped_deps)}, skipped in the plan")
    if notes:
        fields["plan_note"] = "; ".join(notes)
    return fields


def _body(task: SourceTask, parents: list[SourceTask]) -> str:
    parts = [task.title + (f"\n\n{task.text.strip()}" if task.text.strip() else "")]
    for parent in parents:
        text = parent.text.strip()
        parts.append(f"## Part of {parent.key}: {parent.title}" + (f"\n\n{text}" if text else ""))
    if task.context.strip():
        parts.append(task.context.strip())
    return "\n\n".join(parts)


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _digest(spec: TaskSpec | FeatSpec) -> str:
    content = spec.model_dump(mode="json", exclude={"source"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
