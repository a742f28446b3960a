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
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from projects import module_body
from shared_machines import CROSS_PLAN, Fleet, add_plan, make_fleet

from hatchdoit.config.models import IntegrationConfig
from hatchdoit.core.jsonlines import read_json_lines

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


def status(fleet: Fleet, index: int, *args: str) -> dict[str, str]:
    machine = fleet.machines[index]
    done = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(machine.root), "status", "--json",
         *args], env=machine.env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return {row["taskspec_id"]: row["state"] for row in json.loads(done.stdout)["taskspecs"]}


def test_three_runners_build_every_taskspec_once_and_deliver_it_once(fleet: Fleet) -> None:
    add_plan(fleet, CROSS_PLAN)
    jobs = [["-n", "2"], [], []]  # the first builds two claimed TaskSpecs side by side
    procs = [
        fleet.start(m, "--shared", "--runner", f"m{i}", *jobs[i])
        for i, m in enumerate(fleet.machines)
    ]
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
    history = {  # the durations the critical path is predicted from, of every TaskSpec
        e["taskspec_id"]
        for e in read_json_lines(fleet.first.layout.audit)
        if e.get("event") == "step_end" and e.get("step") == "factory"
    }
    assert history == set(CROSS_PLAN)
    report = (fleet.first.logs / "report.html").read_text()
    assert '<h2 id="runners">Runners</h2>' in report
    for name in {line.split()[2] for line in claimed}:
        assert f"<td>{name}</td>" in report


def wait_for_launch(fleet: Fleet, tid: str, proc: subprocess.Popen[str]) -> None:
    """Until the first machine has launched `tid`'s factory (an event: its audit trail)."""
    deadline = time.monotonic() + 120
    while (tid, "factory", 1) not in fleet.launches():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the factory never launched"
        time.sleep(0.1)  # polling another process's file: no event to wait on


def test_a_runner_killed_mid_factory_is_taken_over_after_its_lease_and_nothing_twice(
    fleet: Fleet,
) -> None:
    slow = module_body("m_slow", "f_slow", note="\n\n<!-- scripted:hold=6 -->\n")
    fleet.first.add_taskspec("S", body=slow)  # the longest chain: claimed first
    add_plan(fleet, {"T": ["S"], "U": [], "V": ["U"]})
    first = fleet.start(fleet.first, "--shared", "--runner", "m0")
    wait_for_launch(fleet, "S", first)
    time.sleep(1.5)  # mid-factory: its claim was renewed, its records pushed
    fleet.kill(fleet.first, first)
    claims = fleet.remote_refs("refs/hatchdoit/claims/")
    assert "refs/hatchdoit/claims/S" in claims, "the dead runner still holds S"
    assert "refs/heads/taskspec/S" in fleet.remote_refs("refs/heads/"), "its branch was pushed"
    seen = fleet.machines[1]
    table = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(seen.root), "status", "--fetch"],
        env={**seen.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "S: held by runner m0 until " in table.stdout, table.stdout
    others = [fleet.start(m, "--shared", "--runner", f"m{i + 1}") for i, m in
              enumerate(fleet.machines[1:])]  # fmt: skip
    ended = finish(fleet, others)
    said = "\n\n".join(out for _, out in ended)
    assert [code for code, _ in ended] == [0, 0], said
    assert said.count("claimed S") == 1, "one takeover, after the lease"
    assert "claimed S (taken over from m0, whose lease ran out)" in said
    heads = sorted(pr["head"] for pr in fleet.prs())
    assert heads == ["taskspec/S", "taskspec/T", "taskspec/U", "taskspec/V"], said
    launches = fleet.launches()
    for tid in "TUV":
        assert launches[(tid, "factory", 1)] == 1, (tid, launches)
    assert launches[("S", "factory", 1)] == 2, "the dead one's, and the takeover's resumed run"
    assert ("S", "factory", 2) not in launches
    assert fleet.remote_refs("refs/hatchdoit/claims/") == {}
    for index in (1, 2):
        assert set(status(fleet, index).values()) == {"done"}


def test_static_shards_with_a_remote_build_only_their_own_and_wait_for_the_rest(
    fleet: Fleet,
) -> None:
    add_plan(fleet, CROSS_PLAN)
    shards = [fleet.start(m, "--shard", f"{i + 1}/2") for i, m in enumerate(fleet.machines[:2])]
    ended = finish(fleet, shards)
    said = "\n\n".join(out for _, out in ended)
    assert [code for code, _ in ended] == [0, 0], said
    launches = fleet.launches()
    for tid in CROSS_PLAN:
        assert launches[(tid, "factory", 1)] == 1, (tid, launches, said)
    assert len(fleet.prs()) == len(CROSS_PLAN)
    own = [{t for t, state in status(fleet, i).items() if state == "done"} for i in (0, 1)]
    assert own[0] | own[1] == set(CROSS_PLAN), "each shard's own, and what it waited for"
    for index in (0, 1):  # after a fetch, every machine sees everything delivered
        assert set(status(fleet, index, "--fetch").values()) == {"done"}
    merged = fleet.machines[2]  # the last job of a workflow: one report, one JUnit for all
    junit = fleet.tmp / "all.xml"
    done = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(merged.root), "report", "--fetch",
         "--junit", str(junit)], env=merged.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cases = list(ElementTree.parse(junit).getroot().iter("testcase"))
    assert sorted(c.get("name") for c in cases) == sorted(CROSS_PLAN)
    outcomes = ("failure", "error", "skipped")
    bad = [c.get("name") for c in cases for k in outcomes if c.find(k) is not None]
    assert not bad, "every TaskSpec passed"
    assert '<h2 id="runners">Runners</h2>' in (merged.logs / "report.html").read_text()


