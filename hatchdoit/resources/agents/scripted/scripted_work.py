"""The work of the scripted agent: files from the prompt, commits, summaries, QA verdicts.

Imported by scripted_agent.py (the terminal side). Standard library only, and only the cheap
parts of it: the agent starts (and is waited for) at every session, so no dataclasses (inspect),
tempfile (shutil, random) or typing at import.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from scripted_git import commit_all, resolve_conflicts
from scripted_hostile import hostile
from scripted_plan import edit_plan
from scripted_terminal import say

if TYPE_CHECKING:
    from typing import Any

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
REQUEST_RE = re.compile(r"^<!-- hatchdoit:request=([A-Za-z-]+) -->[ \t]*$", re.MULTILINE)
OPEN_FENCE_RE = re.compile(r"^(`{3,})file:(\S+)[ \t]*$")
# The feedback sections of a prompt: QA's, a person's (reject, retry), the integration's.
FEEDBACK_RE = re.compile(
    r"^## (QA feedback from attempt \d+|Feedback from .+|Integration of attempt \d+ failed)"
)
# A TaskSpec body line that makes the factory keep working this long (seconds, at most
# MAX_HOLD) before it writes anything: tests use it to see sessions overlap, or not.
HOLD_RE = re.compile(r"^<!-- scripted:hold=(\d{1,4}(?:\.\d+)?) -->[ \t]*$", re.MULTILINE)
MAX_HOLD = 600.0
# fmt: off
FACTORY_BEHAVIOURS = ("succeed", "fail-tests", "exceed-loc", "skip-summary", "malformed-summary",
                      "never-summary", "hang", "crash", "no-commit", "resolve-conflicts",
                      "edit-plan", "move-branch", "forge-decision", "plant-git")
# fmt: on
QA_BEHAVIOURS = ("approve", "reject", "reject-once", "approve-and-edit")
MAX_CONTINUATIONS = 3
FAILING_TEST_PATH = "tests/test_zz_scripted_failure.py"
BULK_PATH = "scripted_bulk.txt"
FAILING_TEST = """import unittest


class ScriptedFailureTest(unittest.TestCase):
    def test_scripted_failure(self) -> None:
        self.fail("scripted failure")
"""


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a fresh temp file in the same directory, fsync and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def record_time(session: Session, moment: str, at: float | None = None) -> None:
    """With SCRIPTED_TIMES (python -m bench sets it), append when this agent reached
    `moment` (started, ready, prompt, stop_hook), at `at` or now: the bench subtracts the
    agent's own time."""
    path = os.environ.get("SCRIPTED_TIMES")
    if path:
        line = {"role": session.role, "attempt": session.attempt, "moment": moment}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({**line, "at": time.time() if at is None else at}) + "\n")


class Session:
    """One agent process: its identity from the environment and what it has done so far."""

    def __init__(
        self,
        *,
        role: str,
        taskspec_id: str,
        attempt: int,
        behaviour: str,
        run_token: str,
        loc_cap: int,
    ) -> None:
        self.role, self.taskspec_id, self.attempt = role, taskspec_id, attempt
        self.behaviour, self.run_token, self.loc_cap = behaviour, run_token, loc_cap
        self.prompts = 0
        self.files: list[str] = []  # what the last implement request wrote
        self.lines = 0
        self.notes = "no implementation in this session"


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return default


def session_from_env(role: str) -> Session:
    """Build the session from the HATCHDOIT_* variables the orchestrator sets."""
    default = "succeed" if role == "factory" else "approve"
    return Session(
        role=role,
        taskspec_id=os.environ.get("HATCHDOIT_TASKSPEC_ID", "UNKNOWN"),
        attempt=max(_env_int("HATCHDOIT_ATTEMPT", 1), 1),
        behaviour=os.environ.get("HATCHDOIT_BEHAVIOUR") or default,
        run_token=os.environ.get("HATCHDOIT_RUN_TOKEN", "no-token"),
        loc_cap=_env_int("HATCHDOIT_LOC_CAP", 100),
    )


def parse_file_blocks(text: str) -> list[tuple[str, str]]:
    """Return (path, content) for every ```file:PATH fenced block; unclosed blocks are skipped."""
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = OPEN_FENCE_RE.match(lines[i])
        i += 1
        if not match:
            continue
        fence, path, body = match.group(1), match.group(2), []
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped and set(stripped) == {"`"} and len(stripped) >= len(fence):
                break
            body.append(lines[i])
            i += 1
        else:
            say(f"warning: file block {path} is not closed; skipped")
            break
        i += 1
        blocks.append((path, "\n".join(body) + "\n" if body else ""))
    return blocks


