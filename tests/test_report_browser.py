"""The HTML report rendered by headless Chromium (Debian package `chromium`): the DOM it builds
holds the expected content, and its screenshot is a real, non-blank picture."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from daily_use import MixedBuild, hatchdoit, mixed

pytestmark = pytest.mark.integration
__all__ = ["mixed"]
WIDTH, HEIGHT = 1280, 900


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "chromium is not installed (apt-get install -y chromium)"
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, raw scanlines) of an 8-bit RGB/RGBA PNG, from its chunks (no imaging
    library: the standard library's zlib is enough)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    stride = 1 + width * (3 if color == 2 else 4)
    raw = zlib.decompress(idat)
    assert len(raw) == stride * height
    return width, height, [raw[i * stride : (i + 1) * stride] for i in range(height)]


def test_report_renders_in_headless_chromium(mixed: MixedBuild, tmp_path: Path) -> None:
    chromium()  # skips, saying why, when the browser is missing
    done = hatchdoit(mixed.project, "report")
    assert done.returncode == 0, done.stderr
    url = (mixed.root / "_logs" / "report.html").as_uri()

    dom = run_chromium(tmp_path / "p1", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    html = dom.stdout.decode("utf-8")
    for needed in (
        'id="featspecs"',
        'id="timeline"',
        'id="failures"',
        'id="metrics"',
        'id="ts-C"',
        "Add a docstring to each new public function.",
        "Other feature",
    ):
        assert needed in html, needed
    assert html.count('class="tl-row"') == 4
    assert html.count('<details id="ts-') == 4

    png = tmp_path / "report.png"
    shot = run_chromium(
        tmp_path / "p2", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url
    )
    assert shot.returncode == 0 and png.is_file(), shot.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    width, height, rows = png_pixels(data)
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(data) > 20_000, f"{len(data)} bytes: too small for a rendered report"
    distinct_rows = len(set(rows))
    assert distinct_rows > HEIGHT // 4, f"only {distinct_rows} distinct rows: a blank page?"
