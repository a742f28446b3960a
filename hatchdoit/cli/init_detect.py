"""`hatchdoit init`'s look at the target repo: what kind of project it is, and so the setup each
worktree needs (`workspace.setup`) and the command that tests it (`planning.defaults.
test_command`). Read from marker files only; nothing is run.

Every setup written here installs into the worktree itself (its own `.venv`, `node_modules`) from
the ecosystem's shared cache, and never links a cached file into the worktree where an agent
could write through the link into every other worktree: uv and pnpm are told to copy, pip and
npm copy by nature, Go keeps its module cache read-only (docs/workspace.md). A Python project
without uv.lock gets uv's venv and installer when uv is on PATH (a later worktree's setup in a
fraction of pip's time, docs/benchmarks.md), else a venv with its own pip."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The shared Cargo target directory, relative to a worktree: worktrees (and the integration
# worktree) all live one level under the worktrees root, which init puts at .hatchdoit/worktrees,
# so every one of them finds it at .hatchdoit/cargo-target.
CARGO_TARGET = "../../cargo-target"
PYTHON_TEST = [".venv/bin/python", "-m", "pytest", "-q"]
UNITTEST = [".venv/bin/python", "-m", "unittest", "discover", "-q"]
NPM_PLACEHOLDER = "no test specified"
VENV = ["python3", "-m", "venv", ".venv"]
# The venv ignores itself (as uv's and Python 3.13's do), so that no `git add -A` takes it in.
VENV_IGNORED = [".venv/bin/python", "-c", "open('.venv/.gitignore', 'w').write('*\\n')"]
UV_PIP_INSTALL = [
    "uv",
    "pip",
    "install",
    "-q",
    "--python",
    ".venv/bin/python",
    "--link-mode",
    "copy",
]


@dataclass(frozen=True)
class Detected:
    """What init found and writes: the setup's argv commands, the test command (None: none
    found, the user writes it) and the lines of the comment that says why."""

    kind: str
    setup: list[list[str]]
    test_command: list[str] | None
    notes: list[str] = field(default_factory=list)


def detect_project(root: Path, environ: Mapping[str, str]) -> Detected | None:
    """The first kind of project `root` is: Python, Node, Go, Rust, then a Makefile with a
    `test` target; None when it is none of them. `environ`'s PATH says whether uv is there."""
    found = _python(root, environ)
    for detect in (_node, _go, _rust, _make):
        found = found or detect(root)
    return found


def _python(root: Path, environ: Mapping[str, str]) -> Detected | None:
    pyproject = _toml(root / "pyproject.toml")
    markers = [n for n in ("pyproject.toml", "setup.py", "setup.cfg") if (root / n).is_file()]
    requirements = sorted(p.name for p in root.glob("requirements*.txt"))
    if not markers and not requirements:
        return None
    extras = pyproject.get("project", {}).get("optional-dependencies", {})
    test_extra = next((e for e in ("test", "tests", "testing") if e in extras), None)
    text = " ".join(_read(root / n) for n in (*markers, *requirements))
    test = PYTHON_TEST if "pytest" in text or (root / "pytest.ini").is_file() else UNITTEST
    if (root / "uv.lock").is_file():
        sync = ["uv", "sync", "--frozen", "--link-mode", "copy"]
        if test_extra:
            sync += ["--extra", test_extra]
        return Detected(
            "python (uv)",
            [sync],
            test,
            [
                "uv.lock: `uv sync` into the worktree's own .venv, from uv's shared cache;",
                "--link-mode copy: no file of the cache is hard-linked into a worktree an",
                "agent can write (clone: only on a copy-on-write file system, else uv links)",
            ],
        )
    if _installable(root, pyproject):
        what = ["-e", f".[{test_extra}]" if test_extra else "."]
        said = "the project editable" + (f" with its `{test_extra}` extra" if test_extra else "")
    else:
        what = [arg for name in requirements for arg in ("-r", name)]
        said = ", ".join(requirements)
    own = f"{', '.join(markers or requirements)}: a .venv of the worktree's own, {said};"
    if shutil.which("uv", path=environ.get("PATH", "")):
        return Detected(
            "python (uv venv + uv pip)",
            [
                ["uv", "venv", "-q", "--allow-existing", ".venv"],
                [*UV_PIP_INSTALL, *what],
            ],
            test,
            [
                own,
                "uv (on PATH) fills it from its shared cache (~/.cache/uv), each file copied",
                "(--link-mode copy: nothing hard-linked an agent could write through); the",
                "venv has no pip: `uv pip install` adds to it (VIRTUAL_ENV names it)",
            ],
        )
    return Detected(
        "python (venv + pip)",
        [
            VENV,
            VENV_IGNORED,
            [".venv/bin/python", "-m", "pip", "install", "-q", *what],
        ],
        test,
        [
            own,
            "pip reuses its cache (~/.cache/pip) and copies every file it installs; the venv",
            "has its own pip, so an agent's `pip install` stays in its worktree (with uv on",
            "PATH, init writes a uv setup instead: several times faster, docs/benchmarks.md)",
        ],
    )


