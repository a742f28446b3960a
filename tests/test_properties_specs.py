"""Property-based tests (hypothesis) of the spec parser: any valid TaskSpec written as YAML front
matter + Markdown body loads back field for field, body byte for byte; a multi-line title stays
front matter; and any text in `_specs/` is a spec or a reported problem, never an exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from property_strategies import SETTINGS, safe_text, taskspec_fields

from hatchdoit.planning.plan import load_plan

# --------------------------------------------------------------------------------------------
# The spec parser


def write_spec(root: Path, name: str, fields: dict[str, Any], body: str) -> Path:
    path = root / "_specs" / "taskspecs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    head = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)
    path.write_bytes(f"---\n{head}---\n{body}".encode())
    return path


def featspec(root: Path) -> None:
    path = root / "_specs" / "featspecs" / "FS-1.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nid: FS-1\ntitle: Feature\nkind: featspec\n---\nF.\n", encoding="utf-8")


# A TaskSpec's body is its work description: never blank.
bodies = safe_text.filter(
    lambda b: bool(b.strip()) and not b.startswith("\n") and not b.endswith("\n")
)


@SETTINGS
@given(fields=taskspec_fields, body=bodies)
def test_front_matter_round_trip(
    tmp_path_factory: pytest.TempPathFactory, fields: dict[str, Any], body: str
) -> None:
    root = tmp_path_factory.mktemp("spec")
    featspec(root)
    write_spec(root, "t.md", fields, body)
    plan = load_plan(root)
    assert not plan.errors, [e.one_line() for e in plan.errors]
    spec = plan.taskspec(fields["id"])
    for key in ("id", "title", "featspec", "loc_cap", "test_command", "max_attempts"):
        assert getattr(spec, key) == fields[key], key
    assert spec.test_timeout == pytest.approx(fields["test_timeout"])
    assert spec.scripted.factory == fields["scripted"]["factory"]
    assert spec.body == body


@SETTINGS
@given(title=st.text(alphabet="ab-.\n ", min_size=1, max_size=12).filter(lambda t: t.strip()))
def test_multiline_title_round_trip(tmp_path_factory: pytest.TempPathFactory, title: str) -> None:
    """A title holding a line of '---' or '...' is still front matter, not its end."""
    root = tmp_path_factory.mktemp("spec")
    featspec(root)
    fields = {"id": "T-1", "title": title, "featspec": "FS-1", "loc_cap": 5, "test_command": "x"}
    write_spec(root, "t.md", fields, "Body.")
    plan = load_plan(root)
    assert not plan.errors, [e.one_line() for e in plan.errors]
    assert plan.taskspec("T-1").title == title
    assert plan.taskspec("T-1").body == "Body."


@SETTINGS
@given(text=st.text(max_size=200))
def test_parser_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    """Any text in _specs/ is a spec or a reported problem: never an exception."""
    root = tmp_path_factory.mktemp("spec")
    featspec(root)
    path = root / "_specs" / "taskspecs" / "any.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    plan = load_plan(root)
    assert plan.taskspecs or any(str(path) in e.one_line() for e in plan.errors)