def safe_target(root: Path, raw: str) -> Path | None:
    """The file to write for a block path, or None if it is absolute, climbs out or is in .git."""
    rel = PurePosixPath(raw)
    if rel.is_absolute() or raw.startswith("~") or not rel.parts:
        return None
    if any(part == ".." or part.lower() == ".git" for part in rel.parts):
        return None
    target = root.joinpath(*rel.parts)
    return target if target.resolve().is_relative_to(root.resolve()) else None


def qa_feedback(text: str) -> str | None:
    """First non-empty line of the prompt's last feedback section (QA's `## QA feedback from
    attempt N`, a person's `## Feedback from ...`, `## Integration of attempt N failed`), if
    there is one."""
    found, inside = None, False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = bool(FEEDBACK_RE.match(line))
            first = True
        elif inside and first and line.strip():
            found, first = line.strip(), False
    return found


def write_files(
    session: Session, root: Path, text: str, keep: list[str] | None = None
) -> list[tuple[str, int]]:
    """Write the prompt's file blocks plus what the behaviour adds; return (path, lines).
    Files in `keep` (conflicts just resolved) are left as they are."""
    written: list[tuple[str, str]] = []
    for raw, content in parse_file_blocks(text):
        target = safe_target(root, raw)
        if target is None:
            say(f"warning: refusing to write {raw!r} (absolute, '..' or .git)")
            continue
        rel = target.relative_to(root).as_posix()
        if rel in (keep or []):
            say(f"kept {rel} as resolved")
            continue
        written.append((rel, content))
    feedback = qa_feedback(text)
    if not written or feedback:  # what it did about the feedback goes in its notes, as a change
        note = root / "hatchdoit_notes" / f"{session.taskspec_id}.md"
        old = note.read_text(encoding="utf-8") if note.exists() else ""
        said = f"addressed: {feedback}" if feedback else "no file blocks in the prompt"
        line = f"- attempt {session.attempt}: {said}\n"
        written.append((note.relative_to(root).as_posix(), old + line))
    extras = {"fail-tests": FAILING_TEST_PATH, "exceed-loc": BULK_PATH}
    for behaviour, rel in extras.items():  # a later attempt repairs what an earlier one broke
        if session.behaviour != behaviour and (root / rel).exists():
            (root / rel).unlink()
            say(f"removed {rel}")
    if session.behaviour == "fail-tests":
        written.append((FAILING_TEST_PATH, FAILING_TEST))
    if session.behaviour == "exceed-loc":
        bulk = "".join(f"bulk line {n}\n" for n in range(1, session.loc_cap + 51))
        written.append((BULK_PATH, bulk))
    done = []
    for rel, content in written:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        done.append((rel, content.count("\n")))
        say(f"wrote {rel} ({done[-1][1]} lines)")
    return done


def write_summary(session: Session, valid: bool) -> None:
    """Write the factory summary (or the malformed one) to HATCHDOIT_SUMMARY_FILE."""
    path = os.environ.get("HATCHDOIT_SUMMARY_FILE")
    if not path:
        say("no HATCHDOIT_SUMMARY_FILE set; summary not written")
        return
    if not valid:
        write_atomic(Path(path), f'{{"taskspec_id": "{session.taskspec_id}", "status": ')
        say(f"wrote malformed summary {path}")
        return
    summary = {
        "taskspec_id": session.taskspec_id,
        "agent_type": "factory",
        "iteration": session.attempt,
        "status": "completed",
        "implementation_files": session.files,
        "test_results": {"passed": 0, "failed": 1 if session.behaviour == "fail-tests" else 0},
        "loc_analysis": {"actual": session.lines, "cap": session.loc_cap},
        "next_steps": ["QA validation required"],
        "handover_notes": session.notes,
    }
    write_atomic(Path(path), json.dumps(summary, indent=2) + "\n")
    say(f"wrote summary {path}")


def hold(text: str) -> None:
    """Keep working for the prompt's `<!-- scripted:hold=SECONDS -->`, saying so every second
    (pane output, so an idle limit does not mistake the work for a hang)."""
    match = HOLD_RE.search(text)
    if match is None:
        return
    seconds = min(float(match.group(1)), MAX_HOLD)
    say(f"holding {seconds:g}s before finishing")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 1.0))  # simulated work: there is no event to wait for
        say(f"working ({max(deadline - time.monotonic(), 0):.1f}s left)")


