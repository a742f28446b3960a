"""`bash .ci/setup` on a stock Debian or Ubuntu image, whose python3 has no ensurepip: `python3 -m
venv` fails, so it installs python3-venv with apt-get and makes .venv again, or, where uv is
installed, lets uv make .venv and fill it; a second run keeps that .venv and installs nothing
with apt. Run in a clone of this checkout, with stand-ins for `apt-get` (it records what it was
asked for) and a `python3` whose venv fails until python3-venv was "installed". The real pip
or uv fills the clone's .venv (from their caches).

.ci/run checks the real thing on this machine: the README's first command in a fresh clone in
an empty environment, with the system's externally managed python3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from projects import CHECKOUT

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # 20-40 s each: a real install

FAKE_APT = """#!/bin/sh
echo "$*" >> "{log}"
case " $* " in *" python3-venv "*) : > "{mark}" ;; esac
exit 0
"""
FAKE_PYTHON = """#!/bin/sh
if [ "$1 $2" = "-m venv" ] && [ ! -e "{mark}" ]; then
  echo "The virtual environment was not created successfully because ensurepip is not" >&2
  echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv package" >&2
  exit 1
fi
exec "{real}" "$@"
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user .ci/setup runs sudo apt-get")
@pytest.mark.parametrize("uv", [False, True], ids=["apt", "uv"])
def test_setup_makes_the_venv_where_venv_fails(uv: bool, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(CHECKOUT), str(clone)], check=True)
    shutil.copy(CHECKOUT / ".ci" / "setup", clone / ".ci" / "setup")  # as it is, committed or not
    fake = tmp_path / "bin"
    fake.mkdir()
    log, mark = tmp_path / "apt.log", tmp_path / "venv-installed"
    real = getattr(sys, "_base_executable", sys.executable)
    for name, text in (
        ("apt-get", FAKE_APT.format(log=log, mark=mark)),
        ("python3", FAKE_PYTHON.format(mark=mark, real=real)),
    ):
        (fake / name).write_text(text)
        (fake / name).chmod(0o755)
    if uv:
        (fake / "uv").symlink_to(Path(sys.executable).parent / "uv")
    home = tmp_path / "home"
    home.mkdir()
    pip_cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "HOME": str(home),
        "PATH": f"{fake}:/usr/sbin:/usr/bin:/sbin:/bin",
        "PIP_CACHE_DIR": pip_cache,
        "LANG": "C.UTF-8",
    }
    # uv reads no pip.conf: its cache, and a certificate bundle this machine may need.
    env |= {k: v for k, v in os.environ.items() if k in ("SSL_CERT_FILE", "UV_CACHE_DIR")}

    def setup() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", ".ci/setup"], cwd=clone, env=env, capture_output=True, text=True, timeout=600
        )

    first = setup()
    assert first.returncode == 0, first.stdout + first.stderr
    asked = log.read_text().splitlines() if log.exists() else []
    venv_from_apt = any("install" in line and "python3-venv" in line for line in asked)
    assert venv_from_apt != uv, asked
    assert (clone / ".venv" / "bin" / "doit").is_file()
    made_by_uv = "\nuv = " in (clone / ".venv" / "pyvenv.cfg").read_text()
    assert made_by_uv == uv
    assert "setup: ok for the demo" in first.stdout

    log.unlink(missing_ok=True)
    second = setup()
    assert second.returncode == 0, second.stdout + second.stderr
    assert not log.exists(), log.read_text()  # .venv kept: nothing to install with apt
