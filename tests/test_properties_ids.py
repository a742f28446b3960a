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
from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS
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
    assert re.fullmatch(r"[A-Za-z0-9_-]+", session_name(layout.tag, value, role, attempt))
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
    source = (BUNDLED_SCRIPTS / "lib" / "common.sh").read_text(encoding="utf-8")
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


# Ids made of the characters that collided, so that near misses are drawn often.
near_ids = st.from_regex(r"[A1][A1_.-]{0,6}", fullmatch=True).filter(accepted)


@SETTINGS
@given(first=near_ids, second=near_ids, role=st.sampled_from(["factory", "qa"]))
def test_two_ids_never_share_a_session(first: str, second: str, role: str) -> None:
    """`A.1` and `A_1` once both became `A_1-...`: the escaping is one to one."""
    assume(first != second)
    assert session_name("t", first, role, 1) != session_name("t", second, role, 1)


def test_ids_that_collided_get_sessions_of_their_own() -> None:
    names = {session_name("t", tid, "qa", 1) for tid in ("A.1", "A_1", "A__1", "A_d1", "A-1")}
    assert len(names) == 5
