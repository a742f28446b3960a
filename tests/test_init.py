"""`hatchdoit init --specs PATH`: an existing git repo becomes a hatchdoit project whose own
`doit` builds a TaskSpec of the planning repo on worktrees of that repo (README, "Pointing it
at a real planning repo"). Real processes: the `hatchdoit` and `doit` of the interpreter running the
tests, git, and the scripted agent in a tmux server on the test project's private socket."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import git, run_doit, tree_hashes
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit.core.errors import EXIT_CONFIG

pytestmark = pytest.mark.integration

TID = "T-INIT-1"


def own_repo(project: HatchProject) -> HatchProject:
    """The project moved to a git repo of the user's own (the seed's files, committed on main),
    with the same planning repo, environment and tmux socket."""
    repo = project.root.parent / "own"
    shutil.copytree(project.seed, repo)
    git(repo, "init", "-q", "-b", "main", env=project.env)
    git(repo, "add", "-A", env=project.env)
    git(repo, "commit", "-q", "-m", "the user's code", env=project.env)
    return dataclasses.replace(project, root=repo)


INIT_DONE = [
    "wrote hatchdoit.yaml",
    "wrote dodo.py",
    "wrote doit.cfg",
]
NEXT = [
    "added /_logs/, /.hatchdoit/, /specs_link to .gitignore",
    "commit for CI: hatchdoit.yaml, dodo.py, doit.cfg, .gitignore; ignored: _logs/ (the build's "
    "records), .hatchdoit/ (worktrees), specs_link",
    "next: hatchdoit doctor, then doit list",
]


def test_init_makes_a_repo_a_project_whose_doit_builds_a_taskspec(project: HatchProject) -> None:
    own = own_repo(project)
    repo = own.root
    project.add_taskspec(TID, test_command="python3 -m unittest discover -s tests -q")
    done = hatchdoit(own, "init", "--specs", str(project.planning), "--agent", "scripted")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"planning repo: {project.planning.resolve()} (hatchdoit)",
        "agent: scripted (chosen with --agent)",
        "project: nothing detected; write workspace.setup in hatchdoit.yaml",
        *INIT_DONE,
        f"specs_link -> {project.planning.resolve()} (symlink)",
        *NEXT,
    ]
    assert (repo / "specs_link").resolve() == project.planning.resolve()
    assert not (repo / "scripts").exists() and not (repo / "agents").exists()  # nothing copied
    assert "written by hatchdoit init" in (repo / "hatchdoit.yaml").read_text()

    # Its own doit, with the bundled scripts and profiles, on a private tmux socket (the
    # HATCHDOIT__ overlay: the fixture ends that server).
    main_before = git(repo, "rev-parse", "main", env=project.env)
    env = project.env | {"HATCHDOIT__TMUX_SOCKET": project.socket}
    built = run_doit(dataclasses.replace(own, env=env))
    assert built.returncode == 0, built.stdout + built.stderr
    assert (repo / "_logs" / "state" / TID / "done.json").is_file()
    made = json.loads((repo / "_logs" / "state" / TID / "worktree.json").read_text())
    assert made["path"] == f".hatchdoit/worktrees/{TID}"  # where test runners do not look
    assert not (repo / made["path"]).exists()  # delivered: removed (workspace.remove_delivered)
    work = git(repo, "log", "--format=%s", "-1", f"taskspec/{TID}", env=env)
    assert work.startswith("scripted factory:"), work
    # init chose `integrate: merge`: main, checked out here, moved by the one merge of the
    # TaskSpec; the user's files are as they were, but for what init added, and the build said
    # how to bring them up to date (keeping the user's changes).
    main_after = git(repo, "rev-parse", "main", env=env).strip()
    assert git(repo, "rev-parse", f"{main_after}^1", env=env) == main_before
    assert (
        git(repo, "rev-parse", f"{main_after}^2", env=env).strip()
        == git(repo, "rev-parse", f"taskspec/{TID}", env=env).strip()
    )
    hint = f"reset --keep {main_before.strip()[:12]} && git -C {repo} merge --ff-only"
    assert hint in built.stderr, built.stderr
    follow = built.stderr.split("to update them, keeping your changes: ", 1)[1].splitlines()[0]
    subprocess.run(follow, shell=True, check=True, env=env)  # what the user would type
    assert sorted(git(repo, "status", "--porcelain", env=env).splitlines()) == [
        " M .gitignore",
        "?? dodo.py",
        "?? doit.cfg",
        "?? hatchdoit.yaml",
    ]


def test_init_again_keeps_what_exists_unless_forced(project: HatchProject) -> None:
    own = own_repo(project)
    repo = own.root
    init = ("init", "--specs", str(project.planning), "--agent", "scripted")
    assert hatchdoit(own, *init).returncode == 0
    config = repo / "hatchdoit.yaml"
    config.write_text(config.read_text() + "# edited by the user\n")
    edited = config.read_text()

    again = hatchdoit(own, *init)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert "kept hatchdoit.yaml (exists; --force overwrites, showing the diff)" in lines
    assert "kept dodo.py (it adds hatchdoit's tasks)" in lines
    assert "kept doit.cfg (up to date)" in lines
    assert config.read_text() == edited
    ignores = (repo / ".gitignore").read_text().splitlines()
    assert [line for line in ignores if line.startswith("/")] == [
        "/_logs/",
        "/.hatchdoit/",
        "/specs_link",
    ]  # added once, after the seed's own lines
    assert ignores[: len(ignores) - 3] == (project.seed / ".gitignore").read_text().splitlines()

    forced = hatchdoit(own, *init, "--force")
    assert forced.returncode == 0, forced.stderr
    lines = forced.stdout.splitlines()
    assert "rewrote hatchdoit.yaml:" in lines
    assert "    -# edited by the user" in lines  # the diff, before it was written
    assert "# edited by the user" not in config.read_text()


USER_DODO = '''"""The user's own tasks."""

