"""Terminal output of the commands that draw with rich, and what a closed pipe means."""

from __future__ import annotations

import errno
import os
import select
import sys

from rich.console import Console

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a program killed by it


class PipeAwareConsole(Console):
    """rich's Console, but a closed pipe goes to main's one handler instead of rich's own
    `SystemExit(1)`."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end is closed (poll reports POLLERR on
    the writing end then), as opposed to a broken pipe to some other process."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's capture)
        return False
