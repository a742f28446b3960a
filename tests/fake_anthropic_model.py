"""The "model" of tests/fake_anthropic.py: a script driven by the conversation itself, so any
number of sessions can share one server and a retried request gets the same answer.

- a request whose tools include `Write` is a main-agent turn. The factory prompt plans one `Write`
  per ```` ```file:PATH ```` block of the TaskSpec body, a `Bash` commit and a `Write` of the
  summary JSON to the path the prompt names; the QA prompt plans a `Write` of an approving
  verdict. Each turn makes the next planned call (counted from the history), then a short text.
- TaskSpec markers: `fake-api: run-tests` makes the factory run the test command its prompt names
  with a `Bash` call before it commits (as a real factory makes its tests pass);
  `fake-api: skip-summary` leaves the summary out until a user message asks for it (a Stop
  hook's block reason or the summary injection, which name the path);
  `fake-api: overloaded` / `fake-api: error-500` / `fake-api: invalid-request` fail every
  main-agent request with 529 / 500 / 400 (tests/fake_faults.py has the provider faults that end).
- a pointer prompt (hatchdoit leaves a large or control-character prompt in a file and pastes
  `<!-- hatchdoit:prompt-file=PATH -->` and a line asking to read it) is first read with `Read`
  calls of READ_LINES lines each, as a model would; the plan then comes from the file's text.
- any other request (title generation, quota probes, ...) gets a short text answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

FILE_BLOCK = re.compile(r"^(`{3,})file:(\S+)[ \t]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
SUMMARY_PATH = re.compile(r"summary as JSON to\s+`([^`]+)`")
SUMMARY_REQUEST = re.compile(r"(?:summary|Summary)[^`]{0,200}?`([^`]+\.json)`")
VERDICT_PATH = re.compile(r"verdict as JSON to\s+`([^`]+)`")
TASKSPEC_ID = re.compile(r"TaskSpec (\S+?):")
ATTEMPT = re.compile(r"[Aa]ttempt (\d+)")
# the prompt's heading; Claude Code's context also lists recent commits ("…: attempt 1, as …")
HEADING_ATTEMPT = re.compile(r"^# .*\(attempt (\d+)\)$", re.MULTILINE)
LOC_CAP = re.compile(r"at most (\d+) lines")
TEST_COMMAND = re.compile(r"run this test command in the worktree: `([^`]+)`")
SUMMARY_ASKED = ("hatchdoit-summary-required", "Create the implementation summary")
POINTER = re.compile(r"<!-- hatchdoit:prompt-file=(\S+) -->")
REQUEST = re.compile(r"<!-- hatchdoit:request=([a-z-]+) -->")
ROLE_OF_REQUEST = {"implement": "factory", "review": "qa"}
READ_LINES = 400
NUMBERED_LINE = re.compile(r"^ *\d+\t(.*)$", re.MULTILINE)  # Claude Code's Read: "N<tab>line"


@dataclass
class Action:
    tool: str
    params: dict[str, Any]


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            out.extend(_texts(block.get("content", "")))
    return out


def first_user_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text blocks of the conversation's first user message: what the CLI was asked."""
    first = next((m for m in messages if m.get("role") == "user"), {})
    return _texts(first.get("content"))


def _user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [t for m in messages if m.get("role") == "user" for t in _texts(m.get("content"))]


def _tool_uses(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        b
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]


def _tool_results(messages: list[dict[str, Any]]) -> dict[str, str]:
    """tool_use_id -> the text of its result."""
    return {
        str(b.get("tool_use_id")): "\n".join(_texts(b.get("content", "")))
        for m in messages
        if m.get("role") == "user" and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    }


def last_tool_result(messages: list[dict[str, Any]]) -> str:
    """What the CLI answered the conversation's latest tool call with ("" when none)."""
    results = list(_tool_results(messages).values())
    return results[-1] if results else ""


def read_pointer(messages: list[dict[str, Any]]) -> tuple[list[Action], str | None]:
    """For a pointer prompt: the Read calls made so far (and the next one while the file is not
    read to its end), and the file's text once it is (else None; also None without a pointer)."""
    pointer = _first(POINTER, "\n".join(first_user_texts(messages)))
    if not pointer:
        return [], None
    results = _tool_results(messages)
    actions: list[Action] = []
    lines: list[str] = []
    for use in (u for u in _tool_uses(messages) if u.get("name") == "Read"):
        actions.append(Action("Read", dict(use.get("input") or {})))
        got = NUMBERED_LINE.findall(results.get(str(use.get("id")), ""))
        lines += got
        if len(got) < READ_LINES:
            return actions, "\n".join(lines)
    offset = {"offset": len(lines) + 1, "limit": READ_LINES}
    return [*actions, Action("Read", {"file_path": pointer, **offset})], None


