"""One exception root with structured context, and the exit codes the CLI maps them to."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1  # a build ran and something failed or escalated
EXIT_CONFIG = 2  # configuration or planning-repo errors
EXIT_UNEXPECTED = 3
EXIT_WAITING = 4  # `hatchdoit ci`: nothing failed, some TaskSpecs wait (records/waiting.py)
EXIT_PROVIDER = 5  # `hatchdoit ci`: a provider refused the credentials or the account's billing
EXIT_PAUSED = 6  # `hatchdoit ci`: paused on a provider for longer than providers.ci_max_wait
EXIT_SETUP = 7  # `hatchdoit ci`: a workspace setup failed (workspace.setup; not an attempt)
EXIT_INTERRUPTED = 130


class HatchdoitError(Exception):
    """An error with enough context to end in one clear line for the user."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        field: str | None = None,
        fix: str | None = None,
        taskspec_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.field = field
        self.fix = fix
        self.taskspec_id = taskspec_id
        self.operation = operation

    def located(self) -> str:
        """Render as `path: field: message` (what and where, without the fix)."""
        return ": ".join(part for part in (self.path, self.field, self.message) if part)

    def one_line(self) -> str:
        """Render as `path: field: message (fix: ...)`."""
        return f"{self.located()} (fix: {self.fix})" if self.fix else self.located()

    def context(self) -> dict[str, str]:
        """Structured fields for JSON logs."""
        fields = {
            "path": self.path,
            "field": self.field,
            "fix": self.fix,
            "taskspec_id": self.taskspec_id,
            "operation": self.operation,
        }
        return {k: v for k, v in fields.items() if v is not None}


class ConfigError(HatchdoitError):
    """hatchdoit.yaml, an agent profile or the environment is wrong."""

    exit_code = EXIT_CONFIG


class SpecError(HatchdoitError):
    """One problem in the planning repo."""

    exit_code = EXIT_CONFIG


class SpecErrors(HatchdoitError):
    """All problems found while loading a planning repo, reported together."""

    exit_code = EXIT_CONFIG

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the planning repo")
        self.errors = errors

    def one_line(self) -> str:
        return "\n".join(e.one_line() for e in self.errors)


class StepError(HatchdoitError):
    """A step could not do its work (not an agent's failure, which is a recorded outcome)."""


class BusyError(HatchdoitError):
    """Another process holds the lock for this work."""
