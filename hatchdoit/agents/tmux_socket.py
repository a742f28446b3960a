"""Whether a tmux server can be running on a socket, without starting a tmux process to ask."""

from __future__ import annotations

import os


def socket_may_exist(socket: str) -> bool:
    """Whether `tmux -L socket` could reach a server: its socket file exists in one of the
    directories tmux looks in ($TMUX_TMPDIR, then /tmp). Without one, a tmux command would only
    fail to connect; asking costs a process start (a few ms) each time."""
    uid = os.getuid()
    dirs = [d for d in (os.environ.get("TMUX_TMPDIR"), "/tmp") if d]
    return any(os.path.exists(f"{d}/tmux-{uid}/{socket}") for d in dirs)