import os


def task_lint():
    """the user's lint"""
    return {"actions": ["true"], "verbosity": 0}
'''


def test_init_in_a_repo_with_its_own_dodo_py_adds_two_lines(project: HatchProject) -> None:
    """An existing dodo.py is never replaced: init prints the two lines to add, and --force adds
    them (the import after its imports, the call last), showing the diff. The user's tasks and
    hatchdoit's then share one `doit`."""
    own = own_repo(project)
    repo = own.root
    project.add_taskspec(TID)
    dodo = repo / "dodo.py"
    dodo.write_text(USER_DODO)
    init = ("init", "--specs", str(project.planning), "--agent", "scripted")
    first = hatchdoit(own, *init)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    at = lines.index(
        "dodo.py exists: add these two lines to it, the call last (--force adds them):"
    )
    assert lines[at + 1 : at + 3] == [
        "    from hatchdoit.graph import add_tasks",
        "    add_tasks(globals())",
    ]
    assert dodo.read_text() == USER_DODO

    forced = hatchdoit(own, *init, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "added hatchdoit's tasks to dodo.py:" in forced.stdout.splitlines()
    assert "    +from hatchdoit.graph import add_tasks" in forced.stdout.splitlines()
    text = dodo.read_text()
    assert text.startswith(
        USER_DODO.split("\n\n\ndef")[0] + "\nfrom hatchdoit.graph import add_tasks"
    )
    assert text.rstrip().endswith("add_tasks(globals())")
    env = project.env | {"HATCHDOIT__TMUX_SOCKET": project.socket}
    listed = run_doit(dataclasses.replace(own, env=env), "list")
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[1] for line in listed.stdout.splitlines() if line.strip()}
    assert {"lint", "taskspec", f"taskspec:{TID}"} <= names, listed.stdout
    lint = run_doit(dataclasses.replace(own, env=env), "lint")
    assert lint.returncode == 0, lint.stderr


def _path_without_agent_clis(env: dict[str, str], tmp: Path) -> str:
    """PATH with a bin dir of the test's first and no directory holding claude or codex."""
    keep = [
        d
        for d in env["PATH"].split(os.pathsep)
        if d and not any(os.access(Path(d) / name, os.X_OK) for name in ("claude", "codex"))
    ]
    return os.pathsep.join([str(tmp), *keep])


def test_init_picks_the_first_agent_cli_installed_and_says_so(
    project: HatchProject, tmp_path: Path
) -> None:
    own = own_repo(project)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = _path_without_agent_clis(project.env, bin_dir)
    init = ("init", "--specs", str(project.planning))

    none = hatchdoit(own, *init, env={"PATH": path})
    assert none.returncode == EXIT_CONFIG, none.stderr
    assert none.stdout == "" and len(none.stderr.splitlines()) == 1
    assert "no agent CLI found (tried Claude Code, Codex)" in none.stderr
    assert "--agent scripted" in none.stderr
    assert not (own.root / "hatchdoit.yaml").exists()  # nothing written

    codex = bin_dir / "codex"
    codex.write_text("#!/bin/sh\necho 'codex-cli 0.171.0'\n")
    codex.chmod(0o755)
    found = hatchdoit(own, *init, env={"PATH": path})
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[1] == f"agent: codex (found Codex: {codex} codex-cli 0.171.0)"
    config = (own.root / "hatchdoit.yaml").read_text()
    assert "  factory: codex\n  qa: codex\n" in config

    claude = bin_dir / "claude"
    claude.write_text("#!/bin/sh\necho '2.1.330 (Claude Code)'\n")
    claude.chmod(0o755)
    (own.root / "hatchdoit.yaml").unlink()
    first = hatchdoit(own, *init, env={"PATH": path})
    assert first.stdout.splitlines()[1].startswith("agent: claude-code (found Claude Code: ")

    unknown = hatchdoit(own, *init, "--agent", "no-such-agent", "--force")
    assert unknown.returncode == EXIT_CONFIG
    assert "unknown agent profile 'no-such-agent'" in unknown.stderr


@pytest.mark.parametrize("wrong", ["no _specs", "not a git repo"])
def test_init_refuses_bad_input_with_one_line_and_writes_nothing(
    project: HatchProject, wrong: str
) -> None:
    own = own_repo(project)
    repo = own.root
    specs = project.planning
    if wrong == "no _specs":
        specs = project.planning / "_specs"  # one level too deep: a common slip
        path, fix = specs, "pass the root of a planning repo with _specs/ (hatchdoit)"
    else:
        shutil.rmtree(repo / ".git")
        path, fix = repo, "git init"
    before = tree_hashes(repo)
    done = hatchdoit(own, "init", "--specs", str(specs), "--agent", "scripted")
    assert done.returncode == EXIT_CONFIG
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("hatchdoit: ") and str(path.resolve()) in done.stderr
    assert fix in done.stderr
    assert tree_hashes(repo) == before


def test_init_detects_a_spec_kit_plan_and_writes_its_planning_block(
    project: HatchProject, tmp_path: Path
) -> None:
    from test_formats_speckit import photo_albums

    own = own_repo(project)
    plan = photo_albums(tmp_path / "speckit")
    done = hatchdoit(own, "init", "--specs", str(plan), "--agent", "scripted")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"planning repo: {plan.resolve()} (spec-kit)"
    config = yaml.safe_load((own.root / "hatchdoit.yaml").read_text())
    assert config["planning"]["format"] == "spec-kit"
    listed = hatchdoit(own, "plan", "--json")
    assert listed.returncode == 0, listed.stderr
    read = json.loads(listed.stdout)
    assert read["format"] == "spec-kit" and read["taskspecs"], read
