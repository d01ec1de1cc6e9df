"""The dashboard of the demo warehouse (two months of realistic bills, budgets, free quota and anomalies, all
through the real pipeline) in headless chromium at 1,280 and 390 px: no horizontal overflow, every chart
visible, a screenshot of each kept under tests/artifacts/; and every amount it carries is the allocations'
own sum, exactly."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from chargeback.config.file import load_config_file
from chargeback.dashboard.render import render_dashboard
from chargeback.dashboard.view import load_dashboard
from chargeback.demo.job import DEMO_MONTH, run_demo
from chargeback.storage import LocalObjectStore
from chargeback.warehouse import layout
from tests.support.browser import measure, screenshot

pytestmark = pytest.mark.browser

NOW = datetime(2026, 5, 21, 3, tzinfo=UTC)  # the demo's alert day, 11:00 in Shanghai
WIDTHS = (1280, 390)

PROBE = """<script>
window.addEventListener("load", function () {
  var width = window.innerWidth;
  var charts = Array.prototype.slice.call(document.querySelectorAll("svg")).map(function (svg) {
    var r = svg.getBoundingClientRect(), style = getComputedStyle(svg);
    return {kind: svg.getAttribute("class"), left: r.left, right: r.right, width: r.width, height: r.height,
            shown: style.display !== "none" && style.visibility !== "hidden" && style.opacity !== "0",
            bars: svg.querySelectorAll("rect.bar").length};
  });
  var wide = [];
  Array.prototype.slice.call(document.querySelectorAll("body *")).forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5)) {
      wide.push(el.tagName + "." + el.getAttribute("class") + ": " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  });
  report({innerWidth: width, scrollWidth: document.documentElement.scrollWidth,
          bodyScrollWidth: document.body.scrollWidth, charts: charts, wide: wide.slice(0, 20)});
});
</script>"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_demo(tmp_path_factory.mktemp("demo"), now=NOW)


def page(demo: Any, locale: str) -> str:
    view = load_dashboard(LocalObjectStore(demo.warehouse), load_config_file(demo.mapping), month=DEMO_MONTH,
                          locale=locale, now=NOW)
    assert view is not None
    return render_dashboard(view)


@pytest.mark.parametrize("locale", ["en", "zh"])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_overflow_and_every_chart_visible(demo: Any, tmp_path: Path, width: int, locale: str) -> None:
    html_text = page(demo, locale)
    metrics = measure(html_text, tmp_path, width, PROBE)
    assert metrics["innerWidth"] == width
    assert metrics["scrollWidth"] <= width and metrics["bodyScrollWidth"] <= width, metrics["wide"]
    assert metrics["wide"] == []
    charts = [c for c in metrics["charts"] if c["kind"].startswith("chart")]
    assert len(charts) == 4  # one currency: by month, by cost center, API versus console, unallocated
    meters = [c for c in metrics["charts"] if c["kind"] == "meter"]
    assert len(meters) >= 10  # the ranked lists, budgets and free quota
    for chart in metrics["charts"]:
        assert chart["shown"] and chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["left"] >= 0 and chart["right"] <= width, chart
    for chart in charts:
        if chart["kind"] != "chart chart-columns" or chart["bars"]:
            assert chart["height"] >= 100, chart  # big enough to read
    assert sum(c["bars"] for c in charts) >= 2 * 3  # both months have columns in the value charts
    screenshot(html_text, tmp_path, f"dashboard_{locale}_{width}", width, 3600)


def allocation_sums(warehouse: Path, month: str, *keys: str) -> dict[tuple[str, ...], Decimal]:
    """Billed cost per ``keys`` of a month's published allocations, summed here, exactly."""
    table = pq.read_table(warehouse / layout.allocations_key(month), columns=[*keys, "billed_cost"])
    sums: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for row in table.to_pylist():
        sums[tuple(str(row[k]) for k in keys)] += row["billed_cost"]
    return dict(sums)


