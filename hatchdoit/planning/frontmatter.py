"""Reading one spec file: Markdown with YAML front matter (the body is the text after it), or a
plain YAML file, into its field mapping. YAML keys given twice are an error, as YAML says."""

from __future__ import annotations

import contextlib
import hashlib
import shlex
from pathlib import Path
from typing import Any

import yaml

from hatchdoit.core.errors import SpecError

MAX_SPEC_BYTES = 1024 * 1024
# libyaml's parser when PyYAML was built with it: the same safe subset, several times faster.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class SpecLoader(_SafeBase):  # type: ignore[misc]
    """The safe loader, refusing a key given twice in one mapping: YAML requires unique keys,
    and PyYAML would silently keep the last value (`id: A` then `id: B` becomes B)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line
                if key_node.value in seen:
                    raise _DuplicateKey(key_node.value, seen[key_node.value], line)
                seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def read_spec_file(path: Path) -> tuple[dict[str, Any], str]:
    """(fields incl. `body`, sha256 of the bytes) of a spec file; a SpecError names what is
    wrong with it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", path=path) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"file is {len(raw)} bytes, over the {MAX_SPEC_BYTES} byte limit",
            path=path,
            fix="split the work into smaller TaskSpecs",
        )
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", path=path, fix="save the file as UTF-8") from None
    data = parse_text(path, text)
    command = data.get("test_command")
    if isinstance(command, str):
        # Split once here, so the cached entry holds the argv TaskSpec's validator would make
        # (shlex is a third of validating a TaskSpec). A string shlex rejects stays a string:
        # validation then reports it exactly as before.
        with contextlib.suppress(ValueError):
            data["test_command"] = shlex.split(command)
    return data, hashlib.sha256(raw).hexdigest()


def parse_text(path: Path, text: str) -> dict[str, Any]:
    if path.suffix in (".md", ".markdown"):
        front, body = _split_front_matter(path, text)
        data = _yaml_mapping(path, front, first_line=2)
        if "body" in data:
            raise SpecError(
                "'body' is the Markdown text after the front matter",
                path=path,
                field="body",
                fix="move it below the closing ---",
            )
        data["body"] = body.strip("\n")
        return data
    return _yaml_mapping(path, text)


def _split_front_matter(path: Path, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SpecError(
            "no YAML front matter",
            path=path,
            fix="start the file with a '---' line, the YAML fields, then '---'",
        )
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise SpecError("front matter is not closed", path=path, fix="add a '---' line after it")


def _yaml_mapping(path: Path, text: str, first_line: int = 1) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=SpecLoader)
    except _DuplicateKey as exc:
        raise SpecError(
            f"given twice (lines {exc.first + first_line} and {exc.again + first_line})",
            path=path,
            field=exc.key,
            fix="keep one of the two",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + first_line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(
            f"YAML error{where}: {problem}", path=path, fix="fix the YAML syntax"
        ) from exc
    if not isinstance(data, dict):
        raise SpecError(
            "front matter must be a mapping of fields", path=path, fix="write 'key: value' lines"
        )
    return {str(k): v for k, v in data.items()}
