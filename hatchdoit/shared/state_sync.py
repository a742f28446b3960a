"""A TaskSpec's records on the remote: `refs/hatchdoit/state/<ID>` is a commit whose tree is a
snapshot of them, pushed together with its `taskspec/<ID>` branch in one atomic push.

The snapshot holds, relative to `_logs/`: the files of `state/<ID>/` (receipts, launch
records, worktree.json, done.json, escalated.json, integrate.json, decisions, waiting.json),
every artifact a receipt names there (the `.stop` files, summaries, checks and verdicts), the
QA records of `qa/<ID>/`, and `audit/<ID>.jsonl`: the TaskSpec's events of the audit trail (the
step durations the critical-path order is predicted from, and the `decision_recorded` events
that seal its decisions). Logs and agent transcripts stay on the runner.

A runner that does not hold the TaskSpec materialises the snapshot into its own `_logs`: files
written atomically, the state directory's files the snapshot no longer has removed, audit
events it lacks appended (marked `"via": "remote"`), and its local `taskspec/<ID>` branch set to
the remote's (when no worktree of it is checked out here). Receipts then make doit see the
work as done, for the same inputs; a receipt made for other inputs is reported by the runner.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from hatchdoit.core.atomicio import append_line, write_atomic, write_json_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.layout import Layout
from hatchdoit.records.models import Receipt
from hatchdoit.records.schemas import try_load
from hatchdoit.records.waiting import WaitingRecord
from hatchdoit.run.gitops import branch_of, try_git
from hatchdoit.shared.claims import Claims
from hatchdoit.shared.remote_refs import BRANCHES, STATE, Remote, Update

MAX_FILE = 1 << 20  # a record bigger than this is no record: left out
AUDIT_DIR = "audit"
VIA = "via"


RUNNER_LINE = "runner: "


def _marker(layout: Layout, tid: str) -> Path:
    """`_logs/shared/<ID>.json`: the remote state this runner's records of `tid` match."""
    return layout.shared_record(tid)


def synced_sha(layout: Layout, tid: str) -> str | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return str(json.loads(_marker(layout, tid).read_text())["sha"])
    return None


def _mark(layout: Layout, tid: str, sha: str, how: str, runner: str) -> None:
    record = {"sha": sha, "how": how, "at": now_iso(), "runner": runner}
    write_json_atomic(_marker(layout, tid), record)


def _runner_of(layout: Layout, tid: str) -> str:
    """The runner that built `tid` as far as this machine knows (a decision keeps it)."""
    with contextlib.suppress(OSError, ValueError, AttributeError, KeyError):
        return str(json.loads(_marker(layout, tid).read_text())["runner"])
    return ""


def snapshot(layout: Layout, tid: str) -> dict[str, Path | bytes]:
    """{path under _logs/: the file or its bytes} of the TaskSpec's records (see above)."""
    found: dict[str, Path | bytes] = {}

    def add(path: Path) -> None:
        with contextlib.suppress(OSError, ValueError):
            if path.is_file() and path.stat().st_size <= MAX_FILE:
                found[path.relative_to(layout.logs).as_posix()] = path

    state = layout.state_dir(tid)
    for path in sorted(state.iterdir()) if state.is_dir() else []:
        if not path.name.startswith(".") and not _runner_wait(path):
            add(path)
            if path.name.endswith(".receipt.json"):
                receipt = try_load(path, Receipt)
                if receipt is not None and receipt.artifact:
                    add(layout.root / receipt.artifact)
    qa = layout.logs / "qa" / tid
    for path in sorted(qa.glob("*.json")) if qa.is_dir() else []:
        add(path)
    events = [
        json.dumps(e, ensure_ascii=False, sort_keys=True, default=str)
        for e in read_json_lines(layout.audit)
        if e.get("taskspec_id") == tid
    ]
    if events:
        found[f"{AUDIT_DIR}/{tid}.jsonl"] = ("\n".join(events) + "\n").encode()
    return found


def _runner_wait(path: Path) -> bool:
    """A runner's own record that it waits on other runners: not a record of the TaskSpec."""
    if path.name != "waiting.json":
        return False
    record = try_load(path, WaitingRecord)
    return record is not None and record.kind == "runner"


def local_branch(remote: Remote, tid: str) -> str | None:
    done = try_git(remote.repo, "rev-parse", "--verify", "-q", f"refs/heads/{branch_of(tid)}")
    return done.stdout.strip() or None if done.returncode == 0 else None


