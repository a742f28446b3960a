"""The target repo's `.git/config` (where CI keeps tokens: `http.extraheader`, a remote URL with a
password, credential helpers) as a confined process under srt sees it: a scrubbed copy that keeps
only what git needs to read the repository (`core` format keys, `extensions.*`), bound over it.

srt can only make a file unreadable, and git refuses to run then; so the srt command runs inside
a bubblewrap of its own that changes nothing but that one file (`--dev-bind / /`, the host's
network and terminal kept, no new namespace but the mount one and the user one bubblewrap needs),
with srt's sandbox inside it. The copy is written where the confined process cannot write it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from hatchdoit.core.atomicio import write_atomic

# What git needs of the repository's config to read it; nothing that runs a program or names a host.
KEPT = (
    "core.repositoryformatversion", "core.bare", "core.filemode", "core.symlinks",
    "core.ignorecase", "core.precomposeunicode", "core.logallrefupdates", "core.autocrlf",
    "core.eol", "core.safecrlf", "core.checkstat", "core.trustctime",
)  # fmt: skip


def _kept(key: str) -> bool:
    return key in KEPT or key.startswith("extensions.")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scrubbed_text(config: Path) -> str:
    """The kept keys of `config` (read by git itself, includes not followed) as a config file."""
    listed = subprocess.run(
        ["git", "config", "--file", str(config), "--list", "--null"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    sections: dict[str, list[str]] = {}
    for entry in listed.split("\0"):
        key, _, value = entry.partition("\n")
        section, _, name = key.rpartition(".")
        if key and _kept(key.lower()) and "." not in section:
            sections.setdefault(section, []).append(f"\t{name} = {_quote(value)}")
    return "".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())


def scrub_prefix(config: Path | None, copy: Path) -> list[str]:
    """What goes before the srt command so that it reads `copy` (written now, scrubbed) where
    `config` is; nothing where bubblewrap is not to be had (not Linux) or there is no config."""
    bwrap = shutil.which("bwrap")
    if config is None or not config.is_file() or bwrap is None:
        return []
    if not sys.platform.startswith("linux"):
        return []
    copy.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(copy, scrubbed_text(config))
    copy.chmod(0o444)
    bind = ["--ro-bind", str(copy), str(config)]
    return [bwrap, "--dev-bind", "/", "/", *bind, "--die-with-parent", "--"]
