"""`hatchdoit init --specs PATH`: an existing git repo becomes a hatchdoit project whose own
`doit` builds a TaskSpec of the planning repo on worktrees of that repo (README, "Pointing it
at a real planning repo"). Real processes: the `hatchdoit` and `doit` of the interpreter running the
tests, git, and the scripted agent in a tmux server on the test project's private socket."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest
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


def test_init_makes_a_repo_a_project_whose_doit_builds_a_taskspec(project: HatchProject) -> None:
    own = own_repo(project)
    repo = own.root
    project.add_taskspec(TID, test_command="python3 -m unittest discover -s tests -q")
    done = hatchdoit(own, "init", "--specs", str(project.planning))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "wrote dodo.py",
        "wrote hatchdoit.yaml",
        "wrote doit.cfg",
        f"specs_link -> {project.planning.resolve()} (symlink)",
        "copied scripts/",
        "copied agents/",
        "added /_logs/, /_worktrees/, /specs_link to .gitignore",
    ]
    assert (repo / "specs_link").resolve() == project.planning.resolve()
    assert (repo / "scripts" / "lib" / "common.sh").is_file()  # what the scripts source
    assert (repo / "agents").is_dir()

    # Its own doit, on its own scripts, on a private tmux socket (HATCHDOIT__ overlay).
    main_before = git(repo, "rev-parse", "main", env=project.env)
    env = project.env | {"HATCHDOIT__TMUX_SOCKET": project.socket}
    built = run_doit(dataclasses.replace(own, env=env))
    assert built.returncode == 0, built.stdout + built.stderr
    assert (repo / "_logs" / "state" / TID / "done.json").is_file()
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
        "?? agents/",
        "?? dodo.py",
        "?? doit.cfg",
        "?? hatchdoit.yaml",
        "?? scripts/",
    ]


def test_init_again_keeps_what_exists_unless_forced(project: HatchProject) -> None:
    own = own_repo(project)
    repo = own.root
    assert hatchdoit(own, "init", "--specs", str(project.planning)).returncode == 0
    config = repo / "hatchdoit.yaml"
    config.write_text(config.read_text() + "# edited by the user\n")
    edited = config.read_text()

    again = hatchdoit(own, "init", "--specs", str(project.planning))
    assert again.returncode == 0, again.stderr
    assert "kept hatchdoit.yaml (exists; --force overwrites)" in again.stdout.splitlines()
    assert "kept scripts/ (exists)" in again.stdout.splitlines()
    assert config.read_text() == edited
    ignores = (repo / ".gitignore").read_text().splitlines()
    assert [line for line in ignores if line.startswith("/")] == [
        "/_logs/",
        "/_worktrees/",
        "/specs_link",
    ]  # added once, after the seed's own lines
    assert ignores[: len(ignores) - 3] == (project.seed / ".gitignore").read_text().splitlines()

    forced = hatchdoit(own, "init", "--force", "--specs", str(project.planning))
    assert forced.returncode == 0, forced.stderr
    assert "wrote hatchdoit.yaml" in forced.stdout.splitlines()
    assert "# edited by the user" not in config.read_text()


@pytest.mark.parametrize("wrong", ["no _specs", "not a git repo"])
def test_init_refuses_bad_input_with_one_line_and_writes_nothing(
    project: HatchProject, wrong: str
) -> None:
    own = own_repo(project)
    repo = own.root
    specs = project.planning
    if wrong == "no _specs":
        specs = project.planning / "_specs"  # one level too deep: a common slip
        path, fix = specs, "pass the planning repo's root"
    else:
        shutil.rmtree(repo / ".git")
        path, fix = repo, "git init"
    before = tree_hashes(repo)
    done = hatchdoit(own, "init", "--specs", str(specs))
    assert done.returncode == EXIT_CONFIG
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("hatchdoit: ") and str(path.resolve()) in done.stderr
    assert fix in done.stderr
    assert tree_hashes(repo) == before
