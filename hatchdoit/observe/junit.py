"""JUnit XML for CI systems: one test case per TaskSpec (class name: its FeatSpec).

done -> passed; escalated -> <failure> with QA's reasons and feedback and the failed checks of
every attempt (type `budget`, the message naming the budget, when a spend cap ended it);
waiting (records/waiting.py: `<skipped type="awaiting merge" message="waiting for the pull
request of A to merge">`), paused on its provider (`paused: usage_limit on claude, resumes
...`), or not built or delivered because a dependency did not finish -> <skipped>; anything
else left unfinished (a step error, an interrupted build) -> <error> (type `setup` when its
workspace setup failed). The decisions taken about it (who, when, what) are in its
<system-out>.

Confinement (README: What an agent can touch): the suite's property `confinement` is the last
build's (`_logs/confinement.json`); each test case's is `confined` when every agent session and
test run on record for its TaskSpec was, else the labels of those that were not (`off`,
`unconfined`), and its <system-out> starts with `ran unconfined (<why>): <runs>` — a CI page
shows it beside the TaskSpec, since records that no agent can forge hold only under confinement.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from hatchdoit.core.atomicio import write_atomic
from hatchdoit.observe.outcomes import TaskDetail, failure_text, run_confinements
from hatchdoit.observe.provider_view import budget_escalation, paused_info
from hatchdoit.records.waiting import waiting_of, waiting_text

# XML 1.0 forbids most control characters (test logs carry ANSI escapes)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _artifacts(detail: TaskDetail, root: Path) -> str:
    lines = [f"{label}: {_rel(path, root)}" for label, path in detail.artifacts]
    for attempt in detail.attempts:
        lines += [
            f"attempt {attempt.attempt} {label}: {_rel(p, root)}" for label, p in attempt.artifacts
        ]
    return "\n".join(lines)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _blocked(detail: TaskDetail) -> bool:
    """Not built, or not delivered, only because a dependency did not finish: it has no
    error of its own (its own work may be done, its delivery waiting for the dependency's)."""
    if not detail.blocked_by or detail.status not in ("pending", "active"):
        return False
    return (detail.status == "pending" and not detail.attempts) or (
        detail.progress.get("next") == "integrate" and detail.last_error() is None
    )


def _property(parent: ET.Element, name: str, value: str) -> None:
    props = ET.Element("properties")
    ET.SubElement(props, "property", name=name, value=value)
    parent.insert(0, props)  # the schema wants <properties> first


def _confinement(case: ET.Element, detail: TaskDetail, build: dict[str, str]) -> str:
    """The test case's confinement property; the line its <system-out> starts with, if any."""
    runs = run_confinements(detail)
    if not runs:
        return ""
    loose = [(run, label) for run, label in runs if label != "confined"]
    labels = sorted({label for _, label in loose})
    _property(case, "confinement", ", ".join(labels) or "confined")
    if not loose:
        return ""
    why = []
    if "off" in labels:
        why.append("confinement: off in hatchdoit.yaml")
    if "unconfined" in labels:
        reason = build.get("reason") if build.get("label") == "unconfined" else None
        why.append(f"this machine could not confine it: {reason or 'see hatchdoit doctor'}")
    return f"ran unconfined ({'; '.join(why)}): {', '.join(run for run, _ in loose)}\n"


def junit_xml(details: list[TaskDetail], root: Path, suite: str = "hatchdoit") -> ET.Element:
    """The <testsuites> element for `details`."""
    suite_el = ET.Element(
        "testsuite",
        name=suite,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        hostname=socket.gethostname(),
    )
    build = details[0].build_confinement if details else {}
    if build.get("label"):
        _property(suite_el, "confinement", build["label"])
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for detail in details:
        counts["tests"] += 1
        total_time += detail.duration
        case = ET.SubElement(
            suite_el,
            "testcase",
            classname=detail.spec.featspec,
            name=detail.tid,
            time=f"{detail.duration:.3f}",
        )
        text = _clean(failure_text(detail))
        first = (text.splitlines() or [detail.status])[0]
        if detail.status == "done":
            pass
        elif detail.status == "escalated":
            counts["failures"] += 1
            integrating = detail.progress.get("step") == "integrate"
            budget = None if integrating else budget_escalation(detail.escalated)
            message, kind = (f"escalated: {budget}", "budget") if budget else (first, "escalated")
            failure = ET.SubElement(case, "failure", message=_clean(message), type=kind)
            failure.text = text
        elif detail.status == "paused":
            counts["skipped"] += 1
            message = paused_info(detail.progress["paused"]).text
            ET.SubElement(case, "skipped", message=_clean(message))
        elif detail.progress.get("setup_failed"):  # not the agent's: no attempt ran
            counts["errors"] += 1
            message = str(detail.progress["setup_failed"])
            error = ET.SubElement(case, "error", message=_clean(message), type="setup")
            error.text = message
        elif (waiting := waiting_of(detail.progress)) is not None:
            counts["skipped"] += 1  # records/waiting.py: on a person, not a failure
            message = waiting_text(detail.tid, detail.progress) or waiting.state
            ET.SubElement(case, "skipped", message=_clean(message), type=waiting.state)
        elif _blocked(detail):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=first)
        else:
            counts["errors"] += 1
            message = (
                first if text else f"not finished: {detail.status} at {detail.progress['step']}"
            )
            error = ET.SubElement(case, "error", message=message, type="unfinished")
            error.text = text or message
        unconfined = _confinement(case, detail, build)
        out = ET.SubElement(case, "system-out")
        decided = "".join(
            f"decision {d.seq}: {d.kind} by {d.who} at {d.at}: {d.feedback}\n"
            for d in detail.decisions
        )
        out.text = _clean(
            f"{unconfined}{detail.spec.title}\nstatus: {detail.status}\n{decided}"
            + _artifacts(detail, root)
        )
    for key, value in counts.items():
        suite_el.set(key, str(value))
    suite_el.set("time", f"{total_time:.3f}")
    suites = ET.Element("testsuites", name=suite)
    for key, value in counts.items():
        suites.set(key, str(value))
    suites.set("time", f"{total_time:.3f}")
    suites.append(suite_el)
    return suites


def write_junit(
    path: Path, details: list[TaskDetail], root: Path, suite: str = "hatchdoit"
) -> Path:
    element = junit_xml(details, root, suite)
    ET.indent(element)
    data = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    write_atomic(path, data + b"\n")
    return path
