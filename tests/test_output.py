"""What `doit` prints with hatchdoit's ProgressReporter, through real doit runs in temp projects:
no `--` noise from steps, one closing line for a build with nothing to do, one line per failure
at the end, one line per blocked TaskSpec, and doit's plain output with `-v 2` or
`--reporter console`."""

from __future__ import annotations

import pickle
import re
import subprocess

import pytest
from conftest import run_doit
from projects import HatchProject, doit_executable, module_body

from hatchdoit.build.reporter import StepFailed

pytestmark = pytest.mark.integration

SUMMARY = re.compile(r"hatchdoit: \d+ TaskSpec\(s\): ")


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def failure_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """hatchdoit's own lines, but for the closing TaskSpec count."""
    output = done.stdout + done.stderr
    return [
        line
        for line in output.splitlines()
        if line.startswith("hatchdoit:") and not SUMMARY.match(line)
    ]


def ok(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_doit(project, *args)
    assert done.returncode == 0, f"doit {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def test_step_failed_is_a_picklable_doit_failure_of_one_line() -> None:
    failed = StepFailed("hatchdoit: worktree A: cannot create worktree (fix: x)", "cannot create")
    back = pickle.loads(pickle.dumps(failed))  # `doit -n N` sends it from a worker
    assert (back.message, back.summary) == (failed.message, "cannot create")
    assert back.get_msg() == "hatchdoit: worktree A: cannot create worktree (fix: x)"
    assert back.get_name() == "TaskFailed"


def test_up_to_date_steps_are_quiet_and_a_noop_build_says_so_once(project: HatchProject) -> None:
    project.add_taskspec("A", body=module_body("alpha", "alpha", "a"))
    project.add_taskspec("B", body=module_body("beta", "beta", "b"), scripted={"qa": "reject-once"})

    first = ok(project)
    # A is approved on attempt 1 and B on attempt 2: their later attempts are never needed, and
    # are not announced as up to date.
    assert not [line for line in lines_of(first.stdout) if line.startswith("-- ")], first.stdout
    assert "hatchdoit: 2 TaskSpec(s): 2 done, 0 escalated, 0 active, 0 pending" in first.stdout
    assert first.stderr == "", first.stderr

    again = ok(project)
    assert lines_of(again.stdout) == [
        "-- taskspec:A",
        "-- taskspec:B",
        "hatchdoit: 2 TaskSpec(s): 2 done; nothing to do",
    ], again.stdout
    assert again.stderr == "", again.stderr

    # A step named on the command line still says it is up to date.
    named = ok(project, "factory:A.1")
    assert lines_of(named.stdout) == [
        "-- factory:A.1",
        "hatchdoit: 2 TaskSpec(s): 2 done; nothing to do",
    ], named.stdout

    # `-v 2` gives doit's line for every task, the superseded attempts and the group included.
    verbose = lines_of(ok(project, "-v", "2").stdout)
    assert verbose[-1] == "hatchdoit: 2 TaskSpec(s): 2 done; nothing to do"
    shown = [line.removeprefix("-- ") for line in verbose[:-1]]
    assert all(line.startswith("-- ") for line in verbose[:-1]), verbose
    steps = ("factory", "summary", "checks", "qa")
    expected = {f"{s}:{t}.{k}" for s in steps for t in "AB" for k in (1, 2, 3)}
    expected |= {"worktree:A", "worktree:B", "setup:A", "setup:B", "taskspec:A", "taskspec:B"}
    expected.add("taskspec")
    assert sorted(shown) == sorted(expected)

    # doit's own reporter: doit's plain output, none of hatchdoit's lines.
    console = lines_of(ok(project, "--reporter", "console").stdout)
    assert sorted(line.removeprefix("-- ") for line in console) == sorted(expected), console


def test_blocked_taskspec_is_one_line_and_failures_end_the_output(project: HatchProject) -> None:
    project.add_taskspec("A", body=module_body("alpha", "alpha", "a"))
    project.add_taskspec("C", scripted={"factory": "fail-tests"}, max_attempts=1)
    project.add_taskspec("D", depends_on=["C"])

    for run in (1, 2):  # the second run repeats the escalation on record, and says it alike
        done = run_doit(project, "-n", "2", "--continue")
        output = done.stdout + done.stderr
        assert done.returncode != 0, output
        assert "UnmetDependency" not in output and "TaskFailed" not in output, output
        assert "<function" not in output and "Traceback" not in output, output

        lines = failure_lines(done)
        assert len(lines) == 1, output
        assert lines[0].startswith(
            "hatchdoit: taskspec C: escalated after 1 attempt(s): tests failed (exit 1"
        ), lines[0]
        assert lines_of(done.stderr)[-1] == lines[0], "the build ends with its failure"

        marks = [line for line in lines_of(done.stdout) if re.match(r"F\s", line)]
        assert len(marks) == 2, done.stdout
        assert re.fullmatch(
            r"F\s+taskspec:C\s+\S+s\s+escalated after 1 attempt\(s\): tests failed \(exit 1.*",
            marks[0] if "taskspec:C" in marks[0] else marks[1],
        ), marks
        blocked = [line for line in marks if "taskspec:D" in line]
        assert blocked and re.fullmatch(
            r"F\s+taskspec:D\s+blocked: depends on C, which did not finish", blocked[0]
        ), marks
        steps_of_d = re.compile(r"\b(worktree|factory|summary|checks|qa):D\b")
        assert not [line for line in lines_of(done.stdout) if steps_of_d.search(line)], done.stdout
        summary = "hatchdoit: 3 TaskSpec(s): 1 done, 1 escalated, 0 active, 1 pending"
        assert summary in done.stdout, (run, done.stdout)


def test_a_step_error_is_one_line_and_doit_reporters_print_it_plainly(
    project: HatchProject,
) -> None:
    project.add_taskspec("A")
    in_the_way = project.root / "_worktrees" / "A"
    in_the_way.parent.mkdir()
    in_the_way.write_text("not a worktree\n", encoding="utf-8")

    done = run_doit(project)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "TaskFailed" not in output and "<function" not in output, output
    lines = failure_lines(done)
    assert len(lines) == 1, output
    assert lines[0].startswith(f"hatchdoit: worktree A: {in_the_way}: cannot create worktree")
    assert "(fix: " in lines[0]
    marks = [line for line in lines_of(done.stdout) if line.startswith("F ")]
    assert len(marks) == 1 and re.match(r"F\s+worktree:A\s+\S+s\s+cannot create worktree", marks[0])

    plain = run_doit(project, "--reporter", "console")
    assert plain.returncode == 1
    out = lines_of(plain.stdout)
    assert out[:3] == [".  worktree:A", "TaskFailed - taskid:worktree:A", lines[0]], plain.stdout
    assert "<function" not in plain.stdout + plain.stderr
    assert not SUMMARY.search(plain.stdout), "hatchdoit's summary is its own reporter's"


def test_a_reader_that_goes_away_ends_the_output_not_the_build(project: HatchProject) -> None:
    """`doit | head -1`: the build goes on to the end, quietly, and exits as it would have."""
    for tid in ("R1-PIPE", "R2-PIPE"):
        project.add_taskspec(tid)
    proc = subprocess.Popen(
        [doit_executable()],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader is gone: the next writes hit a closed pipe
    err = proc.stderr.read()
    assert proc.wait(timeout=180) == 0, err
    assert first.startswith(".  "), first
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    for tid in ("R1-PIPE", "R2-PIPE"):
        assert project.layout.done(tid).is_file(), f"{tid} was left unfinished"