def test_a_person_approves_on_one_machine_what_another_built_and_a_runner_delivers_it(
    fleet: Fleet,
) -> None:
    fleet.configure(review="after-qa")
    add_plan(fleet, {"A": [], "B": ["A"]})
    built, decider = fleet.machines[0], fleet.machines[1]
    [(code, out)] = finish(fleet, [fleet.start(built, "--shared", "--runner", "m0")])
    assert code == 4 and "A awaits review" in out, out
    review = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(decider.root), "review", "A", "--json"],
        env=decider.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert review.returncode == 0, review.stdout + review.stderr
    seen = json.loads(review.stdout)
    assert seen["commit"] and "src/app/m_a.py" in seen["patch"], seen
    approve = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(decider.root), "approve", "A"],
        env=decider.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert approve.returncode == 0, approve.stdout + approve.stderr
    assert "pushed to the shared build's remote" in approve.stdout
    assert status(fleet, 1)["A"] != "awaiting review"
    [(code, out)] = finish(fleet, [fleet.start(built, "--shared", "--runner", "m0")])
    assert "not a decision hatchdoit recorded" not in out, "the decision's seal came along"
    assert code == 4 and "B awaits review" in out, out  # A delivered; B built, awaits its own
    assert [pr["head"] for pr in fleet.prs()] == ["taskspec/A"]
    assert fleet.launches()[("A", "factory", 1)] == 1


def test_a_runner_left_waiting_on_another_exits_4_awaiting_runner(fleet: Fleet) -> None:
    slow = module_body("m_slow", "f_slow", note="\n\n<!-- scripted:hold=60 -->\n")
    fleet.first.add_taskspec("S", body=slow)
    add_plan(fleet, {"T": ["S"]})
    busy = fleet.start(fleet.first, "--shared", "--runner", "m0")
    wait_for_launch(fleet, "S", busy)
    waiter = fleet.machines[1]
    waiter.configure(shared={"lease_seconds": 30, "poll_seconds": 0.2, "wait_seconds": 1})
    junit = fleet.tmp / "waiter.xml"
    [(code, out)] = finish(fleet, [fleet.start(waiter, "--shared", "--junit", str(junit))])
    assert code == 4, out
    assert "hatchdoit ci: T waits for S to be built by another CI runner" in out, out
    assert "hatchdoit ci: S waits for S to be built by another CI runner" in out, out
    assert "build_failed" not in out
    cases = {c.get("name"): c for c in ElementTree.parse(junit).getroot().iter("testcase")}
    skipped = cases["T"].find("skipped")
    assert skipped is not None and skipped.get("type") == "awaiting runner"
    assert status(fleet, 1) == {"S": "awaiting runner", "T": "awaiting runner"}
    assert fleet.launches()[("S", "factory", 1)] == 1, "the waiter built nothing"


