"""Statements, the finance statement and an alert digest in a real headless browser (Debian chromium) at
600 px (a phone or a mail client's reading pane) and 1,200 px: no horizontal overflow, every chart and image
loads, and the 600 px column stays 600 px wide on a wide screen.

The HTML part is rendered as a mail client would show it, with its cid: images swapped for data: URIs (the
outbox preview). A small probe script, added for the test only, writes the page's measurements into the DOM,
which chromium's --dump-dom prints. Screenshots are kept under tests/artifacts/ (not versioned).
"""

from __future__ import annotations

import html
import json
import re
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chargeback.alerts.channels import EmailChannel, Notification, RetryPolicy
from chargeback.delivery.mime import preview_html
from chargeback.delivery.outbox import OutboxMailer
from chargeback.reporting.csvfile import statement_csv
from chargeback.reporting.finance import build_finance_statement
from chargeback.reporting.mail import statement_mail
from chargeback.reporting.render import render_finance, render_statement
from chargeback.reporting.view import build_statement, cost_center_rows, frame_rows
from chargeback.warehouse.read import table_to_frame
from tests.support.allocations import MONTH, allocation_table, april_rows, may_rows, row, sample_mapping
from tests.support.browser import ARTIFACTS, run_chromium
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import manifest_for

pytestmark = pytest.mark.browser

WIDTH = 600
WIDE = 1200
COLUMN = 600
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images).map(function (img) {
    return {complete: img.complete, naturalWidth: img.naturalWidth, width: img.getBoundingClientRect().width,
            alt: img.alt};
  });
  var widest = 0;
  Array.prototype.slice.call(document.querySelectorAll("table")).forEach(function (t) {
    widest = Math.max(widest, t.getBoundingClientRect().width);
  });
  var column = document.querySelector("body > table td > table");
  var probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth, innerWidth: window.innerWidth, images: images,
    column: column ? column.getBoundingClientRect().width : 0});
  document.body.appendChild(probe);
});
</script>"""


def measure(page_html: str, folder: Path, width: int = WIDTH) -> dict[str, Any]:
    page = folder / "probe.html"
    page.write_text(page_html.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    dom = run_chromium(page, f"--window-size={width},2000", "--virtual-time-budget=5000", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not run"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


LONG_NAMES_YAML = f"""\
cost_centers:
  long:
    name: {"Team" * 60}
    owners: [a@example.com]
workspace_labels:
  llm-long: {"Workspace" * 30}
"""


def long_rows() -> list[dict[str, Any]]:
    """Unbreakable names from data, a million-sized amount with seven decimals, 31 days of costs."""
    model = "qwen-" + "x" * 120
    rows = [row(f"2026-05-{day:02d}", "12345678.1234567", model=model, api_key_id="9" * 64,
                workspace_id="llm-long", cost_center="long") for day in range(1, 32)]
    rows.append(row("2026-05-02", "0", model=model, fee_type="free_quota", usage="0",
                    deducted_usage="123456789.123", list_unit_price="0",
                    usage_type="context_0-256k_input_token_" + "y" * 80, workspace_id="llm-long",
                    cost_center="long"))
    return rows


def statement_preview(cost_center: str, locale: str) -> str:
    may, april = table_to_frame(allocation_table(may_rows())), table_to_frame(allocation_table(april_rows()))
    mapping = sample_mapping()
    if cost_center == "long":
        may, mapping = table_to_frame(allocation_table(long_rows())), sample_mapping(LONG_NAMES_YAML)
    manifest = manifest_for(MONTH, may_rows(), status="open", mapping_version="test")
    now = datetime(2026, 6, 5, tzinfo=UTC)
    if cost_center == "finance":
        finance = build_finance_statement(may, manifest, mapping, locale=locale)
        mail = statement_mail(finance, render_finance(finance), statement_csv(frame_rows(may), mapping),
                              sender="c@example.com", to=("a@example.com",), cc=(), now=now)
        return preview_html(mail)
    if cost_center == "alerts":
        return alert_digest(locale)
    view = build_statement(may, april, manifest, mapping, cost_center, top_n=3, locale=locale)
    csv_bytes = statement_csv(cost_center_rows(may, cost_center), mapping)
    mail = statement_mail(view, render_statement(view), csv_bytes, sender="c@example.com",
                          to=("a@example.com",), cc=(), now=now)
    return preview_html(mail)


def alert_digest(locale: str) -> str:
    """A day's alerts for one recipient, as the e-mail channel writes them."""
    notes = [Notification(alert_id=f"a{i}", sequence=1, reason="new", rule="budget_actual", severity=severity,
                          title=f"Budget {100 - i * 20}% reached: Search team spent CNY 9,983.11 of CNY 8,000.00",
                          lines=("Spend in 2026-05 to date: CNY 9,983.11 = 124.8% of the monthly budget.",
                                 "Top contributors: " + "qwen-" + "x" * 90 + " · key 2178154: CNY 5,685.01."),
                          footer=f"chargeback alerts · evaluated for 2026-05-21 · alert a{i}", locale=locale,
                          day="2026-05-21")
             for i, severity in enumerate(("critical", "warning", "info"))]
    channel = EmailChannel("owners", OutboxMailer(MemoryObjectStore()), "c@example.com", policy=RetryPolicy())
    return preview_html(channel.digest_mail(notes, "lead@example.com", locale, "2026-05-21"))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("width", [WIDTH, WIDE])
@pytest.mark.parametrize(("cost_center", "locale"), [("search", "en"), ("research", "zh"), ("ops", "en"),
                                                     ("long", "zh"), ("finance", "en"), ("alerts", "zh")])
def test_the_mail_fits_and_every_image_loads(tmp_path, cost_center, locale, width):
    page_html = statement_preview(cost_center, locale)
    metrics = measure(page_html, tmp_path, width)
    assert metrics["innerWidth"] == width
    assert metrics["scrollWidth"] <= width, metrics
    assert metrics["bodyScrollWidth"] <= width, metrics
    assert metrics["column"] <= COLUMN, metrics  # the mail's column stays 600 px wide on a wide screen
    if cost_center not in ("finance", "alerts"):
        assert len(metrics["images"]) >= 2, "a statement has its daily chart and its trend"
    for image in metrics["images"]:
        assert image["complete"] and image["naturalWidth"] > 0, image
        assert image["width"] <= min(width, COLUMN)
        assert image["alt"], "every chart says what it shows"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = tmp_path / "statement.html"
    page.write_text(page_html, encoding="utf-8")
    shot = ARTIFACTS / f"statement_{cost_center}_{locale}_{width}.png"
    shot.unlink(missing_ok=True)
    run_chromium(page, f"--window-size={width},3200", f"--screenshot={shot}")
    assert png_size(shot) == (width, 3200)


def test_the_probe_sees_an_overflow_when_there_is_one(tmp_path):
    # The check above would be worthless if the probe could not see a too-wide page.
    wide = '<!DOCTYPE html><html><body style="margin:0"><div style="width:900px">x</div></body></html>'
    assert measure(wide, tmp_path)["scrollWidth"] > WIDTH
    broken = '<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA"></body></html>'
    assert measure(broken, tmp_path)["images"][0]["naturalWidth"] == 0
