"""Corrected statements say what changed and why: a restated bill (which lines), a changed mapping (which keys
moved, and to whom), changed prices; computed from the ledger and the rows each version showed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chargeback.reporting.content import load_content
from chargeback.reporting.job import send_statements
from chargeback.reporting.ledger import LedgerEntry, load_ledger
from chargeback.reporting.view import build_statement
from chargeback.warehouse.read import table_to_frame
from tests.support.allocations import MAPPING_YAML, MONTH, allocation_table, may_rows, publish_sample, sample_mapping
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import manifest_for, publish_month
from tests.unit.test_statement_job import MemoryMailer

NOW = datetime(2026, 6, 5, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 6, 9, 2, 0, tzinfo=UTC)
BILL = {"bills/202605/20260603170000/1234567890123456_26842_consumeDetailBillV2_202605.zip": "a" * 64}
RESTATED = {"bills/202605/20260608170000/1234567890123456_26842_consumeDetailBillV2_202605.zip": "b" * 64}
FINANCE = ("finance@example.com",)


@pytest.fixture
def warehouse():
    store = MemoryObjectStore()
    publish_sample(store)
    publish_month(store, MONTH, may_rows(), status="final", sources=BILL)
    return store


def sent_text(mailer: MemoryMailer, name: str) -> str:
    (mail,) = [m for m in mailer.sent if m.name == name]
    return mail.text


def test_every_sent_version_keeps_its_rows_and_what_it_was_built_from(warehouse):
    send_statements(warehouse, MONTH, sample_mapping(), MemoryMailer(), now=NOW, finance_cc=FINANCE)
    entry = load_ledger(warehouse, MONTH).latest("search", "mail")
    assert entry is not None
    assert (entry.kind, entry.mapping_version, entry.sources) == ("cost_center", "test-mapping", BILL)
    rows = load_content(warehouse, entry.content_key)
    assert rows is not None and sum(r["billed_cost"] for r in rows if r["currency"] == "CNY") == Decimal(
        "17.3961333")


def test_after_a_mapping_change_the_correction_names_the_moved_key_and_who_pays_it_now(warehouse):
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, finance_cc=FINANCE)
    moved = [{**r, "cost_center": "research", "workspace_id": r["workspace_id"]} if r["api_key_id"] == "2100003"
             else r for r in may_rows()]
    publish_month(warehouse, MONTH, moved, status="final", sources=BILL, mapping_version="mapping-v2")
    results = {r.cost_center: r for r in send_statements(warehouse, MONTH, sample_mapping(), mailer, now=LATER,
                                                         finance_cc=FINANCE)}
    assert {k: (r.outcome, r.version) for k, r in results.items() if r.outcome != "unchanged"} == {
        "search": ("corrected", 2), "research": ("corrected", 2), "finance": ("corrected", 2)}
    search = sent_text(mailer, "statement_2026-05_search_v2")
    assert "The mapping changed: API key 2100003 now goes to <script>alert('x')</script> Research." in search
    assert "The bill was restated" not in search  # the bill files are the same: never assumed
    research = sent_text(mailer, "statement_2026-05_research_v2")
    assert "映射已变更：API Key 2100003 现计入本账单。" in research  # research reads Chinese
    finance = sent_text(mailer, "statement_2026-05_finance_v2")
    assert "API key 2100003 moved from Search team to <script>alert('x')</script> Research" in finance


def test_after_a_restated_bill_the_correction_lists_the_changed_lines(warehouse):
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW)
    restated = [{**r, "billed_cost": Decimal("7.4"), "discount": Decimal("0.6")}
                if (r["billing_date"], r["model"], r["cost_center"]) == ("2026-05-10", "qwen-max", "search") else r
                for r in may_rows()]
    publish_month(warehouse, MONTH, restated, status="final", sources=RESTATED)
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=LATER, only="search")
    text = sent_text(mailer, "statement_2026-05_search_v2")
    assert "The bill was restated: 2 bill file(s) differ from those of version 1." in text
    assert "1 bill line(s) changed, listed below." in text
    assert "2026-05-10 · qwen-max · Input tokens · API key 2100002: 6.40 → 7.40 (+1.00)" in text
    assert "The mapping changed" not in text


def test_changed_list_prices_are_named(warehouse):
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, only="research")
    repriced = [{**r, "list_unit_price": "0.00025"} if r["model"] == "qwen-turbo" else r for r in may_rows()]
    publish_month(warehouse, MONTH, repriced, status="final", sources=RESTATED)
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=LATER, only="research")
    text = sent_text(mailer, "statement_2026-05_research_v2")
    assert "目录价变化：qwen-turbo · 输入 Token 0.0003 → 0.00025 CNY。" in text  # research reads Chinese


def test_a_version_sent_before_rows_were_kept_says_only_totals_can_be_compared():
    may = table_to_frame(allocation_table(may_rows()))
    entry = LedgerEntry(month=MONTH, cost_center="search", channel="mail", version=1, content_hash="old",
                        totals={"CNY": "15"}, by_model={}, status="provisional", to=(), cc=(), message_id="<m>",
                        delivery_id="d", sent_at="2026-06-01T00:00:00+00:00")
    view = build_statement(may, None, manifest_for(MONTH, may_rows(), status="final"),
                           sample_mapping(MAPPING_YAML), "search", ledger_entry=entry)
    restated = view.restatement
    assert restated is not None and not restated.traced
    assert restated.reasons == (
        "The month's final bill arrived (the previous version was provisional).",
        "The previous version predates change tracking, so only its totals can be compared.")
