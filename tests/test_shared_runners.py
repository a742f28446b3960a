"""`hatchdoit ci --shared`: three machines (three projects, three `_logs`, three tmux servers,
three clones of the target), one bare remote and one stand-in GitHub, started together on a
plan whose dependencies cross between them. Every TaskSpec is built once (one attempt-1
factory launch across all machines), delivered once (one pull request each), and every
runner exits 0. Real git, doit, tmux and the scripted agent."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_machines import CROSS_PLAN, Fleet, add_plan, make_fleet

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    made = make_fleet(tmp_path, 3)
    try:
        yield made
    finally:
        made.teardown()


def finish(fleet: Fleet, procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    """Each runner's exit code and output (also kept in the test's folder, runner-<n>.txt)."""
    ended = [(p.wait(timeout=400), p.communicate()[0]) for p in procs]
    for n, (_, out) in enumerate(ended):
        (fleet.tmp / f"runner-{n}.txt").write_text(out)
    return ended


def status(fleet: Fleet, index: int) -> dict[str, str]:
    machine = fleet.machines[index]
    done = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(machine.root), "status", "--json"],
        env=machine.env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return {row["taskspec_id"]: row["state"] for row in json.loads(done.stdout)["taskspecs"]}


def test_three_runners_build_every_taskspec_once_and_deliver_it_once(fleet: Fleet) -> None:
    add_plan(fleet, CROSS_PLAN)
    procs = [fleet.start(m, "--shared", "--runner", f"m{i}") for i, m in enumerate(fleet.machines)]
    ended = finish(fleet, procs)
    said = "\n\n".join(out for _, out in ended)
    assert [code for code, _ in ended] == [0, 0, 0], said
    launches = fleet.launches()
    for tid in CROSS_PLAN:
        assert launches[(tid, "factory", 1)] == 1, (tid, launches, said)
    heads = sorted(pr["head"] for pr in fleet.prs())
    assert heads == sorted(f"taskspec/{t}" for t in CROSS_PLAN), said
    claimed = [line for line in said.splitlines() if " claimed " in line]
    assert len(claimed) == len(CROSS_PLAN), claimed
    assert len({line.split()[2] for line in claimed}) >= 2, "the work was shared"
    assert fleet.remote_refs("refs/hatchdoit/claims/") == {}, "every claim released"
    states = fleet.remote_refs("refs/hatchdoit/state/")
    assert sorted(ref.rsplit("/", 1)[1] for ref in states) == sorted(CROSS_PLAN)
    for index in range(3):  # every machine sees every TaskSpec delivered
        assert set(status(fleet, index).values()) == {"done"}
