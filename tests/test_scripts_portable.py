"""The bundled scripts on a BSD userland and an old bash (macOS): the BSD-flavoured stand-ins that
every script test also runs with (script_harness.env, tests/bsd_userland.py) reject what BSD's
tools reject; the scripts call no GNU-only option; and bash older than 4.2 stops at the guard in
lib/common.sh, before any line that needs a newer bash.

Why bash 4.2 rather than 3.2: launch_agent.sh keeps an agent's exit status safe from a signal
landing in `wait` by a reporter on a pipe, which needs `{fd}` redirections and $BASHPID, and
writes its exit time with printf %(...)T; Homebrew, needed on macOS anyway for tmux, installs a
current bash first on PATH, and `doctor` checks it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from bsd_userland import write_standins
from projects import CHECKOUT
from script_harness import SCRIPTS

ALL = sorted(SCRIPTS.rglob("*.sh"))
COMMON = SCRIPTS / "lib" / "common.sh"
SOURCE_LINE = '. "$here/../lib/common.sh"'

# Constructs bash 3.2 (macOS's /bin/bash) does not have.
BASH4 = {
    "{fd} redirection": r"\{[A-Za-z_][A-Za-z0-9_]*\}[<>]",
    "$BASHPID": r"\bBASHPID\b",
    "associative array": r"\b(declare|local|typeset)\s+-[a-zA-Z]*A",
    "nameref": r"\b(declare|local|typeset)\s+-[a-zA-Z]*n\b",
    "mapfile/readarray": r"\b(mapfile|readarray)\b",
    "case conversion": r"\$\{[^}]*(,,|\^\^|,\}|\^\})",
    "case fall-through": r";;&|;&",
    "|& pipe": r"\|&",
    "globstar": r"shopt\s+-s\s+globstar",
    "coproc": r"\bcoproc\b",
    "printf %(...)T": r"%\([^)]*\)T",
    "wait -n": r"\bwait\s+-n\b",
    "${x@Q}": r"\$\{[^}]*@[QEPAa]\}",
    "[[ -v": r"\[\[\s+-v\b",
}
# Options of GNU's tools that BSD's lack.
GNU_ONLY = {
    "mv -T / -t": r"\bmv\s+(-[a-zA-Z]*[Tt]\b|--)",
    "realpath -m / -e": r"\brealpath\s+-[a-zA-Z]*[me]",
    "readlink -f / -e / -m": r"\breadlink\s+-[a-zA-Z]*[fem]",
    "sed -i without a suffix": r"\bsed\s+(-[a-zA-Z]*\s+)*-i\s+['\"]?s",
    "sed -r / long options": r"\bsed\s+(-r\b|--)",
    "stat -c": r"\bstat\s+(-c|--)",
    "date -d / -I / long options": r"\bdate\s+(-[a-zA-Z]*[dI]|--)",
    "mktemp long options / -p": r"\bmktemp\s+(--|-p\b)",
}


def code_lines(script: Path) -> list[str]:
    """The script's lines without comments (a `#` after a blank, or at the start)."""
    return [re.sub(r"(^|\s)#.*$", "", line) for line in script.read_text().splitlines()]


@pytest.mark.parametrize("script", ALL, ids=lambda p: p.name)
def test_no_gnu_only_option(script: Path) -> None:
    found = [
        f"{script.name}:{n}: {what}"
        for n, line in enumerate(code_lines(script), 1)
        for what, pattern in GNU_ONLY.items()
        if re.search(pattern, line)
    ]
    assert not found, found


@pytest.mark.parametrize("script", ALL, ids=lambda p: p.name)
def test_bash4_constructs_only_after_the_version_guard(script: Path) -> None:
    """A script that needs bash 4.2 sources lib/common.sh (whose guard stops an older bash with
    one line) before its first such line; the others must parse and run in bash 3.2."""
    lines = code_lines(script)
    guard = next((n for n, line in enumerate(lines) if SOURCE_LINE in line), len(lines))
    if script == COMMON:
        guard = next(n for n, line in enumerate(lines) if line.startswith("if bash_too_old"))
    early = [
        f"{script.name}:{n + 1}: {what}"
        for n, line in enumerate(lines[:guard])
        for what, pattern in BASH4.items()
        if re.search(pattern, line)
    ]
    assert not early, early


