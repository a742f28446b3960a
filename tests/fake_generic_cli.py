"""A fake agent CLI for the `generic` profile, run wrapped by agents/examples/generic_agent.py.

It reads the prompt on stdin and, for a factory prompt, writes the TaskSpec's ```` ```file:PATH ````
blocks into the worktree and commits them (the example agent writes the summary or verdict). With
`--record DIR` it saves the exact bytes it read on stdin as DIR/<TaskSpec>-<role>-<attempt>.stdin
and, with `--prompt-file FILE` too, FILE's bytes as ...file and FILE's name as ...path.

    python3 tests/fake_generic_cli.py [--record DIR [--prompt-file FILE]]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

FAKE_GENERIC_CLI = Path(__file__).resolve()
FILE_BLOCK = re.compile(r"^```file:(\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def generic_command(record: Path | None = None) -> list[str]:
    """agent_params.generic.command: the example agent wrapping this fake CLI (recording into
    `record`, and given {prompt_file}, when set)."""
    example = "{agents_dir}/examples/generic_agent.py"
    command = [sys.executable, example, "--", sys.executable, str(FAKE_GENERIC_CLI)]
    if record is not None:
        command += ["--record", str(record), "--prompt-file", "{prompt_file}"]
    return command


def record(directory: Path, raw: bytes, prompt_file: Path | None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    name = "-".join(os.environ[f"HATCHDOIT_{k}"] for k in ("TASKSPEC_ID", "ROLE", "ATTEMPT"))
    (directory / f"{name}.stdin").write_bytes(raw)
    if prompt_file is not None:
        (directory / f"{name}.file").write_bytes(prompt_file.read_bytes())
        (directory / f"{name}.path").write_text(str(prompt_file), encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", type=Path)
    parser.add_argument("--prompt-file", type=Path)
    args = parser.parse_args(argv)
    raw = sys.stdin.buffer.read()  # as bytes: text mode could change what arrived
    if args.record is not None:
        record(args.record, raw, args.prompt_file)
    prompt = raw.decode("utf-8")
    if "You are the factory agent" in prompt:
        for path, text in FILE_BLOCK.findall(prompt):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
        subprocess.run(["git", "add", "-A"], check=True)
        subprocess.run(["git", "commit", "-q", "-m", "generic fake cli"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
