"""`python -m hatchdoit.confinement.launch SPEC ARGV...`: an agent under bubblewrap directly, its
network through a filtering proxy of its own (proxy.py) instead of srt's: no node to start, so a
launch costs ~10 ms beside this interpreter's start instead of srt's ~300 ms (docs/benchmarks.md).

SPEC (direct.py writes it) names the bubblewrap command (the policy's binds, its environment, a
new network namespace), srt's seccomp helper and the allowed hosts. The proxy listens on a Unix
socket in a short-named directory of its own, bound into the sandbox, where a socat bridge makes
it `127.0.0.1:3128` before the helper starts ARGV (the helper then refuses new Unix sockets).
Signals are passed on; the exit code is ARGV's. Standard library and proxy.py only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from hatchdoit.confinement.proxy import start

PORT = 3128
# socat listening before ARGV starts: its socket in LISTEN state (0A) in the sandbox's netns
_BRIDGE = (
    'socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$1" & shift; i=0; '
    "while [ $i -lt 400 ] && ! grep -q ':{hex} 00000000:0000 0A' /proc/net/tcp; "
    'do i=$((i+1)); sleep 0.005; done; exec "$@"'
)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m hatchdoit.confinement.launch SPEC ARGV...", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    sock_dir = tempfile.mkdtemp(prefix="hdp-", dir="/tmp")  # a socket's path: <= 107 bytes
    sock = os.path.join(sock_dir, "http.sock")
    server = start(sock, spec["hosts"])
    script = _BRIDGE.format(port=PORT, hex=f"{PORT:04X}")
    command = [*spec["bwrap"], "--bind", sock_dir, sock_dir, "--", "sh", "-c", script, "-"]
    command += [sock, spec["helper"], *argv[1:]]
    try:
        child = subprocess.Popen(command)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, lambda s, _f: child.send_signal(s))
        code = child.wait()
    finally:  # its thread is a daemon: no shutdown(), which waits out the serving loop's poll
        server.server_close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
