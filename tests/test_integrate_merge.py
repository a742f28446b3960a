"""Delivery into the integration branch (`integrate: merge`), with real git repos, the scripted
agent and real doit processes: TaskSpecs integrate in dependency order and nothing else moves
the branch; a conflict goes back to the factory and lands after it resolves it; tests failing on
the merged tree keep the branch where it was; a commit someone makes on the branch during the
integration survives; a user's checked-out files are left byte for byte; kill -9 anywhere in an
integration, then a rerun, lands the work exactly once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import events, git, read_json, read_log, run_doit, tree_hashes
from projects import HatchProject, doit_executable

pytestmark = pytest.mark.integration


def merged_work(project: HatchProject, tid: str) -> list[str]:
    """Commits on main that carry `tid`'s integration trailer."""
    log = git(project.target, "log", "--first-parent", "--format=%H", "main",
              f"--grep=Hatchdoit-TaskSpec: {tid}")  # fmt: skip
    return log.split()


def shared_body(func: str) -> str:
    """A TaskSpec that adds `func` to one module every such TaskSpec writes (a conflict when two
    are merged), with a test of its own."""
    return f"""Add `app.shared.{func}()`.

```file:src/app/shared.py
\"\"\"Shared helpers.\"\"\"


def {func}() -> str:
    return {func!r}
```

```file:tests/test_{func}.py
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from app.shared import {func}  # noqa: E402


class {func.title()}Test(unittest.TestCase):
    def test_{func}(self) -> None:
        self.assertEqual({func}(), {func!r})
```
"""


def test_independent_taskspecs_integrate_in_order_and_the_target_tests_pass(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    project.add_taskspec("C")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    repo = project.target
    merged = git(repo, "branch", "--merged", "main")
    assert all(f"taskspec/{t}" in merged for t in "ABC"), merged
    order = [e["taskspec_id"] for e in events(project, "integrated")]
    assert order.index("A") < order.index("B"), order
    for tid in "ABC":
        record = read_json(project.layout.integration(tid))
        assert record["outcome"] == "integrated" and record["mode"] == "merge"
        assert len(merged_work(project, tid)) == 1
        assert record["landed_commit"] == merged_work(project, tid)[0]
    # B started from main once A had landed there: its base holds A's integration
    base = read_json(project.layout.worktree_record("B"))["base_commit"]
    assert subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor",
                           merged_work(project, "A")[0], base]).returncode == 0  # fmt: skip
    # the seeded target's own checkout follows main, and its tests pass there
    assert git(repo, "status", "--porcelain") == ""
    tests = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-q"],
        cwd=repo, capture_output=True, text=True, env=project.env,
    )  # fmt: skip
    assert tests.returncode == 0 and "Ran 4 tests" in tests.stderr, tests.stderr
    again = run_doit(project)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout


def test_a_conflict_goes_back_to_the_factory_and_lands_once_resolved(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A", shared_body("alpha"))
    project.add_taskspec(
        "B", shared_body("beta"), scripted={"factory": ["succeed", "resolve-conflicts"]}
    )
    built = run_doit(project, "taskspec:A", "taskspec:B")  # both from the same main
    assert built.returncode == 0, built.stdout + built.stderr
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "conflict in src/app/shared.py: attempt 2 takes it up" in done.stderr
    decision = read_json(project.layout.decision("B", 1))
    assert decision["kind"] == "integration" and decision["files"] == ["src/app/shared.py"]
    assert decision["after_attempt"] == 1 and decision["grants"] == 1
    prompt = project.layout.prompt("B", "factory", 2).read_text(encoding="utf-8")
    assert "## Integration of attempt 1 failed" in prompt and "src/app/shared.py" in prompt
    repo = project.target
    shared = (repo / "src" / "app" / "shared.py").read_text(encoding="utf-8")
    assert "def alpha()" in shared and "def beta()" in shared
    assert read_json(project.layout.done("B"))["attempt"] == 2
    assert len(merged_work(project, "A")) == len(merged_work(project, "B")) == 1
    assert read_json(project.layout.integration("B"))["outcome"] == "integrated"
    # the next doit knows attempt 2 (the decision granted it): nothing runs again
    again = run_doit(project)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout
    listed = run_doit(project, "list", "--all", "--status").stdout.splitlines()
    assert [line.split()[0] for line in listed if line.split()[1:2] == ["qa:B.2"]] == ["U"]


def test_failing_tests_on_the_merged_tree_keep_the_branch_then_escalate(
    project: HatchProject,
) -> None:
    fail = [sys.executable, "-c", "import sys; print('integration suite: 1 failed'); sys.exit(1)"]
    project.configure(integrate="merge", integration={"test_command": fail, "max_attempts": 1})
    project.add_taskspec("A")
    run_doit(project, "taskspec:A")
    before = git(project.target, "rev-parse", "main").strip()
    done = run_doit(project)
    assert done.returncode != 0
    assert git(project.target, "rev-parse", "main").strip() == before
    record = read_json(project.layout.integration("A"))
    assert (
        record["outcome"] == "escalated"
        and "tests failed on the merged tree" in record["reasons"][0]
    )
    assert "escalated: cannot integrate after 1 attempt(s)" in done.stderr
    assert [
        d["kind"]
        for d in (
            read_json(p) for p in sorted(project.layout.state_dir("A").glob("decision-*.json"))
        )
    ] == ["integration"]
    status = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(project.root), "status", "--json"],
        env=project.env, capture_output=True, text=True,
    )  # fmt: skip
    assert '"status": "escalated"' in status.stdout
    again = run_doit(project)  # on record: the same line, nothing run
    assert again.returncode != 0 and "escalated: cannot integrate" in again.stderr
    assert not [e for e in events(project, "launch") if e.get("attempt") == 3]
    assert git(project.target, "rev-parse", "main").strip() == before