def _installable(root: Path, pyproject: dict[str, Any]) -> bool:
    """Whether pip can install the project itself (else only its requirements files)."""
    return (root / "setup.py").is_file() or "project" in pyproject or "build-system" in pyproject


def _node(root: Path) -> Detected | None:
    manifest = root / "package.json"
    if not manifest.is_file():
        return None
    try:
        package = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        package = {}
    manager = str(package.get("packageManager", ""))
    if (root / "pnpm-lock.yaml").is_file():
        tool, lockfile = "pnpm", "pnpm-lock.yaml"
        setup = ["pnpm", "install", "--frozen-lockfile", "--package-import-method", "copy"]
        how = "pnpm-lock.yaml: from pnpm's store, each file copied (never hard-linked)"
    elif (root / "yarn.lock").is_file():
        tool, lockfile = "yarn", "yarn.lock"
        classic = manager.startswith("yarn@1") or not (root / ".yarnrc.yml").is_file()
        setup = ["yarn", "install", "--frozen-lockfile" if classic else "--immutable"]
        how = "yarn.lock: from yarn's cache, the lockfile unchanged"
    elif (root / "package-lock.json").is_file() or (root / "npm-shrinkwrap.json").is_file():
        tool, lockfile = "npm", "package-lock.json"
        setup = ["npm", "ci"]
        how = "package-lock.json: `npm ci` from npm's cache (~/.npm), files copied"
    else:
        tool, lockfile = "npm", ""
        setup = ["npm", "install", "--no-package-lock"]
        how = "package.json without a lockfile: commit one for repeatable setups"
    script = str(package.get("scripts", {}).get("test", "")) if isinstance(package, dict) else ""
    test = [tool, "test"] if script and NPM_PLACEHOLDER not in script else None
    notes = [f"{how}, into the worktree's own node_modules"]
    if test is None:
        notes.append("package.json has no test script: set test_command below")
    return Detected(f"node ({tool}{', ' + lockfile if lockfile else ''})", [setup], test, notes)


def _go(root: Path) -> Detected | None:
    if not (root / "go.mod").is_file():
        return None
    return Detected(
        "go",
        [["go", "mod", "download"]],
        ["go", "test", "./..."],
        ["go.mod: modules from Go's shared module cache (read-only by Go's design)"],
    )


def _rust(root: Path) -> Detected | None:
    if not (root / "Cargo.toml").is_file():
        return None
    locked = ["--locked"] if (root / "Cargo.lock").is_file() else []
    env = ["env", f"CARGO_TARGET_DIR={CARGO_TARGET}"]
    return Detected(
        "rust",
        [["cargo", "fetch", *locked]],
        [*env, "cargo", "test", *locked],
        [
            "Cargo.toml: crates from cargo's shared registry cache; one target directory",
            "for all worktrees (.hatchdoit/cargo-target), so each does not rebuild everything",
        ],
    )


def _make(root: Path) -> Detected | None:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        if re.search(r"^test\s*:", _read(root / name), re.MULTILINE):
            return Detected("make", [], ["make", "test"], [f"{name} with a `test` target"])
    return None


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return ""


def tool_of(argv: list[str]) -> str | None:
    """The program a setup command runs: its argv[0], past `env` and its VAR=value words."""
    words = list(argv)
    if words and Path(words[0]).name == "env":
        words = words[1:]
        while words and (words[0].startswith("-") or "=" in words[0]):
            takes_value = words[0] in ("-u", "--unset", "-C", "--chdir")
            words = words[2:] if takes_value else words[1:]
    return words[0] if words else None


_PLAIN = re.compile(r"[A-Za-z0-9_./=:+@-]+")


def flow(argv: list[str]) -> str:
    """An argv list as a one-line YAML flow sequence; words YAML could misread are quoted."""
    words = [w if _PLAIN.fullmatch(w) and w[0] != "@" else json.dumps(w) for w in argv]
    return "[" + ", ".join(words) + "]"


def workspace_block(found: Detected | None) -> str:
    """The `workspace:` block of hatchdoit.yaml: the setup found, with the comment that says
    what it is from (docs/workspace.md)."""
    if found is None:
        return (
            "workspace:                   # nothing detected (no pyproject.toml, package.json,\n"
            "  setup: []                  # go.mod, Cargo.toml or Makefile test target): add the\n"
            "                             # argv commands that make a worktree ready to test\n"
        )
    lines = [f"workspace:                   # detected: {found.kind}"]
    lines += [f"  # {note}" for note in found.notes]
    lines.append("  # registry logins (~/.npmrc, pip.conf) are the setup's: not for workspace.copy")
    if found.setup:
        lines.append("  setup:                     # run in each new worktree (docs/workspace.md)")
        lines += [f"    - {flow(argv)}" for argv in found.setup]
    else:
        lines.append("  setup: []                  # nothing to install")
    lines.append("  remove_delivered: true     # delivered: its worktree goes (hatchdoit gc)")
    return "\n".join(lines) + "\n"
