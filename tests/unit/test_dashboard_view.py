"""The dashboard's numbers on hand-made months: per currency, series and rankings that add up exactly,
months missing in the window, budgets against the month's spend, anomalies from the alert state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chargeback.config.file import parse_config_file
from chargeback.dashboard.render import render_dashboard
from chargeback.dashboard.view import load_dashboard, newest_month
from chargeback.dashboard.words import WORDS
from chargeback.errors import InputError
from chargeback.reporting.i18n import short_month
from chargeback.warehouse import layout
from tests.support.allocations import row
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import publish_month

MAPPING = parse_config_file("""
cost_centers:
  search: {name: Search team, api_keys: ["2100001"], budget: {monthly: 100}}
  research: {name: Research lab, api_keys: ["2100002"]}
alerts:
  budgets:
    - {workspace: llm-search, monthly: 50, currency: CNY}
""")
NOW = datetime(2026, 5, 10, 4, tzinfo=UTC)


def months_rows() -> dict[str, list[dict[str, object]]]:
    return {
        "2026-02": [row("2026-02-03", "4", model="qwen-max")],
        # 2026-03 is not in the warehouse
        "2026-04": [row("2026-04-02", "10", model="qwen-max"), row("2026-04-03", "5", api_key_id="2100002",
                                                                   cost_center="research")],
        "2026-05": [row("2026-05-01", "30", model="qwen-max"),
                    row("2026-05-02", "2.5", api_key_id="", call_source="console", channel="bmp",
                        cost_center="unallocated", allocation_rule="unallocated"),
                    row("2026-05-02", "8", api_key_id="2100002", cost_center="research", model="qwen-turbo"),
                    row("2026-05-03", "7", currency="USD", list_unit_price="0.0016", model="qwen-max")],
    }


@pytest.fixture
def store() -> MemoryObjectStore:
    store = MemoryObjectStore()
    for month, rows in months_rows().items():
        publish_month(store, month, rows)
    state = {"version": 1, "month": "2026-05", "alerts": {"a1": {
        "rule": "anomaly", "subject": "model:qwen-max", "subject_label": "model qwen-max", "currency": "CNY",
        "period": "2026-05-01", "value": "30", "title": "qwen-max spent 30 on 2026-05-01", "status": "firing",
        "sequence": 1}, "b1": {"rule": "budget_actual", "subject": "cost_center:search", "period": "2026-05",
                               "value": "30", "status": "firing"}}}
    store.write_bytes("state/alerts/2026-05.json", json.dumps(state).encode())
    return store


def test_the_window_per_currency_with_a_missing_month(store):
    view = load_dashboard(store, MAPPING, months=12, now=NOW)
    assert view is not None and view.latest == "2026-05" and newest_month(store) == "2026-05"
    assert view.window == ("2026-02", "2026-03", "2026-04", "2026-05")  # from the first published month
    cny, usd = view.currencies
    assert (cny.currency, usd.currency) == ("CNY", "USD")
    assert [(p.month, p.amount, p.status) for p in cny.months] == [
        ("2026-02", Decimal(4), "open"), ("2026-03", Decimal(0), "missing"), ("2026-04", Decimal(15), "open"),
        ("2026-05", Decimal("40.5"), "open")]
    assert [p.amount for p in usd.months] == [0, 0, 0, Decimal(7)]
    assert cny.total == Decimal("59.5")
    assert [p.label for p in cny.months] == ["Feb 2026", "Mar", "Apr", "May"]
    for series in (cny.by_cost_center, cny.by_source):
        assert [sum((s.amounts[i] for s in series), Decimal(0)) for i in range(4)] == [p.amount for p in cny.months]
    assert {s.key: s.total for s in cny.by_cost_center} == {"search": Decimal(44), "research": Decimal(13),
                                                            "unallocated": Decimal("2.5")}
    assert cny.unallocated == (0, 0, 0, Decimal("2.5"))
    models, keys, _ = cny.rankings
    assert [(r.key, r.amount, r.share) for r in models.rows] == [
        ("qwen-max", Decimal(44), Decimal("73.9")), ("qwen-turbo", Decimal(8), Decimal("13.4")),
        ("qwen-plus", Decimal(5) + Decimal("2.5"), Decimal("12.6"))]
    assert sum((r.amount for r in models.rows), Decimal(0)) == cny.total and models.others is None
    assert {r.key: r.amount for r in keys.rows}[""] == Decimal("2.5")
    assert [p.message for p in view.problems] == [
        "month 2026-03 is not in the warehouse: run 'chargeback run --month 2026-03'"]


def test_budgets_quota_and_anomalies(store):
    view = load_dashboard(store, MAPPING, now=NOW)
    assert view is not None
    assert [(b.name, b.currency, b.spent, b.budget, b.percent) for b in view.budgets] == [
        ("llm-search", "CNY", Decimal("40.5"), Decimal(50), Decimal("81.0"))]
    # the cost center's budget names no currency, and May has costs in two: it cannot be judged, and says so
    assert view.budget_notes == ("The budget of Search team is not shown: 2026-05 has costs in CNY, USD; give the "
                                 "budget a currency.",)
    assert [(a.day, a.subject, a.value) for a in view.anomalies] == [("2026-05-01", "model qwen-max", Decimal(30))]
    assert (view.elapsed_days, view.month_days) == (10, 31)  # 10 May, 12:00 in Shanghai


def test_a_shorter_window_and_a_month_that_is_not_the_newest(store):
    view = load_dashboard(store, MAPPING, month="2026-04", months=2, now=NOW)
    assert view is not None and view.window == ("2026-04",) and view.elapsed_days == 0
    assert [c.currency for c in view.currencies] == ["CNY"]
    assert load_dashboard(MemoryObjectStore(), MAPPING, now=NOW) is None
    with pytest.raises(InputError, match="--months must be at least 1"):
        load_dashboard(store, MAPPING, months=0, now=NOW)


def test_a_month_changed_behind_its_manifest_is_left_out_and_named(store):
    key = layout.costs_key("2026-04")
    store.objects[key] = store.objects[key][:-1] + b"!"
    view = load_dashboard(store, MAPPING, now=NOW)
    assert view is not None
    assert [(p.month, p.reason) for p in view.problems] == [("2026-03", "missing"), ("2026-04", "changed")]
    assert [p.status for p in view.currencies[0].months] == ["open", "missing", "missing", "open"]
    assert "2026-04" in render_dashboard(view)


def test_both_locales_have_the_same_words_and_month_labels():
    assert set(WORDS["en"]) == set(WORDS["zh"])
    assert short_month("2026-01", "zh", with_year=True) == "2026年1月"
    assert short_month("2026-11", "en", with_year=False) == "Nov"


def test_names_from_data_are_escaped(store):
    mapping = parse_config_file('cost_centers:\n  search: {name: "<script>alert(1)</script>", '
                                'api_keys: ["2100001"]}\n')
    page = render_dashboard(load_dashboard(store, mapping, now=NOW))  # type: ignore[arg-type]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
