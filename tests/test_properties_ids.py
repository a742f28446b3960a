"""Property-based tests (hypothesis) of ids: check_id accepts exactly the documented pattern; an
accepted id is a safe file name, branch name and tmux session name, and the scripts' own id check
agrees with it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from property_strategies import SETTINGS, any_ids

from hatchdoit.agents.tmux import session_name
from hatchdoit.layout import Layout
from hatchdoit.planning.specs import ID_PATTERN, check_id

CHECKOUT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# Ids


def accepted(value: str) -> bool:
    try:
        check_id(value)
    except ValueError:
        return False
    return True


@SETTINGS
@given(value=any_ids)
def test_check_id_is_the_documented_pattern(value: str) -> None:
    documented = (
        re.fullmatch(ID_PATTERN, value) is not None
        and ".." not in value
        and not value.endswith((".", ".lock"))
    )
    assert accepted(value) == documented
    assert accepted("A1.") is accepted("A.lock") is False  # the cases git refuses


@SETTINGS
@given(value=any_ids, role=st.sampled_from(["factory", "qa"]), attempt=st.integers(1, 20))
def test_accepted_ids_are_safe_names(value: str, role: str, attempt: int) -> None:
    assume(accepted(value))
    root = Path("/srv/project")
    layout = Layout(root)
    for path in (layout.worktree(value), layout.state_dir(value), layout.hooks_dir(value)):
        assert path.parent.name in ("_worktrees", "state", "hooks")
        assert path.name == value and "/" not in value
    assert re.fullmatch(r"[A-Za-z0-9_-]+", session_name(value, role, attempt))
    assert not value.startswith(("-", "."))
    ref = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/taskspec/{value}"], capture_output=True
    )
    assert ref.returncode == 0, value


@pytest.mark.parametrize("value", ["FIX.", "CACHE.lock", "A.b."])
def test_ids_git_refuses_are_refused(value: str) -> None:
    ref = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/taskspec/{value}"], capture_output=True
    )
    assert ref.returncode != 0  # git refuses it ...
    assert not accepted(value)  # ... so validation must too


@settings(max_examples=15, deadline=None)
@given(values=st.lists(any_ids.filter(lambda v: "\n" not in v and "\0" not in v), max_size=40))
def test_scripts_agree_with_check_id(values: list[str]) -> None:
    """The bash id check of scripts/git/*.sh (read from scripts/lib/common.sh) says what
    check_id says."""
    source = (CHECKOUT / "scripts" / "lib" / "common.sh").read_text(encoding="utf-8")
    test = re.search(r"\[\[ (\$id =~ .*?) \]\] \|\| die 2 \"invalid id", source)
    assert test, "common.sh no longer checks ids the way this test expects"
    program = (
        "while IFS= read -r id; do if [[ " + test.group(1) + " ]]; then echo 1; "
        "else echo 0; fi; done"
    )
    done = subprocess.run(
        ["bash", "-c", program],
        input="".join(v + "\n" for v in values),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(int(accepted(v))) for v in values]
