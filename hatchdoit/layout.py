"""Where every artifact of a project lives. One place for path rules."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

Role = Literal["factory", "qa"]
ROLES: tuple[Role, Role] = ("factory", "qa")
LOG_COMPONENTS = ("orchestrator", "factory", "qa", "hooks", "errors", "summaries", "state")


@lru_cache(maxsize=1 << 16)
def _under(root: Path, *parts: str) -> Path:
    """root/parts..., built once: up-to-date checks ask for the same few paths of every TaskSpec
    many times, and pathlib's joins dominated a 1000-TaskSpec `doit list`."""
    return root.joinpath(*parts)


@lru_cache(maxsize=64)
def _tag(root: Path) -> str:
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Layout:
    """Paths under one project root (the directory holding dodo.py and hatchdoit.yaml)."""

    root: Path
    # hatchdoit.yaml's `worktrees:`: relative to the root (a dot-folder keeps them out of the
    # user's test runners and linters) or absolute.
    worktrees_dir: str = "_worktrees"

    @property
    def tag(self) -> str:
        """A short name of this project, the same on every run: a hash of its root. It tells
        this project's tmux socket and sessions apart from any other project's on the machine."""
        return _tag(self.root)

    @property
    def default_socket(self) -> str:
        """The project's tmux socket when hatchdoit.yaml names none: its folder's name (for a
        person reading `tmux ls`) and its tag."""
        name = re.sub(r"[^A-Za-z0-9_-]", "", self.root.name)[:24]
        return f"hatchdoit-{name}-{self.tag}" if name else f"hatchdoit-{self.tag}"

    @property
    def logs(self) -> Path:
        return self.root / "_logs"

    @property
    def worktrees(self) -> Path:
        return self.root / self.worktrees_dir

    @property
    def audit(self) -> Path:
        return self.logs / "audit.jsonl"

    @property
    def current_state(self) -> Path:
        return self.logs / "current_state.json"

    @property
    def confinement_record(self) -> Path:
        """What confined this build's agents and tests (build/confinement_start.py)."""
        return self.logs / "confinement.json"

    @property
    def plan_record(self) -> Path:
        """The planning repo's commit as the running (or last) build found it."""
        return self.logs / "planning.json"

    @property
    def locks(self) -> Path:
        return self.logs / "locks"

    @property
    def parse_cache(self) -> Path:
        """Parsed spec files kept between runs (parse_cache.py)."""
        return self.logs / "cache" / "specs.pickle"

    def worktree(self, tid: str) -> Path:
        return _under(self.root, self.worktrees_dir, tid)

    def state_dir(self, tid: str) -> Path:
        return _under(self.root, "_logs", "state", tid)

    def state_dir_path(self, tid: str) -> str:
        """`state_dir` as a plain string (see receipt_path): status lists every TaskSpec's."""
        return f"{self.root}/_logs/state/{tid}"

    def worktree_record(self, tid: str) -> Path:
        return _under(self.root, "_logs", "state", tid, "worktree.json")

    def receipt(self, tid: str, step: str, attempt: int) -> Path:
        return Path(self.receipt_path(tid, step, attempt))

    def receipt_path(self, tid: str, step: str, attempt: int) -> str:
        """`receipt` as a plain string: up-to-date checks stat ~25 receipt paths per TaskSpec,
        and building a Path costs more than the stat."""
        return f"{self.root}/_logs/state/{tid}/{step}-{attempt:03d}.receipt.json"

    def launch_record(self, tid: str, role: Role, attempt: int) -> Path:
        return self.state_dir(tid) / f"{role}-{attempt:03d}.launch.json"

    def done(self, tid: str) -> Path:
        return _under(self.root, "_logs", "state", tid, "done.json")

    def paused(self, tid: str) -> Path:
        """paused.json: the TaskSpec waits on its provider (provider_runs/pause.py)."""
        return _under(self.root, "_logs", "state", tid, "paused.json")

    def budget(self, tid: str) -> Path:
        """budget.json: a spend cap stopped the TaskSpec (provider_runs/budgets.py)."""
        return _under(self.root, "_logs", "state", tid, "budget.json")

    def provider_state(self, provider: str) -> Path:
        """A provider's circuit breaker, shared by every launch (provider_runs/gate.py)."""
        return self.logs / "providers" / f"{provider}.json"

    def escalated(self, tid: str) -> Path:
        return _under(self.root, "_logs", "state", tid, "escalated.json")

    def decision(self, tid: str, seq: int) -> Path:
        """A decision about the TaskSpec (records/decisions.py), numbered in order."""
        return _under(self.root, "_logs", "state", tid, f"decision-{seq:03d}.json")

    def shared_record(self, tid: str) -> Path:
        """`hatchdoit ci --shared`: which of the remote's snapshots of the TaskSpec's records
        this machine's match, and the runner that pushed it (shared/state_sync.py)."""
        return self.logs / "shared" / f"{tid}.json"

    def integration(self, tid: str) -> Path:
        """integrate.json: the receipt of the integrate step."""
        return _under(self.root, "_logs", "state", tid, "integrate.json")

    def integration_intent(self, tid: str) -> Path:
        """What an integration in progress started from (found again after a crash)."""
        return _under(self.root, "_logs", "state", tid, "integrate.intent.json")

    def integration_log(self, tid: str, n: int, name: str) -> Path:
        return self.logs / "integration" / tid / f"{name}-{n:03d}.log"

    @property
    def integration_worktree(self) -> Path:
        """The worktree the integration branch is merged and tested in (never the user's)."""
        return self.worktrees / ".integration"

    def hooks_dir(self, tid: str) -> Path:
        return self.logs / "hooks" / tid

    def stop_file(self, tid: str, role: Role, attempt: int) -> Path:
        """The run's stop as hatchdoit took it (or wrote it, on a fault)."""
        return self.hooks_dir(tid) / f"{role}-{attempt}.stop"

    def run_output(self, tid: str, role: Role, attempt: int) -> Path:
        """The one directory an agent run writes besides its workspace, temp dir and config
        home: its stop file, hook markers and hook log, its summary or verdict. Nothing there
        is a record: hatchdoit validates what appears and copies it into place
        (steps/run_output.py)."""
        return _under(self.root, "_logs", "runs", tid, f"{role}-{attempt:03d}")

    def run_stop(self, tid: str, role: Role, attempt: int) -> Path:
        """The stop file the run's hook writes (HATCHDOIT_STOP_FILE); `stop_file` is hatchdoit's
        validated copy."""
        return self.run_output(tid, role, attempt) / "stop.json"

    def run_handover(self, tid: str, role: Role, attempt: int) -> Path:
        """The summary (factory) or verdict (qa) the run writes; `summary`/`verdict` are
        hatchdoit's validated copies."""
        name = "summary.json" if role == "factory" else "verdict.json"
        return self.run_output(tid, role, attempt) / name

    def run_hook_log(self, tid: str, role: Role, attempt: int) -> Path:
        return self.run_output(tid, role, attempt) / "hooks.jsonl"

    def stream_log(self, tid: str, role: Role, attempt: int) -> Path:
        """The headless runner's copy of its CLI's JSON lines (it runs as the agent does)."""
        return self.run_output(tid, role, attempt) / "stream.jsonl"

    def marker(self, tid: str, role: Role, attempt: int, kind: str) -> Path:
        """Hook markers in the run's output directory: ready, submitted, exit, healthy."""
        return self.run_output(tid, role, attempt) / kind

    def summary(self, tid: str, attempt: int) -> Path:
        return self.logs / "summaries" / f"{tid}-factory-{attempt:03d}.json"

    def checks(self, tid: str, attempt: int) -> Path:
        return self.logs / "qa" / tid / f"checks-{attempt:03d}.json"

    def checks_log(self, tid: str, attempt: int) -> Path:
        return self.logs / "qa" / tid / f"checks-{attempt:03d}.log"

    def verdict(self, tid: str, attempt: int) -> Path:
        return self.logs / "qa" / tid / f"{tid}-qa-{attempt:03d}.json"

    def prompt(self, tid: str, role: Role, attempt: int, name: str = "prompt") -> Path:
        return self.logs / role / tid / f"{name}-{attempt:03d}.md"

    def session_dir(self, tid: str, role: Role, attempt: int) -> Path:
        """One agent run's own files: its CLI's settings and config home, its env file."""
        return self.logs / "sessions" / tid / f"{role}-{attempt:03d}"

    def pane_log(self, tid: str, role: Role, attempt: int) -> Path:
        return self.logs / role / tid / f"pane-{attempt:03d}.log"

    def screen_capture(self, tid: str, role: Role, attempt: int) -> Path:
        return self.logs / role / tid / f"screen-{attempt:03d}.txt"

    def component_log(self, component: str) -> Path:
        return self.logs / component / f"{component}.jsonl"

    def rel(self, path: Path) -> str:
        """Path relative to the root, for records and messages."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)