def state_updates(
    remote: Remote, layout: Layout, tid: str, runner: str, fresh: bool = True
) -> list[Update]:
    """The updates that put `tid`'s records and branch on the remote (none when it has them),
    leased on what the remote has now (`fresh`: fetched first, so the commit the snapshot
    goes on top of is here too), or on what this runner last fetched or pushed (no round
    trip; a lease that does not hold is refused, and read again)."""
    if fresh:
        remote.fetch()
    live = remote.known([STATE + tid, BRANCHES + tid])
    parent = live.get(STATE + tid)
    files = snapshot(layout, tid)
    updates = []
    if files:
        tree = remote.tree(files)
        if parent is None or tree != remote.tree_of(parent):
            sha = remote.commit_tree(tree, f"state of {tid}\n\n{RUNNER_LINE}{runner}\n", parent)
            updates.append(Update(STATE + tid, sha, parent))
    branch = local_branch(remote, tid)
    if branch is not None and branch != live.get(BRANCHES + tid):
        updates.append(Update(BRANCHES + tid, branch, live.get(BRANCHES + tid)))
    return updates


def push_state(
    remote: Remote,
    layout: Layout,
    tid: str,
    claims: Claims | None = None,
    by: str = "",
    release: bool = False,
    fresh: bool = True,
) -> bool:
    """Push `tid`'s records and branch: with `claims`, together with a renewal of our claim
    (with `release`, its deletion; False: it was taken over, nothing written, or a lease did
    not hold); without (a person's decision on a runner that does not build it), leased on
    what the remote has (False: someone wrote first). `by`: who pushes, without a claim (the
    claim's runner with one). `fresh`: see state_updates."""
    runner = claims.runner if claims is not None else by or _runner_of(layout, tid)
    if claims is not None:
        with claims.lock:  # what the updates are leased on is read and written in one go
            updates = state_updates(remote, layout, tid, runner, fresh)
            ok = claims.push_with(tid, updates, release)
    else:
        updates = state_updates(remote, layout, tid, runner)
        ok = not updates or remote.push(updates)
    if ok:
        pushed = next((u.new for u in updates if u.ref == STATE + tid), None)
        known = pushed or remote.ref(STATE + tid)
        if known:
            _mark(layout, tid, known, "pushed", runner)
    return ok


def materialise(remote: Remote, layout: Layout, tid: str, sha: str) -> bool:
    """Make this runner's records of `tid` the remote's snapshot `sha` (see the module's
    docstring). False when they were that snapshot already."""
    if synced_sha(layout, tid) == sha:
        return False
    files, message = remote.snapshot_of(sha)
    audit_name = f"{AUDIT_DIR}/{tid}.jsonl"
    events = files.pop(audit_name, b"")
    state = layout.state_dir(tid)
    state.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = layout.logs / rel
        if not _inside(layout.logs, path):
            continue
        with contextlib.suppress(OSError):
            if path.read_bytes() == data:
                continue
        write_atomic(path, data)
    wanted = {layout.logs / rel for rel in files}
    for path in state.iterdir():
        if path.is_file() and not path.name.startswith(".") and path not in wanted:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    _import_audit(layout, tid, events)
    _follow_branch(remote, layout, tid)
    runner = next(
        (
            line.removeprefix(RUNNER_LINE)
            for line in message.splitlines()
            if line.startswith(RUNNER_LINE)
        ),
        "",
    )
    _mark(layout, tid, sha, "materialised", runner)
    return True


def _inside(root: Path, path: Path) -> bool:
    return os.path.normpath(path).startswith(os.path.normpath(root) + os.sep)


def _key(event: dict[str, object]) -> str:
    return json.dumps({k: v for k, v in event.items() if k != VIA}, sort_keys=True, default=str)


def _import_audit(layout: Layout, tid: str, data: bytes) -> None:
    """Append the remote's events of `tid` that this trail lacks, marked as coming from it."""
    if not data:
        return
    have = {_key(e) for e in read_json_lines(layout.audit) if e.get("taskspec_id") == tid}
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("taskspec_id") == tid and _key(event) not in have:
            event.setdefault(VIA, "remote")
            append_line(layout.audit, json.dumps(event, ensure_ascii=False, sort_keys=True))


def _follow_branch(remote: Remote, layout: Layout, tid: str) -> None:
    """The local `taskspec/<ID>` branch at the remote's commit (fetched already), unless a
    worktree of it is checked out here (its work is this runner's own)."""
    if layout.worktree(tid).exists():
        return
    mine = f"refs/heads/{branch_of(tid)}"
    found = remote.git("for-each-ref", "--format=%(refname) %(objectname)", mine, remote.local(
        BRANCHES + tid))  # fmt: skip
    shas = dict(line.split(" ", 1) for line in found.splitlines())
    theirs = shas.get(remote.local(BRANCHES + tid))
    if theirs is not None and shas.get(mine) != theirs:
        remote.git("update-ref", mine, theirs)