def test_a_commit_made_on_the_branch_during_the_integration_survives(
    project: HatchProject,
) -> None:
    """The project's integration test command commits on main the first time it runs (someone
    pushing while the merged tree is tested): the compare-and-swap fails, and the merge is made
    again on top of their commit."""
    repo = project.target
    project.configure(
        integrate="merge", integration={"test_command": project.commit_on_target_once()}
    )
    project.add_taskspec("A")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    log = git(repo, "log", "--format=%s", "main")
    assert "someone else" in log
    landed = merged_work(project, "A")
    assert len(landed) == 1
    parents = git(repo, "rev-list", "--parents", "-n", "1", landed[0]).split()
    someone = git(repo, "log", "--format=%H", "--grep=someone else", "main").strip()
    assert parents[1] == someone, "the merge was made again on their commit"
    logged = [e["msg"] for e in read_log(project, "orchestrator")]
    assert any("moved during the integration" in msg for msg in logged), logged


def test_a_users_checked_out_branch_moves_and_their_files_stay_byte_identical(
    project: HatchProject, tmp_path: Path
) -> None:
    repo = tmp_path / "user-repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    for rel, text in {
        "README.md": "# mine\n",
        ".gitignore": "__pycache__/\n",
        "tests/__init__.py": "",
        "src/app/__init__.py": "",
        "notes.txt": "committed\n",
    }.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    git(repo, "add", "-A", env=project.env)
    git(repo, "commit", "-q", "-m", "mine", env=project.env)
    (repo / "notes.txt").write_text("my uncommitted edit\n", encoding="utf-8")
    (repo / "scratch.txt").write_text("untracked\n", encoding="utf-8")
    before = {k: v for k, v in tree_hashes(repo).items() if not k.startswith(".git/")}
    old = git(repo, "rev-parse", "main").strip()
    project.configure(integrate="merge", target={"repo": str(repo), "seed": None})
    project.add_taskspec("A")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    after = {k: v for k, v in tree_hashes(repo).items() if not k.startswith(".git/")}
    assert after == before
    new = git(repo, "rev-parse", "main").strip()
    assert new != old and merged_work_in(repo, "A")
    hint = f"git -C {repo} reset --keep {old[:12]} && git -C {repo} merge --ff-only {new[:12]}"
    assert hint in done.stderr, done.stderr
    subprocess.run(hint, shell=True, check=True, env=project.env)  # what the user would type
    assert (repo / "src" / "app" / "m_a.py").is_file()
    assert (repo / "notes.txt").read_text() == "my uncommitted edit\n"
    assert (repo / "scratch.txt").is_file()


def merged_work_in(repo: Path, tid: str) -> list[str]:
    return git(repo, "log", "--format=%H", f"--grep=Hatchdoit-TaskSpec: {tid}", "main").split()


@pytest.mark.parametrize(
    "point",
    [
        "integrate.after_merge",
        "integrate.before_update_ref",
        "integrate.after_update_ref",
        "integrate.before_receipt",
    ],
)
def test_kill_during_an_integration_then_rerun_lands_it_exactly_once(
    project: HatchProject, point: str
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A")
    project.add_taskspec("B")
    killed = subprocess.run(
        [doit_executable()], cwd=project.root, env={**project.env, "HATCHDOIT_FAULT": f"{point}@B"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    approved = read_json(project.layout.done("B"))["commit"]
    with_trailer = git(project.target, "log", "--format=%H", "main", "-F",
                       f"--grep=Hatchdoit-Approved: {approved}").split()  # fmt: skip
    assert len(with_trailer) == 1, f"{point}: landed {len(with_trailer)} times"
    assert read_json(project.layout.integration("B"))["landed_commit"] == with_trailer[0]
    assert not project.layout.integration_intent("B").exists()
    assert len(merged_work(project, "A")) == 1


@pytest.mark.parametrize("mode", ["squash", "rebase"])
def test_squash_and_rebase_land_linear_history(project: HatchProject, mode: str) -> None:
    project.configure(integrate=mode)
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    repo = project.target
    merges = git(repo, "rev-list", "--merges", "main").split()
    assert merges == [], f"{mode}: merge commits on main"
    for tid in "AB":
        landed = read_json(project.layout.integration(tid))
        assert landed["mode"] == mode and landed["outcome"] == "integrated"
        assert merged_work(project, tid) == [landed["landed_commit"]]
        files = git(repo, "show", "--name-only", "--format=", landed["landed_commit"]).split()
        assert f"src/app/m_{tid.lower()}.py" in files
    assert f"{'squashed' if mode == 'squash' else 'rebased'} into main as" in done.stdout