def test_the_patterns_catch_what_they_name() -> None:
    samples = {
        "exec {out}>&1": "{fd} redirection",
        'printf "%s" "$BASHPID"': "$BASHPID",
        "declare -A seen": "associative array",
        "mapfile -t lines": "mapfile/readarray",
        'echo "${x,,}"': "case conversion",
        "a) x ;&": "case fall-through",
        "cmd |& tee": "|& pipe",
        "printf -v now '%(%s)T' -1": "printf %(...)T",
    }
    for line, what in samples.items():
        assert re.search(BASH4[what], line), line
    gnu = {
        'mv -fT -- "$a" "$b"': "mv -T / -t",
        "realpath -m -- x": "realpath -m / -e",
        'readlink -f -- "$0"': "readlink -f / -e / -m",
        "sed -i 's/a/b/' f": "sed -i without a suffix",
        "stat -c %s f": "stat -c",
        "date -d @1 +%s": "date -d / -I / long options",
        "mktemp --suffix .x": "mktemp long options / -p",
    }
    for line, what in gnu.items():
        assert re.search(GNU_ONLY[what], line), line
    assert not re.search(GNU_ONLY["sed -i without a suffix"], "sed -i '' 's/a/b/' f")


@pytest.mark.parametrize(
    ("version", "too_old"), [("3 2", True), ("4 1", True), ("4 2", False), ("5 2", False)]
)
def test_the_guard_knows_which_bash_is_too_old(version: str, too_old: bool) -> None:
    done = subprocess.run(
        ["bash", "-c", f'prog=t; . "$1"; bash_too_old {version}', "_", str(COMMON)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == (0 if too_old else 1), done.stderr
    here = subprocess.run(
        ["bash", "-c", 'prog=t; . "$1"; echo sourced', "_", str(COMMON)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert here.stdout == "sourced\n", here.stderr  # this machine's bash passes the guard


REJECTED = [
    ["mv", "-T", "a", "b"],
    ["mv", "--force", "a", "b"],
    ["realpath", "-m", "/no/such/path"],
    ["realpath", "/no/such/path"],
    ["readlink", "-f", "/"],
    ["sed", "-i", "s/a/b/", "FILE"],
    ["sed", "-r", "s/a+/b/"],
    ["sed", "s/a\\+/b/"],
    ["stat", "-c", "%s", "FILE"],
    ["date", "-d", "@1"],
    ["date", "--iso-8601"],
    ["mktemp", "--suffix", ".x"],
    ["mktemp", "-p", "/tmp"],
    ["mktemp", "/tmp/xXXXXXX.txt"],
    ["env", "--default-signal=INT", "true"],
]


@pytest.fixture
def standins(tmp_path: Path) -> Path:
    return write_standins(tmp_path / "bin")


@pytest.mark.parametrize("argv", REJECTED, ids=" ".join)
def test_the_standins_reject_what_bsd_rejects(argv: list[str], standins: Path) -> None:
    target = standins.parent / "FILE"
    target.write_text("a\n")
    args = [str(target) if a == "FILE" else a for a in argv[1:]]
    done = subprocess.run(
        [str(standins / argv[0]), *args], cwd=standins.parent, capture_output=True, text=True
    )
    assert done.returncode != 0, (argv, done.stdout)
    assert target.read_text() == "a\n"


def test_the_standins_do_what_bsd_does(standins: Path) -> None:
    def tool(*argv: str) -> str:
        return subprocess.run(
            [str(standins / argv[0]), *argv[1:]],
            cwd=standins.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    work = standins.parent
    (work / "f").write_text("abc\n")
    tool("sed", "-i", ".bak", "s/b/B/", "f")
    assert (work / "f").read_text() == "aBc\n" and (work / "f.bak").read_text() == "abc\n"
    tool("sed", "-i", "", "s/B/x/", "f")
    assert (work / "f").read_text() == "axc\n"
    assert tool("stat", "-f", "%z", "f") == "4\n"
    assert tool("date", "-u", "-r", "0", "+%Y %N") == "1970 N\n"
    made = Path(tool("mktemp", "-d", "-t", "hd").strip())
    assert made.is_dir() and made.name.startswith("hd.")
    made.rmdir()
    (work / "link").symlink_to("f")
    assert tool("readlink", "link") == "f\n"
    assert tool("realpath", "link") == f"{(work / 'f').resolve()}\n"
    tool("mv", "-f", "f", "g")
    assert (work / "g").is_file()


def test_ci_setup_runs_on_bash_3_2() -> None:
    """macOS runs `bash .ci/setup` with its own /bin/bash 3.2: Homebrew's comes from it."""
    setup = CHECKOUT / ".ci" / "setup"
    found = [
        f"setup:{n}: {what}"
        for n, line in enumerate(code_lines(setup), 1)
        for what, pattern in BASH4.items()
        if re.search(pattern, line)
    ]
    assert not found, found
