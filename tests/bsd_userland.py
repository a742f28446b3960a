"""BSD-flavoured stand-ins for `mv`, `realpath`, `readlink`, `sed`, `stat`, `date`, `mktemp` and
`env`, written into a directory that goes first on PATH: the bundled scripts then run as on
macOS.

Each stand-in takes only the options macOS's tool takes (an unknown one is BSD's "illegal
option" usage error, exit 64), behaves as BSD's does where GNU's differs, and runs the real GNU
tool for the work:
- mv: -f -i -n -h -v; no -T, -t or long options.
- realpath: -q only; every path must exist (no -m, -e).
- readlink: -n only (macOS before 12.3 has no -f).
- sed: -E -a -l -n -u -e -f and -i/-I with a SUFFIX argument (`-i ''`); no long options or -r,
  and no GNU escapes (\\+ \\? \\|) in a basic regular expression; runs GNU sed --posix.
- stat: -f FORMAT with BSD's letters (%z size, %m mtime, %N name, %p mode, %u, %g, %i); no -c.
- date: -u -j -n -R, -r SECONDS, +FORMAT; no -d, -I or long options; %N is not expanded (BSD
  prints "N").
- mktemp: -d -q -u, -t PREFIX (BSD's meaning), TEMPLATE ending in X's; no long options or -p.
- env: -0 -i -v, -u NAME, -P PATH, -S STRING; no long options (no --default-signal).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

TOOLS = ("mv", "realpath", "readlink", "sed", "stat", "date", "mktemp", "env")

_COMMON = r'''
import os, re, sys
NAME = os.path.basename(sys.argv[0])
REAL = {real!r}

def illegal(option):
    sys.stderr.write(f"{{NAME}}: illegal option -- {{option.lstrip('-')}}\nusage: {{NAME}} ...\n")
    sys.exit(64)

def options(args, flags, valued=""):
    """BSD getopt: clusters of single letters until -- or the first operand; long options are
    illegal. Returns ([(flag, value)], operands)."""
    found, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return found, args[i + 1:]
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            illegal(arg)
        j = 1
        while j < len(arg):
            letter = arg[j]
            if letter in valued:
                value = arg[j + 1:]
                if not value:
                    i += 1
                    if i >= len(args):
                        illegal(letter)
                    value = args[i]
                found.append((letter, value))
                break
            if letter not in flags:
                illegal(letter)
            found.append((letter, None))
            j += 1
        i += 1
    return found, args[i:]

def run(argv):
    os.execv(argv[0], argv)
'''

_BODIES = {
    "mv": r"""
found, rest = options(sys.argv[1:], "finhv")
run([REAL, *[f"-{f}" for f, _ in found if f != "h"], "--", *rest])
""",
    "realpath": r"""
found, rest = options(sys.argv[1:], "q")
run([REAL, "-e", *(["-q"] if found else []), "--", *(rest or ["."])])
""",
    "readlink": r"""
found, rest = options(sys.argv[1:], "n")
run([REAL, *[f"-{f}" for f, _ in found], "--", *rest])
""",
    "sed": r"""
found, rest = options(sys.argv[1:], "Ealnu", "efiI")
argv, extended, scripts = [REAL, "--posix"], False, []
for flag, value in found:
    if flag in "iI":
        argv.append(f"-i{value}")
    elif flag == "e":
        scripts.append(value)
        argv += ["-e", value]
    elif flag == "f":
        argv += ["-f", value]
    elif flag == "E":
        extended = True
        argv.append("-E")
    elif flag in "nu":
        argv.append(f"-{flag}")
if not scripts and not any(f == "f" for f, _ in found):
    if not rest:
        illegal("e")
    scripts.append(rest[0])
    argv += ["-e", rest.pop(0)]
for script in scripts:
    if not extended and re.search(r"\\[+?|]", script):
        sys.stderr.write(f"sed: GNU-only escape in basic regular expression: {script}\n")
        sys.exit(1)
run([*argv, "--", *rest])
""",
    "stat": r"""
found, rest = options(sys.argv[1:], "FLnq", "ft")
letters = {"z": "%s", "m": "%Y", "N": "%n", "p": "%f", "u": "%u", "g": "%g", "i": "%i", "%": "%%"}
fmt = None
for flag, value in found:
    if flag == "f":
        def swap(m):
            if m.group(1) not in letters:
                sys.stderr.write(f"stat: unknown format letter in {value!r}\n")
                sys.exit(1)
            return letters[m.group(1)]
        fmt = re.sub(r"%(.)", swap, value)
argv = [REAL, *(["-L"] if ("L", None) in found else [])]
run([*argv, *(["-c", fmt] if fmt is not None else []), "--", *rest])
""",
    "date": r"""
found, rest = options(sys.argv[1:], "jnRu", "rvf")
argv = [REAL]
for flag, value in found:
    if flag in "vf":
        illegal(flag)  # not emulated: no script needs them
    if flag == "u":
        argv.append("-u")
    elif flag == "R":
        argv.append("-R")
    elif flag == "r":
        if not value.isdigit():
            sys.stderr.write("date: illegal time format\n")
            sys.exit(1)
        argv.append(f"--date=@{value}")
for operand in rest:
    if not operand.startswith("+"):
        sys.stderr.write("date: setting the time is not emulated\n")
        sys.exit(1)
    argv.append(operand.replace("%N", "N"))
run(argv)
""",
    "mktemp": r"""
found, rest = options(sys.argv[1:], "dqu", "t")
argv = [REAL, *[f"-{f}" for f, _ in found if f in "dqu"]]
prefixes = [v for f, v in found if f == "t"]
for template in rest:
    if not template.endswith("X"):
        sys.stderr.write(f"mktemp: {template}: template must end in X (BSD takes it as is)\n")
        sys.exit(1)
if prefixes and not rest:
    tmpdir = os.environ.get("TMPDIR", "/tmp").rstrip("/") or "/tmp"
    rest = [f"{tmpdir}/{prefixes[0]}.XXXXXXXX"]
run([*argv, *rest])
""",
    "env": r"""
options(sys.argv[1:], "0iv", "uPS")  # only checked: the arguments mean the same to GNU's
run([REAL, *sys.argv[1:]])
""",
}


def write_standins(directory: Path) -> Path:
    """Write the stand-ins into `directory` (made if missing) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        real = shutil.which(tool, path="/usr/bin:/bin")
        assert real is not None, f"{tool} is not installed"
        path = directory / tool
        path.write_text(
            f"#!{sys.executable} -I\n" + _COMMON.format(real=real) + _BODIES[tool],
            encoding="utf-8",
        )
        path.chmod(0o755)
    return directory