def factory_implement(session: Session, text: str) -> str:
    """Write files, commit, and write the summary as the behaviour says."""
    if session.behaviour == "hang":
        while True:  # a hung agent goes quiet: no output, no stop hook
            signal.pause()
    if session.behaviour == "crash":
        say("crashing")
        raise SystemExit(3)
    hold(text)
    if session.behaviour == "edit-plan":
        edit_plan()
    root = Path.cwd()
    resolved = resolve_conflicts(root) if session.behaviour == "resolve-conflicts" else []
    done = write_files(session, root, text, keep=resolved)
    if session.behaviour != "no-commit":
        commit_all(root, f"scripted factory: {session.taskspec_id} attempt {session.attempt}")
    hostile(session.behaviour, session.taskspec_id, session.attempt, root)
    session.files = [rel for rel, _ in done]
    session.lines = sum(count for _, count in done)
    feedback = qa_feedback(text)
    session.notes = f"wrote {len(done)} file(s), {session.lines} line(s)"
    if feedback:
        session.notes = f"addressed QA feedback: {feedback}"
    if session.behaviour == "malformed-summary":
        write_summary(session, valid=False)
    elif session.behaviour not in ("skip-summary", "never-summary"):
        write_summary(session, valid=True)
    return f"implemented {session.taskspec_id} attempt {session.attempt}: {session.notes}"


def factory_summary(session: Session) -> str:
    """Answer the orchestrator's request to write the summary now."""
    if session.behaviour == "never-summary":
        say("summary requested; never-summary writes none")
        return "summary requested but not written"
    write_summary(session, valid=session.behaviour != "malformed-summary")
    return f"summary written for {session.taskspec_id} attempt {session.attempt}"


def read_json(path: str) -> tuple[Any, str]:
    """Parse a JSON file; return (data, "") or (None, why not)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")), ""
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def qa_decide(session: Session, checks: Any, error: str) -> tuple[str, list[str], str]:
    """The verdict, reasons and feedback for this attempt."""
    if session.behaviour == "reject":
        reasons = ["scripted QA rejects every attempt"]
        return "rejected", reasons, "Scripted QA rejects every attempt; no change will satisfy it."
    if session.behaviour == "reject-once" and session.attempt == 1:
        reasons = ["scripted QA: the change needs a docstring on each new public function"]
        return "rejected", reasons, "Add a docstring to each new public function."
    if not isinstance(checks, dict):
        return "rejected", [f"checks unavailable ({error or 'not a JSON object'})"], ""
    if checks.get("passed") is True:
        return "approved", [], ""  # approve-and-edit approves too
    reasons = [str(f) for f in checks.get("failures") or []] or ["checks did not pass"]
    return "rejected", reasons, "Fix these before QA can approve: " + "; ".join(reasons)


def qa_review(session: Session) -> str:
    """Read the checks (and summary), decide, and write the verdict."""
    checks, error = read_json(os.environ.get("HATCHDOIT_CHECKS_FILE", ""))
    say(f"checks: {'passed=' + str(checks.get('passed')) if isinstance(checks, dict) else error}")
    summary, why = read_json(os.environ.get("HATCHDOIT_SUMMARY_FILE", ""))
    say(f"factory summary: {'present' if isinstance(summary, dict) else 'unusable, ' + why}")
    verdict, reasons, feedback = qa_decide(session, checks, error)
    record = {
        "taskspec_id": session.taskspec_id,
        "attempt": session.attempt,
        "verdict": verdict,
        "reasons": reasons,
        "feedback": feedback,
    }
    if session.behaviour == "approve-and-edit":  # a QA agent that does not follow the rules
        Path("QA_WAS_HERE.txt").write_text("QA edited the worktree\n", encoding="utf-8")
        say("wrote QA_WAS_HERE.txt (QA must not change files)")
    path = os.environ.get("HATCHDOIT_VERDICT_FILE")
    if path:
        write_atomic(Path(path), json.dumps(record, indent=2) + "\n")
        say(f"wrote verdict {verdict} to {path}")
    else:
        say(f"no HATCHDOIT_VERDICT_FILE set; verdict {verdict} not written")
    return f"QA verdict {verdict} for {session.taskspec_id} attempt {session.attempt}"
