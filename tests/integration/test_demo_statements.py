"""The demo as people see it (``chargeback demo``, what ``make run`` runs): the statements, the finance statement
and the alerts of May 2026, with its spend spike on the 20th by API key 2178154."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.cli import main
from chargeback.config.file import load_config_file
from chargeback.demo.job import DemoResult, run_demo
from chargeback.display import rounded
from chargeback.reporting.finance import build_finance_statement
from chargeback.reporting.view import Context, build_statement, frame_rows
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.read import read_allocations
from tests.support.mail import csv_rows, html_text, parse_message, part, text_of
from tests.support.statements import amounts_follow_the_policy, check_statement, counted

NOW = datetime(2026, 6, 5, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"), now=NOW)


def message(demo: DemoResult, name: str):
    return parse_message((demo.outbox / f"statement_2026-05_{name}_v1.eml").read_bytes())


def test_every_statement_follows_the_money_policy_and_its_csv_is_exact(demo):
    frame = read_allocations(LocalObjectStore(demo.warehouse), "2026-05")
    assert frame is not None
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for center, currency, cost in zip(frame["cost_center"], frame["currency"], frame["billed_cost"], strict=True):
        totals[center][currency] += cost
    names = sorted(p.stem.removeprefix("statement_2026-05_").removesuffix("_v1")
                   for p in demo.outbox.glob("statement_*.eml"))
    assert names == ["assistants", "finance", "research", "search", "workspace_llm-29326ml64lg2tjf8",
                     "workspace_llm-7os5af3r09fquo6s", "workspace_llm-cz2ka7edcmpb3u2m"]
    for name in names:
        mail = message(demo, name)
        text, html = text_of(mail, "text/plain"), text_of(mail, "text/html")
        assert amounts_follow_the_policy(text) and amounts_follow_the_policy(html_text(html)), name
        assert ("the attached CSV carries the exact amounts" in text) != ("附件 CSV 含这些数字背后" in text)
        if name in totals:
            check_statement((demo.outbox / f"statement_2026-05_{name}_v1.eml").read_bytes(), name, totals[name])
    # the CSV still carries the bill's seven decimals
    csv_bytes = part(message(demo, "search"), "text/csv").get_payload(decode=True)
    assert sum(Decimal(r["billed_cost"]) for r in csv_rows(csv_bytes)) == Decimal("8121.5989899")


def test_shown_parts_add_up_to_shown_totals(demo):
    store = LocalObjectStore(demo.warehouse)
    may, april = read_allocations(store, "2026-05"), read_allocations(store, "2026-04")
    manifest = read_manifest(store, "2026-05")
    mapping = load_config_file(demo.mapping)
    for center in ("search", "research", "assistants"):
        view = build_statement(may, april, manifest, mapping, center, context=Context())
        for s in view.sections:
            total = rounded(s.total, s.currency)
            for lines in (s.by_model, s.by_io_type, s.by_api_key, s.by_call_source, s.by_workspace):
                shown = sum((counted(x.shown) for x in lines), Decimal(0))
                assert shown == total, (center, lines)
                assert sum(x.percent for x in lines if x.percent is not None) == 100
            assert sum((counted(d.shown) for d in s.days), Decimal(0)) == total
            d = s.discounts
            assert d.shown_list_cost - d.shown_discount - d.shown_coupon - d.shown_unexplained == total
            assert s.change is not None and sum(map(counted, s.change.shown_effects)) == s.change.shown_change
            assert rounded(s.change.previous_total, s.currency) + s.change.shown_change == total


def test_the_team_over_budget_sees_budget_actual_and_forecast_and_why_on_its_first_screen(demo):
    text = text_of(message(demo, "research"), "text/plain")
    first_screen = text.split("== Costs in")[0]
    assert "Total: CNY 9,983.11" in first_screen
    assert "Budget CNY 8,000.00: spent CNY 9,983.11 (124.8% of it). Over budget by CNY 1,983.11." in first_screen
    assert "The month is complete: the forecast is the actual spend." in first_screen
    # the change sentence names the key and the model behind the spike of 20 May
    assert "Up CNY 6,766.23 (+210.3%) against April 2026, mostly from more usage" in first_screen
    assert ("20 May alone cost CNY 5,685.01 (median day CNY 136.03), mostly API key 2178154 and model "
            "happyhorse-1.0-t2v.") in first_screen
    assert "05-20: 5,685.01  <- anomaly" in text  # the alert's anomaly day, marked
    html = text_of(message(demo, "research"), "text/html")
    assert html_text(html).index("Budget CNY 8,000.00") < html_text(html).index("Costs in CNY")


def test_the_finance_statement_reconciles_with_the_bill_exactly(demo):
    store = LocalObjectStore(demo.warehouse)
    manifest = read_manifest(store, "2026-05")
    frame = read_allocations(store, "2026-05")
    view = build_finance_statement(frame, manifest, load_config_file(demo.mapping))
    bills = {(a.account, c): v for a in manifest.accounts for c, v in a.totals.items()}
    assert {(r.account, r.currency): r.allocated for r in view.reconciliation} == bills
    assert all(r.equal for r in view.reconciliation)
    assert bills == {("1000000000000001", "CNY"): Decimal("18165.1866746")}
    mail = message(demo, "finance")
    assert mail["To"] == "finance@example.com"
    text = text_of(mail, "text/plain")
    assert ("1000000000000001: Bill (payable) CNY 18,165.19, Allocated CNY 18,165.19: Equal to the bill to the "
            "last decimal.") in text
    assert "oss (12 rows): CNY 105.93" in text
    csv_bytes = part(mail, "text/csv").get_payload(decode=True)
    assert len(csv_rows(csv_bytes)) == len(frame_rows(frame))
    # finance no longer gets a copy of every team's statement
    assert message(demo, "research")["Cc"] is None


def test_one_budget_alert_per_subject_goes_out_naming_the_highest_threshold(demo):
    budget = [o for o in demo.alerts.outcomes if o.rule == "budget_actual"]
    delivered = [(o.subject, o.alert.threshold) for o in budget if o.deliveries]
    assert delivered == [("cost center Search team", "50"), ("cost center Research lab", "100")]
    assert sorted((o.subject, o.alert.threshold) for o in budget if o.action == "superseded") == [
        ("cost center Research lab", "50"), ("cost center Research lab", "80")]
    assert demo.alerts.undelivered == []


def test_alert_without_outbox_or_mail_backend_writes_to_the_warehouse_outbox(demo, tmp_path, capsys):
    warehouse = tmp_path / "warehouse"
    shutil.copytree(demo.warehouse, warehouse, ignore=shutil.ignore_patterns("state", "outbox"))
    assert main(["alert", "--warehouse", str(warehouse), "--date", "2026-05-21", "--mapping", str(demo.mapping),
                 "--format", "json"]) == 0
    capsys.readouterr()
    mails = sorted(Path(warehouse / "outbox").glob("*.eml"))
    assert mails, "the alerts went to outbox/ in the warehouse"
    recipients = {parse_message(m.read_bytes())["To"] for m in mails}
    assert recipients == {"search-lead@example.com", "research-lead@example.com", "finops@example.com"}
