"""The "model" of tests/fake_openai.py: the scripted model of tests/fake_anthropic_model.py (the
same plan from hatchdoit's factory and QA prompts), speaking the Responses API's items.

The request's `input` is the conversation: messages (`input_text` parts) and the model's earlier
`function_call` items with their `function_call_output`s. It is read back into the Messages API
shape `fake_anthropic_model.plan` reads, so both stand-ins make the same calls in the same
order: each planned `Write` becomes a shell command that writes the file (its content base64
encoded, so no quoting can change it) and each `Bash` the command itself, as a call of the shell
tool the CLI offers (Codex: `exec_command` with `cmd`, or `shell_command` with `command`). Once
the plan is done the model answers with a short text, "Done (ROLE).".
"""

from __future__ import annotations

import base64
import json
import shlex
import uuid
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from fake_anthropic_model import Action, plan

SHELL_TOOLS = ("exec_command", "shell_command")


@dataclass
class Call:
    """One function call the model makes."""

    name: str
    arguments: dict[str, Any]
    call_id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:20]}")


@dataclass
class Answer:
    text: str = ""
    call: Call | None = None
    planned: str = ""  # the fake_anthropic_model tool the call stands for (Write, Bash)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and "text" in p)


def as_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Responses API `input` as Messages API messages (user texts, tool uses and results):
    what fake_anthropic_model.plan reads. Developer/system messages are left out."""
    messages: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "user":
            text = {"type": "text", "text": _text_of(item.get("content"))}
            messages.append({"role": "user", "content": [text]})
        elif kind == "function_call":
            use = {"type": "tool_use", "id": item.get("call_id"), "name": item.get("name")}
            messages.append({"role": "assistant", "content": [{**use, "input": {}}]})
        elif kind == "function_call_output":
            output = item.get("output")
            result = {
                "type": "tool_result",
                "tool_use_id": item.get("call_id"),
                "content": output if isinstance(output, str) else json.dumps(output),
            }
            messages.append({"role": "user", "content": [result]})
    return messages


def user_texts(body: dict[str, Any]) -> list[str]:
    """The texts of the request's user messages (Codex's environment context, then the prompt)."""
    items = [i for i in body.get("input") or [] if isinstance(i, dict)]
    return [
        _text_of(i.get("content"))
        for i in items
        if i.get("type", "message") == "message" and i.get("role") == "user"
    ]


def last_output(body: dict[str, Any]) -> str:
    """The output of the conversation's latest function call ("" when there is none)."""
    items = [i for i in body.get("input") or [] if isinstance(i, dict)]
    outputs = [i.get("output") for i in items if i.get("type") == "function_call_output"]
    return "" if not outputs else outputs[-1] if isinstance(outputs[-1], str) else str(outputs[-1])


def shell_command(action: Action) -> str:
    """The shell command that carries out a planned Write or Bash."""
    if action.tool == "Bash":
        return str(action.params["command"])
    path = str(action.params["file_path"])
    encoded = base64.b64encode(str(action.params["content"]).encode()).decode()
    parent = str(PurePosixPath(path).parent)
    return (
        f"mkdir -p {shlex.quote(parent)} && printf %s {encoded} | base64 -d > {shlex.quote(path)}"
    )


def shell_tool(body: dict[str, Any]) -> str:
    """The shell tool this request offers (the first of SHELL_TOOLS), or ""."""
    names = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    return next((name for name in SHELL_TOOLS if name in names), "")


def decide(body: dict[str, Any]) -> tuple[str, Answer]:
    """The role and the answer for one /v1/responses request."""
    items = [i for i in body.get("input") or [] if isinstance(i, dict)]
    role, actions = plan(as_messages(items))
    done = sum(1 for i in items if i.get("type") == "function_call")
    tool = shell_tool(body)
    if done < len(actions) and tool:
        action = actions[done]
        command = shell_command(action)
        arguments = {"cmd": command} if tool == "exec_command" else {"command": command}
        return role, Answer(call=Call(tool, arguments), planned=action.tool)
    return role, Answer(text=f"Done ({role}).")