def carried(html_text: str) -> list[dict[str, str]]:
    """Every amount the page carries: kind, currency, month or key, and the exact amount."""
    found = []
    sections = [(m.start(), m.group(1)) for m in re.finditer(r'<section class="currency" data-currency="(\w+)"',
                                                              html_text)]
    for match in re.finditer(r'<td class="num" data-kind="([\w-]+)"(?: data-month="([\d-]+)")?'
                             r'(?: data-key="([^"]*)")? data-amount="([^"]*)"', html_text):
        currency = [c for start, c in sections if start < match.start()][-1]
        found.append({"kind": match.group(1), "month": match.group(2) or "", "key": match.group(3) or "",
                      "amount": match.group(4), "currency": currency})
    return found


def test_every_amount_is_the_allocations_own_sum(demo: Any) -> None:
    html_text = page(demo, "en")
    amounts = carried(html_text)
    months = ["2026-04", "2026-05"]
    by_month = {m: allocation_sums(demo.warehouse, m, "currency") for m in months}
    by = {key: defaultdict(Decimal) for key in ("cost_center", "model", "api_key_id", "workspace_id",
                                                 "call_source")}
    unallocated: dict[str, Decimal] = {}
    for month in months:
        for key, totals in by.items():
            for (value, currency), amount in allocation_sums(demo.warehouse, month, key, "currency").items():
                if currency == "CNY":
                    totals[value] += amount
        unallocated[month] = allocation_sums(demo.warehouse, month, "cost_center").get(("unallocated",),
                                                                                     Decimal(0))
    kinds = {"cost-center": "cost_center", "top_models": "model", "top_keys": "api_key_id",
             "top_workspaces": "workspace_id", "source": "call_source"}
    seen: dict[str, int] = defaultdict(int)
    for item in amounts:
        assert item["currency"] == "CNY"
        exact = Decimal(item["amount"])
        if item["kind"] == "month-total":
            assert exact == by_month[item["month"]][("CNY",)], item
        elif item["kind"] == "month-unallocated":
            assert exact == unallocated[item["month"]], item
        elif item["kind"] == "period-sum":
            assert exact == sum((by_month[m][("CNY",)] for m in months), Decimal(0))
        elif item["kind"] in kinds and item["key"]:
            assert exact == by[kinds[item["kind"]]][item["key"]], item
        seen[item["kind"]] += 1
    assert seen["month-total"] == 2 and seen["period-sum"] == 1
    assert seen["cost-center"] >= 3 and seen["top_models"] >= 8 and seen["top_keys"] >= 5
    for kind in ("top_models", "top_keys", "top_workspaces"):  # shown rows and others add up to the total
        rows = [Decimal(i["amount"]) for i in amounts if i["kind"] == kind]
        assert sum(rows, Decimal(0)) == sum((by_month[m][("CNY",)] for m in months), Decimal(0)), kind


def test_budgets_free_quota_and_anomalies_come_from_the_mapping_manifests_and_alert_state(demo: Any) -> None:
    html_text = page(demo, "en")
    amounts = carried(html_text)
    spent = sorted(Decimal(i["amount"]) for i in amounts if i["kind"] == "budget-spent")
    mapping = load_config_file(demo.mapping)  # the demo's budgets: search 9,000 and research 8,000 a month
    by_center = allocation_sums(demo.warehouse, DEMO_MONTH, "cost_center")
    assert spent == sorted(by_center[(c,)] for c, center in mapping.cost_centers.items() if center.budget)
    assert len(spent) == 2
    anomalies = [i for i in amounts if i["kind"] == "anomaly"]
    fired = [a for a in demo.alerts.outcomes if a.rule == "anomaly" and a.alert is not None]
    assert fired and len(anomalies) == len({a.alert_id for a in fired})
    assert {Decimal(a["amount"]) for a in anomalies} == {a.alert.value for a in fired}
    assert [i for i in amounts if i["kind"] == "quota-left"]  # the demo's free-quota grants
    assert "<script" not in html_text and " src=" not in html_text and " href=" not in html_text
    assert "url(" not in html_text  # nothing to fetch


def test_the_chinese_page_says_it_in_chinese(demo: Any) -> None:
    html_text = page(demo, "zh")
    assert '<html lang="zh-CN">' in html_text
    for word in ("按月合计", "按成本中心", "模型排行", "预算消耗", "剩余免费额度"):
        assert word in html_text
    assert carried(html_text) == carried(page(demo, "en"))  # the same numbers
