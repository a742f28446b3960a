"""The FeatSpec-only status table drawn line by line (status_render.FeatSpecTable) shows exactly
what rich's Table shows for the same rows: every character, and every character's style."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType
from rich.text import Text

from hatchdoit.status_render import FeatSpecTable, _rich_featspec_table

STATES = [("done", "green"), ("pending", "dim"), ("in_progress", "cyan"), ("blocked", "bold red")]


def feat_rows(count: int, title_extra: str = "") -> list[tuple[Text, Text, Text]]:
    return [
        (
            Text(f"FS-{i:03d}-BENCH" + "X" * (i % 3), "bold"),
            Text(STATES[i % 4][0], STATES[i % 4][1]),
            Text(f"Feature {i} · {i}/10 done" + " long" * (i % 3 * 6) + title_extra, "italic"),
        )
        for i in range(count)
    ]


def styled_lines(
    renderable: RenderableType, width: int, **console: object
) -> list[list[tuple[str, str]]]:
    out = Console(file=io.StringIO(), width=width, force_terminal=True, **console)  # type: ignore[arg-type]
    lines = out.render_lines(renderable, out.options, pad=False, new_lines=False)
    return [
        [
            (ch, str(out.get_style(seg.style)) if seg.style else "")
            for seg in line
            for ch in seg.text
        ]
        for line in lines
    ]


@pytest.mark.parametrize("width", [200, 100, 80, 61, 40, 31, 30, 12])
@pytest.mark.parametrize("title", ["hatchdoit · /x/planning · agent scripted", None, "t" * 150])
@pytest.mark.parametrize(
    "rows",
    [feat_rows(9), feat_rows(0), feat_rows(3, " · 名前 😀"), feat_rows(2, "\nsecond line")],
    ids=["plain", "none", "wide-characters", "two-lines"],
)
def test_featspec_table_draws_what_richs_table_draws(
    width: int, title: str | None, rows: list[tuple[Text, Text, Text]]
) -> None:
    fast, rich = FeatSpecTable(title, rows), _rich_featspec_table(title, rows)
    assert styled_lines(fast, width) == styled_lines(rich, width)


def test_featspec_table_in_an_ascii_terminal_is_richs() -> None:
    """Where the box's line character cannot be shown, rich's Table draws it (in ASCII)."""
    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    options = console.options
    options.encoding = "ascii"
    lines = console.render_lines(FeatSpecTable("t", feat_rows(4)), options, pad=False)
    text = "".join(seg.text for line in lines for seg in line)
    assert "FS-000-BENCH" in text and "─" not in text
