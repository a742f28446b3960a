"""`hatchdoit ci`: exit codes, shards, JUnit XML and notifications, with real doit runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from daily_use import MixedBuild, add_notify, hatchdoit, mixed, notifications
from projects import HatchProject

from hatchdoit.cli.ci_loop import parse_shard, select_shard, shard_index
from hatchdoit.core.errors import ConfigError

pytestmark = pytest.mark.integration
__all__ = ["mixed"]


def junit_cases(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = {case.get("name", ""): case for case in suite.findall("testcase")}
    for attr in ("tests", "failures", "errors", "skipped"):
        assert root.get(attr) == suite.get(attr), attr
    assert int(suite.get("tests", "-1")) == len(cases)
    outcome = ("failure", "error", "skipped")
    kinds = [next((c.tag for c in case if c.tag in outcome), "ok") for case in cases.values()]
    assert int(suite.get("failures", "-1")) == kinds.count("failure")
    assert int(suite.get("errors", "-1")) == kinds.count("error")
    assert int(suite.get("skipped", "-1")) == kinds.count("skipped")
    assert all(float(case.get("time", "-1")) >= 0 for case in cases.values())
    return suite, cases


def test_planning_errors_exit_2_before_anything_runs(project: HatchProject) -> None:
    project.add_taskspec("A", depends_on=["NOPE"])
    done = hatchdoit(project, "ci", "--junit", str(project.root / "junit.xml"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown TaskSpec id(s) NOPE" in done.stderr
    assert not project.layout.audit.exists() and not (project.root / "junit.xml").exists()


def test_escalation_exits_1_with_junit_failure_and_one_notification(
    project: HatchProject,
) -> None:
    project.add_taskspec("GOOD")
    project.add_taskspec("BAD", scripted={"factory": ["fail-tests"]}, max_attempts=1)
    project.add_taskspec("AFTER", depends_on=["BAD"])
    sent_dir = add_notify(project)
    junit = project.root / "out" / "junit.xml"
    done = hatchdoit(project, "ci", "--junit", str(junit), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "hatchdoit ci: doit run 1: 3 target(s)" in done.stdout
    assert "doit run 2" not in done.stdout, "escalated and blocked TaskSpecs are not retried"
    assert "1 done" in done.stdout and "1 escalated" in done.stdout

    suite, cases = junit_cases(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    assert cases["GOOD"].get("classname") == "FS-001-TEST"
    failure = cases["BAD"].find("failure")
    assert failure is not None and failure.get("type") == "escalated"
    assert failure.get("message") == "escalated after 1 attempt(s)"
    assert "tests failed" in (failure.text or "") and "attempt 1: rejected" in (failure.text or "")
    skipped = cases["AFTER"].find("skipped")
    assert skipped is not None and "depends on BAD" in (skipped.get("message") or "")
    out = cases["GOOD"].find("system-out")
    assert out is not None and "_logs/state/GOOD/done.json" in (out.text or "")
    assert (project.logs / "report.html").is_file() and (project.logs / "metrics.prom").is_file()

    assert [n["event"] for n in notifications(sent_dir)] == ["escalated", "build_failed"]

    assert "· junit out/junit.xml" in done.stdout  # relative to the project root
    assert not (project.logs / "junit.xml").exists(), "--junit PATH replaces the default"

    again = hatchdoit(project, "ci", timeout=60)  # settled: nothing is rerun, same verdict
    assert again.returncode == 1 and "doit run" not in again.stdout
    assert "junit _logs/junit.xml" in again.stdout  # written without being asked for
    default_suite, default_cases = junit_cases(project.logs / "junit.xml")
    assert set(default_cases) == {"GOOD", "BAD", "AFTER"}
    assert default_suite.get("failures") == "1" and default_suite.get("skipped") == "1"
    assert [n["event"] for n in notifications(sent_dir)] == [
        "escalated",
        "build_failed",
        "build_failed",
    ]


def test_ci_help_names_the_default_junit_file(project: HatchProject) -> None:
    done = hatchdoit(project, "ci", "--help")
    assert done.returncode == 0
    assert "default _logs/junit.xml" in " ".join(done.stdout.split())


def test_shards_are_stable_disjoint_and_cover_everything() -> None:
    tids = [f"{n:03d}-TS-2025-08-18-THING-{n}" for n in range(300)]
    for n in (1, 2, 3, 5, 8):
        shards = [select_shard(tids, k, n) for k in range(1, n + 1)]
        assert sorted(t for shard in shards for t in shard) == sorted(tids)
        assert sum(len(s) for s in shards) == len(tids)
        assert all(shards), "no empty shard with 300 ids"
        assert shards == [select_shard(tids, k, n) for k in range(1, n + 1)]
    # pinned: the hash must not change between releases, or CI jobs would swap work
    assert [shard_index(t, 7) for t in ("A", "B", "C", "D", "E")] == PINNED
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x/3", "3"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


PINNED = [3, 2, 6, 1, 3]


def test_two_shards_build_everything_between_them(project: HatchProject) -> None:
    # shard 1/2 is {B}, shard 2/2 is {A, C, D} (PINNED's hash); B depends on A
    for tid in ("A", "B", "C", "D"):
        project.add_taskspec(tid, depends_on=["A"] if tid in ("B", "D") else None)
    names: list[set[str]] = []
    for k in (1, 2):
        junit = project.root / f"junit-{k}.xml"
        done = hatchdoit(project, "ci", "--shard", f"{k}/2", "-n", "2", "--junit", str(junit))
        assert done.returncode == 0, done.stdout + done.stderr
        suite, cases = junit_cases(junit)
        assert suite.get("name") == f"hatchdoit shard {k}/2"
        assert suite.get("failures") == suite.get("errors") == "0"
        names.append(set(cases))
        if k == 1:
            assert "shard 1/2: 1 of 4 TaskSpec(s) (+1 dependencies)" in done.stdout
            assert project.layout.done("A").is_file(), "the dependency came along"
            assert not project.layout.done("C").is_file()
    assert names[0] | names[1] == {"A", "B", "C", "D"} and not names[0] & names[1]
    expected = [set(select_shard(["A", "B", "C", "D"], k, 2)) for k in (1, 2)]
    assert names == expected
    status = hatchdoit(project, "status", "--json")
    assert '"pending": 0' in status.stdout and '"done": 4' in status.stdout


def test_ci_on_a_settled_build_runs_no_doit(mixed: MixedBuild, tmp_path: Path) -> None:
    junit = tmp_path / "mixed.xml"
    report = tmp_path / "r.html"
    quiet = {"HATCHDOIT__NOTIFY__COMMAND": "[]"}  # the mixed build's notifications stay as made
    done = hatchdoit(mixed.project, "ci", "--junit", str(junit), "--report", str(report), env=quiet)
    assert done.returncode == 1 and "doit run" not in done.stdout
    suite, cases = junit_cases(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    failure = cases["C"].find("failure")
    assert failure is not None
    assert "attempt 2: rejected" in (failure.text or "") and "tests failed" in (failure.text or "")
    assert report.is_file()


def test_configuration_reference_in_docs_is_generated_and_current(project: HatchProject) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
    done = hatchdoit(project, "config-doc", "--check", str(docs))
    assert done.returncode == 0, (
        done.stdout
    )  # else: hatchdoit config-doc --out docs/configuration.md
    text = hatchdoit(project, "config-doc").stdout
    for key in ("limits.max_attempts", "logs.max_bytes", "logs.retention_days", "notify.command"):
        assert f"| `{key}` |" in text, key
    assert "`HATCHDOIT__NOTIFY__TIMEOUT`" in text
