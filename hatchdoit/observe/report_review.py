"""The review part of a TaskSpec's section in the HTML report: the diff of its approved (or
latest) attempt, the decisions taken about it with who and when, and the exact commands that
approve, reject or retry it."""

from __future__ import annotations

import html

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.observe.outcomes import TaskDetail
from hatchdoit.observe.review_view import collect_review, commands
from hatchdoit.project import Project
from hatchdoit.records.waiting import waiting_state

DIFF_LIMIT = 64 * 1024  # characters of a diff shown; the rest is `hatchdoit diff <ID>` away


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def review_html(project: Project, detail: TaskDetail) -> str:
    tid = detail.tid
    state = waiting_state(detail.progress) or detail.status
    parts = []
    if detail.decisions:
        items = "".join(
            f"<li><b>{_e(d.kind)}</b> by {_e(d.who)} at {_e(d.at)} (after attempt "
            f"{d.after_attempt}){': ' + _e(d.feedback) if d.feedback else ''}</li>"
            for d in detail.decisions
        )
        parts.append(f'<p><b>Decisions</b>:</p><ul class="decisions">{items}</ul>')
    try:
        review = collect_review(project, tid)
    except HatchdoitError:
        review = None  # no attempt with a commit yet
    if review is not None:
        patch = review.patch
        cut = len(patch) > DIFF_LIMIT
        shown = patch[:DIFF_LIMIT] + (f"\n... (cut: hatchdoit diff {tid})" if cut else "")
        parts.append(
            f'<details class="diff"><summary>diff of attempt {review.attempt}: '
            f"<code>{_e(review.base[:12])}..{_e(review.commit[:12])}</code></summary>"
            f"<pre>{_e(review.stat)}\n{_e(shown)}</pre></details>"
        )
    listed = "".join(f"<li><code>{_e(c)}</code></li>" for c in commands(tid, state))
    parts.append(f'<p><b>To decide</b>:</p><ul class="commands">{listed}</ul>')
    return "".join(parts)
