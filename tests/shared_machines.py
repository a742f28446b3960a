"""Several "machines" sharing one build through one bare remote (`hatchdoit ci --shared`): each
a project of its own (its own `_logs`, HOME, tmux server and clone of the target as `_target`),
one planning repo, one bare `origin` and one stand-in GitHub (tests/fake_gh.py) for all."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projects import CHECKOUT, HatchProject, make_project, write_featspec, write_seed

from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.layout import Layout


@dataclass
class Fleet:
    tmp: Path
    origin: Path
    planning: Path
    machines: list[HatchProject] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def first(self) -> HatchProject:
        return self.machines[0]

    def configure(self, **overrides: Any) -> None:
        for machine in self.machines:
            machine.configure(**overrides)

    def start(self, machine: HatchProject, *args: str) -> subprocess.Popen[str]:
        """`hatchdoit ci ARGS` on `machine`, in a process group of its own (a kill -9 of the
        group is a dead runner: the ci process and its doit child)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "hatchdoit", "--root", str(machine.root), "ci", *args],
            cwd=machine.root,
            env=machine.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, machine: HatchProject, proc: subprocess.Popen[str]) -> None:
        """kill -9 of the runner's processes and its tmux server: the machine is gone."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        machine.tmux("kill-server")

    def prs(self) -> list[dict[str, Any]]:
        state = self.tmp / "prs.json"
        return json.loads(state.read_text()) if state.exists() else []

    def launches(self) -> collections.Counter[tuple[str, str, int]]:
        """(TaskSpec, role, attempt) -> agent launches made on any machine (a machine's own
        audit events: the ones it materialised from the remote say `via`)."""
        found: collections.Counter[tuple[str, str, int]] = collections.Counter()
        for machine in self.machines:
            for event in read_json_lines(machine.layout.audit):
                if event.get("event") == "launch" and "via" not in event:
                    found[(event["taskspec_id"], event["role"], int(event["attempt"]))] += 1
        return found

    def remote_refs(self, prefix: str) -> dict[str, str]:
        out = subprocess.run(
            ["git", "-C", str(self.origin), "for-each-ref", "--format=%(refname) %(objectname)",
             prefix], capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return dict(line.split(" ") for line in out.splitlines())

    def teardown(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for machine in self.machines:
            machine.tmux("kill-server")
            shutil.rmtree(machine.env["TMUX_TMPDIR"], ignore_errors=True)


def make_fleet(tmp: Path, n: int, lease: float = 4.0) -> Fleet:
    """`n` machines sharing `origin` (integrate: pr, the stand-in gh); no TaskSpec yet."""
    origin = tmp / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    planning = tmp / "planning"
    fleet = Fleet(tmp, origin, planning)
    seed = write_seed(tmp / "seed")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec {sys.executable} {CHECKOUT / "tests" / "fake_gh.py"} "$@"\n')
    gh.chmod(0o755)
    for i in range(n):
        (tmp / f"m{i}").mkdir()
        machine = make_project(tmp / f"m{i}", seed=seed)
        machine.planning = planning
        machine.env.update(
            PATH=f"{bin_dir}:{machine.env['PATH']}",
            FAKE_GH_STATE=str(tmp / "prs.json"),
            FAKE_GH_CALLS=str(tmp / "gh-calls.jsonl"),
            GH_TOKEN="ghp_stand-in-token-0123456789",
        )
        if i == 0:
            seeded = tmp / "seeded"
            shutil.copytree(seed, seeded)
            for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m",
                         "seed"], ["push", "-q", str(origin), "main"]):  # fmt: skip
                subprocess.run(["git", "-C", str(seeded), *args], env=machine.env, check=True)
        subprocess.run(
            ["git", "clone", "-q", str(origin), str(machine.root / "_target")],
            env=machine.env,
            check=True,
        )
        machine.configure(
            specs=str(planning),
            integrate="pr",
            target={"repo": "_target", "seed": None},
            shared={"lease_seconds": lease, "poll_seconds": 0.3, "wait_seconds": 240},
        )
        fleet.machines.append(machine)
    write_featspec(planning, fleet.first.featspec, "Test feature")
    return fleet


# A plan whose dependencies cross between whatever machines pick its TaskSpecs up.
CROSS_PLAN: dict[str, list[str]] = {
    "A": [],
    "B": [],
    "C": [],
    "D": ["A"],
    "E": ["A", "B"],
    "F": ["C"],
    "G": ["D", "E"],
    "H": ["F"],
    "I": ["G", "H"],
    "J": [],
}


def add_plan(fleet: Fleet, plan: dict[str, list[str]], **kwargs: Any) -> None:
    for tid, deps in plan.items():
        fleet.first.add_taskspec(tid, depends_on=deps, **kwargs)


def two_layouts(tmp: Path, monkeypatch: Any) -> tuple[Layout, Layout, Path]:
    """Two "machines" as bare layouts (`a/`, `b/`, each a `_target` with `origin`), one bare
    remote, and git isolated from the user's config with a fixed identity."""
    for key, value in {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }.items():
        monkeypatch.setenv(key, value)
    origin = tmp / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    layouts = []
    for name in ("a", "b"):
        work = tmp / name / "_target"
        work.mkdir(parents=True)
        subprocess.run(["git", "-C", str(work), "init", "-q", "-b", "main"], check=True)
        subprocess.run(["git", "-C", str(work), "remote", "add", "origin", str(origin)], check=True)
        layouts.append(Layout(tmp / name))
    return layouts[0], layouts[1], origin