def _first(pattern: re.Pattern[str], text: str, default: str = "") -> str:
    found = pattern.search(text)
    return found.group(1) if found else default


def _summary(prompt: str, files: list[tuple[str, str]]) -> str:
    loc = sum(content.count("\n") for _, content in files)
    record = {
        "taskspec_id": _first(TASKSPEC_ID, prompt),
        "agent_type": "factory",
        "iteration": int(_first(ATTEMPT, prompt, "1")),
        "status": "completed",
        "implementation_files": [path for path, _ in files],
        "test_results": {"passed": len(files), "failed": 0},
        "loc_analysis": {"actual": loc, "cap": int(_first(LOC_CAP, prompt, "0"))},
        "next_steps": [],
        "handover_notes": "Written by the fake Messages API (tests/fake_anthropic.py).",
    }
    return json.dumps(record, indent=2) + "\n"


def plan(messages: list[dict[str, Any]]) -> tuple[str, list[Action]]:
    """(role, the tool calls this conversation should make, in order)."""
    reads, pointed = read_pointer(messages)
    if reads and pointed is None:  # still reading the prompt file
        request = _first(REQUEST, "\n".join(first_user_texts(messages)))
        return ROLE_OF_REQUEST.get(request, "other"), reads
    texts = _user_texts(messages) if pointed is None else [pointed, *_user_texts(messages)]
    joined = "\n".join(texts)
    if "You are the QA agent" in joined:
        verdict = {
            "taskspec_id": _first(TASKSPEC_ID, joined),
            "attempt": int(_first(HEADING_ATTEMPT, joined) or _first(ATTEMPT, joined, "1")),
            "verdict": "approved",
            "reasons": ["the fake model approves"],
            "feedback": "",
        }
        path = _first(VERDICT_PATH, joined)
        write = Action("Write", {"file_path": path, "content": json.dumps(verdict) + "\n"})
        return "qa", [*reads, write]
    if "You are the factory agent" not in joined:
        return "other", []
    prompt = next(t for t in texts if "You are the factory agent" in t)
    files = [(m.group(2), m.group(3)) for m in FILE_BLOCK.finditer(prompt)]
    actions = [*reads, *(Action("Write", {"file_path": p, "content": b}) for p, b in files)]
    tid = _first(TASKSPEC_ID, prompt)
    if "fake-api: run-tests" in prompt and (test_command := _first(TEST_COMMAND, prompt)):
        actions.append(Action("Bash", {"command": test_command, "description": "Run the tests"}))
    commit = f"git add -A && git commit -q -m 'fake model: {tid}'"
    actions.append(Action("Bash", {"command": commit, "description": "Commit the work"}))
    summary = _summary(prompt, files)
    if "fake-api: skip-summary" not in prompt:
        actions.append(
            Action("Write", {"file_path": _first(SUMMARY_PATH, prompt), "content": summary})
        )
    for text in texts:
        if any(marker in text for marker in SUMMARY_ASKED):
            path = _first(SUMMARY_REQUEST, text) or _first(SUMMARY_PATH, prompt)
            actions.append(Action("Write", {"file_path": path, "content": summary}))
    return "factory", actions


def error_for(messages: list[dict[str, Any]]) -> tuple[int, str] | None:
    joined = "\n".join(_user_texts(messages))
    if "fake-api: overloaded" in joined:
        return 529, "overloaded_error"
    if "fake-api: error-500" in joined:
        return 500, "api_error"
    if "fake-api: invalid-request" in joined:  # the TaskSpec's fault, not the provider's
        return 400, "invalid_request_error"
    return None


@dataclass
class Reply:
    text: str = ""
    tool: Action | None = None
    stop_reason: str = "end_turn"
    summary_asked: bool = False


def decide(body: dict[str, Any]) -> tuple[str, Reply]:
    """The role and the reply for one /v1/messages request."""
    messages = body.get("messages") or []
    tool_names = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    if "Write" not in tool_names:
        return "side", Reply(text="Fake title")
    role, actions = plan(messages)
    done = len(_tool_uses(messages))
    asked = any(m in text for text in _user_texts(messages) for m in SUMMARY_ASKED)
    if done < len(actions):
        return role, Reply(tool=actions[done], stop_reason="tool_use", summary_asked=asked)
    return role, Reply(text=f"Done ({role}).", summary_asked=asked)
