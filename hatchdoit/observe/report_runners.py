"""The report's "Runners" section: with `hatchdoit ci --shared`, which CI runner built which
TaskSpec, from the records of the remote's snapshots this machine has (`_logs/shared/<ID>.json`,
shared/state_sync.py); nothing when the build was not shared."""

from __future__ import annotations

import html
import json

from hatchdoit.project import Project


def runners_html(project: Project) -> str:
    built: dict[str, list[str]] = {}
    for tid in project.plan.taskspecs:
        try:
            record = json.loads(project.layout.shared_record(tid).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            built.setdefault(str(record.get("runner") or "unknown"), []).append(tid)
    if not built:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(runner)}</td><td>{len(tids)}</td>"
        f"<td>{html.escape(', '.join(tids))}</td></tr>"
        for runner, tids in sorted(built.items())
    )
    return (
        '<h2 id="runners">Runners</h2><p>CI runners sharing the build (the last to push each '
        "TaskSpec's records)</p><table><thead><tr><th>runner</th><th>TaskSpecs</th>"
        f"<th>ids</th></tr></thead><tbody>{rows}</tbody></table>"
    )
