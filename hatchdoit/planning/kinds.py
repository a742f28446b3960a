"""Which spec a field mapping is (a FeatSpec or a TaskSpec), validated by its pydantic model, with
every problem as a SpecError at its file and field, with a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hatchdoit.core.errors import SpecError
from hatchdoit.planning.specs import FeatSpec, TaskSpec


def validate_spec(
    path: Path, data: dict[str, Any], errors: list[SpecError]
) -> TaskSpec | FeatSpec | None:
    """The spec `data` describes, or None with its problems appended to `errors`."""
    model: type[TaskSpec] | type[FeatSpec] = TaskSpec if spec_kind(data) == "taskspec" else FeatSpec
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(file)"
            errors.append(SpecError(_describe(err), path=path, field=loc, fix=_fix_for(err, model)))
        return None


def spec_kind(data: dict[str, Any]) -> str:
    """`taskspec` or `featspec`: its `kind`, else guessed from its id and fields."""
    kind = data.get("kind")
    if kind is None:
        ident = str(data.get("id", ""))
        taskspec_fields = {"test_command", "featspec", "loc_cap", "depends_on"}
        kind = "taskspec" if "-TS-" in ident or taskspec_fields & set(data) else "featspec"
    return str(kind)


def _describe(err: Any) -> str:
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _fix_for(err: Any, model: type[TaskSpec] | type[FeatSpec]) -> str:
    kind = err["type"]
    if kind == "missing":
        name = err["loc"][0]
        if name in ("test_command", "loc_cap"):
            return f"add the field '{name}', or set planning.defaults.{name} in hatchdoit.yaml"
        return f"add the field '{name}'"
    if kind == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return f"remove it or use one of: {known}"
    return _VALUE_FIXES.get(str(err["loc"][0]) if err["loc"] else "", "correct the value")


_VALUE_FIXES = {
    "body": "write the work description below the front matter's closing ---",
    "id": "rename it, e.g. 001-TS-2025-08-18-JWT-MIDDLEWARE",
}
