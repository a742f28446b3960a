"""Hypothesis settings and strategies shared by the property tests (test_properties_*.py): ids
(valid ones and anything), text a YAML dump and a Markdown body can carry, and the front matter
fields of a valid TaskSpec.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
valid_ids = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(ID_CHARS),
    st.text(alphabet=ID_CHARS + "_.-", max_size=40),
).filter(lambda s: ".." not in s and not s.endswith((".", ".lock")))  # git's ref rules
any_ids = st.one_of(
    valid_ids,
    st.text(max_size=60),
    st.text(alphabet="A1_.-/ $`;|&#{}()\n\\'\"", max_size=20),
)
# Text a YAML dump and a Markdown body can carry (no surrogates; YAML forbids most C0 controls).
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=80,
)
line_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85\ufeff"
    ),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() == s and s.strip())

taskspec_fields = st.fixed_dictionaries(
    {
        "id": valid_ids,
        "title": line_text,
        "featspec": st.just("FS-1"),
        "loc_cap": st.integers(min_value=1, max_value=10**6),
        "test_command": st.lists(line_text, min_size=1, max_size=4),
        "max_attempts": st.integers(min_value=1, max_value=20),
        "test_timeout": st.floats(min_value=0.5, max_value=10**4, allow_nan=False),
        "scripted": st.fixed_dictionaries(
            {
                "factory": st.lists(
                    st.sampled_from(["succeed", "fail-tests", "hang", "crash"]),
                    min_size=1,
                    max_size=3,
                ),
                "qa": st.sampled_from(["approve", "reject", "reject-once"]),
            }
        ),
    }
)
