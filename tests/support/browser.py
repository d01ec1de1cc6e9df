"""A page in real headless chromium (Debian's ``/usr/bin/chromium``): its measurements and a screenshot.

Chromium's headless windows are at least 500 px wide, so the page is shown in a frame of the width asked for
(``srcdoc``, so the frame's document and its probe are the test's own). ``measure(page_html, folder, width,
probe)`` adds a probe script (for the test only; the page itself has none) that calls ``report(data)`` with
what it measured; ``report`` writes it into the outer document as JSON, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # screenshots, kept out of git
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is missing: run `make system-deps` (apt-get install chromium fonts-noto-cjk)"
    return path


def run_chromium(page: Path, *extra: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        completed = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
        )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


MIN_WINDOW = 500
REPORT = """<script>function report(data) {
  var outer = window.parent.document, pre = outer.createElement("pre");
  pre.id = "probe"; pre.textContent = JSON.stringify(data); outer.body.appendChild(pre);
}</script>"""


def framed(page_html: str, width: int, height: int) -> str:
    """``page_html`` in a frame ``width`` x ``height`` px, alone on an otherwise empty page."""
    return ('<!DOCTYPE html><html><body style="margin:0;background:#fff">'
            f'<iframe srcdoc="{html.escape(page_html, quote=True)}" style="border:0;display:block;width:{width}px;'
            f'height:{height}px"></iframe></body></html>')


def measure(page_html: str, folder: Path, width: int, probe: str, *, height: int = 2000) -> dict[str, Any]:
    """What ``probe`` (a script that calls ``report(data)`` on load) measured with the page ``width`` px wide."""
    page = folder / f"probe-{width}.html"
    page.write_text(framed(page_html.replace("</body>", REPORT + probe + "\n</body>"), width, height),
                    encoding="utf-8")
    dom = run_chromium(page, f"--window-size={max(width, MIN_WINDOW) + 20},{height}", "--virtual-time-budget=5000",
                       "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not run"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def screenshot(page_html: str, folder: Path, name: str, width: int, height: int) -> Path:
    """A PNG of the page ``width`` px wide and ``height`` px tall, under tests/artifacts/ (in a window of at least
    500 px: narrower pages sit at its left)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = folder / f"{name}.html"
    page.write_text(framed(page_html, width, height), encoding="utf-8")
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    window = max(width, MIN_WINDOW)
    run_chromium(page, f"--window-size={window},{height}", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (window, height)
    return shot