@pytest.mark.skipif(
    "land_on" not in IntegrationConfig.model_fields,
    reason="merge modes land on the remote's integration branch with integration.land_on "
    "(HATCHDOIT_LAND_ON=remote), the merge queue's work: this runs once that is merged",
)
def test_three_runners_in_merge_mode_land_every_taskspec_once_on_the_remotes_main(
    fleet: Fleet,
) -> None:
    fleet.configure(integrate="merge")
    add_plan(fleet, CROSS_PLAN)
    procs = [fleet.start(m, "--shared", "--runner", f"m{i}") for i, m in enumerate(fleet.machines)]
    ended = finish(fleet, procs)
    said = "\n\n".join(out for _, out in ended)
    assert [code for code, _ in ended] == [0, 0, 0], said
    launches = fleet.launches()
    for tid in CROSS_PLAN:
        assert launches[(tid, "factory", 1)] == 1, (tid, launches, said)
    assert set(status(fleet, 0, "--fetch").values()) == {"done"}
    main = fleet.remote_refs("refs/heads/main")["refs/heads/main"]
    for tid in CROSS_PLAN:
        record = json.loads(fleet.first.layout.integration(tid).read_text())
        landed = record["landed_commit"]
        assert (
            subprocess.run(
                ["git", "-C", str(fleet.origin), "merge-base", "--is-ancestor", landed, main]
            ).returncode
            == 0
        ), f"{tid} is on origin's main"
    assert fleet.prs() == []


def test_records_made_for_other_inputs_are_reported_not_rebuilt(fleet: Fleet) -> None:
    add_plan(fleet, {"A": []})
    [(code, out)] = finish(fleet, [fleet.start(fleet.first, "--shared", "--runner", "m0")])
    assert code == 0, out
    other = fleet.machines[1]  # another configuration: its digests differ
    other.configure(target={"integration_branch": "main"})
    [(code, out)] = finish(fleet, [fleet.start(other, "--shared", "--runner", "m1")])
    assert code == 1, out
    assert "hatchdoit ci: A: the remote's records were made for other inputs" in out, out
    assert " claimed " not in out and fleet.launches()[("A", "factory", 1)] == 1
    [(code, out)] = finish(fleet, [fleet.start(other, "--shared", "--runner", "m1")])
    assert code == 1 and "A: the remote's records were made for other inputs" in out, out
    assert " claimed " not in out, "not rebuilt on the next run either"
    assert len(fleet.prs()) == 1


@pytest.mark.slow
def test_a_runner_whose_claim_is_taken_stops_building_it(fleet: Fleet) -> None:
    """A runner cut off from the remote for longer than its lease finds its claim taken over
    when it comes back: its doit run stops; the TaskSpec is delivered once."""
    slow = module_body("m_slow", "f_slow", note="\n\n<!-- scripted:hold=8 -->\n")
    fleet.first.add_taskspec("S", body=slow)
    proc = fleet.start(fleet.first, "--shared", "--runner", "m0")
    wait_for_launch(fleet, "S", proc)

    def origin_git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(fleet.origin), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    # Another runner's takeover, as the remote sees it: the claim ref now names its commit.
    tree = origin_git("hash-object", "-w", "-t", "tree", "/dev/null")
    theirs = origin_git("commit-tree", tree, "-m", "claim S by elsewhere")
    origin_git("update-ref", "refs/hatchdoit/claims/S", theirs)
    [(code, out)] = finish(fleet, [proc])
    assert "lost the claim on S" in out and "stopped the doit run: a claim of it was lost" in out
    assert code == 0, out  # the other's claim was never renewed: m0 took S back and built it
    assert "claimed S (taken over from" in out or out.count("claimed S") == 2, out
    assert [pr["head"] for pr in fleet.prs()] == ["taskspec/S"]
    assert fleet.launches()[("S", "factory", 1)] == 2
