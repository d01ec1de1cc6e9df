"""The statements job against an in-memory warehouse and mailer: what is sent, recorded and skipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chargeback.delivery import DeliveryError, OutgoingMail
from chargeback.errors import InputError
from chargeback.reporting.job import send_statements
from chargeback.reporting.ledger import Ledger, LedgerEntry, ledger_key, load_ledger, record_entry
from chargeback.warehouse.manifest import read_manifest, write_manifest
from tests.support.allocations import (
    MAPPING_YAML,
    MONTH,
    may_rows,
    publish_sample,
    sample_mapping,
)
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import publish_month

NOW = datetime(2026, 6, 5, 2, 0, tzinfo=UTC)


class MemoryMailer:
    """Keeps what it is asked to send; refuses the addresses in ``refuse``."""

    channel = "mail"
    needs_recipients = True

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.sent: list[OutgoingMail] = []
        self.refuse = refuse

    def send(self, mail: OutgoingMail) -> str:
        bad = tuple(a for a in (*mail.to, *mail.cc) if a in self.refuse)
        if bad:
            raise DeliveryError(f"refused {bad}", addresses=bad)
        self.sent.append(mail)
        return f"id-{len(self.sent)}"


@pytest.fixture
def warehouse():
    store = MemoryObjectStore()
    publish_sample(store)
    return store


def test_first_run_sends_each_cost_center_once_and_records_it(warehouse):
    mailer = MemoryMailer()
    results = send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW,
                              finance_cc=("finance@example.com",))
    assert [(r.cost_center, r.outcome, r.delivery_id) for r in results] == [
        ("ops", "sent", "id-1"), ("research", "sent", "id-2"), ("search", "sent", "id-3"),
        ("unallocated", "sent", "id-4"), ("finance", "sent", "id-5")]
    assert [m.name for m in mailer.sent] == [f"statement_2026-05_{c}_v1" for c in
                                             ("ops", "research", "search", "unallocated", "finance")]
    # finance gets one finance statement, not a copy of every team's; nobody owns 'unallocated': finance does
    assert [(m.to, m.cc) for m in mailer.sent] == [
        (("ops@ops.example.com",), ()), (("ana@research.example.com", "bo@research.example.com"), ()),
        (("lead@search.example.com",), ()), (("finance@example.com",), ()), (("finance@example.com",), ())]
    assert [a.filename for a in mailer.sent[-1].attachments] == ["statement_2026-05_finance_v1.csv"]
    ledger = load_ledger(warehouse, MONTH)
    assert [e.delivery_id for e in ledger.entries] == ["id-1", "id-2", "id-3", "id-4", "id-5"]
    assert [e.kind for e in ledger.entries] == ["cost_center"] * 4 + ["finance"]
    again = send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, finance_cc=("finance@example.com",))
    assert {r.outcome for r in again} == {"unchanged"}
    assert len(mailer.sent) == 5


def test_finance_copies_are_an_option(warehouse):
    mapping = sample_mapping(MAPPING_YAML.replace("statements:\n", "statements:\n  finance_copy: true\n"))
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, mapping, mailer, now=NOW, only="search", finance_cc=("finance@example.com",))
    assert [(m.to, m.cc) for m in mailer.sent] == [(("lead@search.example.com",), ("finance@example.com",))]


def test_without_finance_recipients_the_finance_statement_is_skipped_and_says_why(warehouse):
    results = send_statements(warehouse, MONTH, sample_mapping(), MemoryMailer(), now=NOW, only="finance")
    assert [(r.cost_center, r.outcome) for r in results] == [("finance", "skipped")]
    assert "no finance recipients" in results[0].detail


def test_the_date_header_is_the_given_now_and_the_clock_is_not_read(warehouse):
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, only="search")
    assert mailer.sent[0].headers["Date"] == "Fri, 05 Jun 2026 02:00:00 +0000"
    with pytest.raises(ValueError, match="timezone"):
        send_statements(warehouse, MONTH, sample_mapping(), mailer, now=datetime(2026, 6, 5))


def test_a_cost_center_whose_rows_vanished_gets_a_correction_to_zero(warehouse):
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW)
    publish_month(warehouse, MONTH, [r for r in may_rows() if r["cost_center"] != "ops"], status="final")
    results = {r.cost_center: r for r in send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW)}
    assert (results["ops"].outcome, results["ops"].version, results["ops"].totals) == ("corrected", 2, ())
    assert "Total CNY: 2.00 → 0.00 (-2.00)" in mailer.sent[-1].text


def test_failures_are_reported_not_recorded_and_the_rest_still_goes(warehouse):
    mailer = MemoryMailer(refuse=("lead@search.example.com",))
    results = {r.cost_center: r for r in send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW)}
    assert results["search"].outcome == "failed" and "lead@search.example.com" in results["search"].detail
    assert results["unallocated"].outcome == "skipped"
    assert {results[c].outcome for c in ("ops", "research")} == {"sent"}
    assert load_ledger(warehouse, MONTH).cost_centers("mail") == {"ops", "research"}


def test_statement_settings_come_from_the_mapping(warehouse):
    mapping = sample_mapping(MAPPING_YAML.replace("  top_n: 3\n", "  top_n: 1\n  locale: zh\n"
                                                  "  group_thousands: false\n"))
    mailer = MemoryMailer()
    send_statements(warehouse, MONTH, mapping, mailer, now=NOW, only="search")
    text = mailer.sent[0].text
    assert "按 API Key（前 1 个）" in text and "其他（6 个）" in text  # six keys and the console
    assert "10168667" in text and "10,168,667" not in text  # qwen-plus tokens, ungrouped
    with pytest.raises(InputError, match=r"statements\.top_n"):
        send_statements(warehouse, MONTH, sample_mapping(MAPPING_YAML.replace("top_n: 3", "top_n: 0")),
                        mailer, now=NOW)


def test_rows_that_disagree_with_the_manifest_are_reported(warehouse, caplog):
    manifest = read_manifest(warehouse, MONTH)
    write_manifest(warehouse, manifest.replace(totals={**manifest.totals, "CNY": Decimal(1)}))
    send_statements(warehouse, MONTH, sample_mapping(), MemoryMailer(), now=NOW, dry_run=True)
    assert "the manifest says 1" in caplog.text


def test_ledger_round_trip_and_a_damaged_ledger_stops_the_run(warehouse):
    entry = LedgerEntry(month=MONTH, cost_center="a", channel="outbox", version=3, content_hash="h",
                        totals={"CNY": "1.5"}, by_model={"CNY": {"m": "1.5"}}, status="final", to=("x@y.z",),
                        cc=(), message_id="<m>", delivery_id="p", sent_at="2026-06-05T02:00:00+00:00")
    record_entry(warehouse, entry)
    loaded = load_ledger(warehouse, MONTH)
    assert loaded.entries == [entry]
    assert loaded.latest("a", "outbox") == entry and loaded.latest("a", "mail") is None
    earlier = replace(entry, cost_center="b", version=1)  # the document earlier versions wrote still counts
    warehouse.write_bytes(ledger_key(MONTH), Ledger(MONTH, [earlier]).to_bytes())
    assert load_ledger(warehouse, MONTH).entries == [entry, earlier]
    warehouse.write_bytes(ledger_key(MONTH), b"{not json")
    with pytest.raises(InputError, match="ledger is damaged"):
        send_statements(warehouse, MONTH, sample_mapping(), MemoryMailer(), now=NOW)


def test_a_mailer_that_only_has_send_counts_as_mail(warehouse):
    class BareMailer:
        def __init__(self) -> None:
            self.sent: list[OutgoingMail] = []

        def send(self, mail: OutgoingMail) -> str:
            self.sent.append(mail)
            return "ok"

    mailer = BareMailer()
    send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, only="ops")  # type: ignore[arg-type]
    assert load_ledger(warehouse, MONTH).latest("ops", "mail") is not None


def test_statements_per_workspace_go_to_the_workspace_owners(warehouse):
    mapping = sample_mapping(MAPPING_YAML.replace("statements:\n", "statements:\n  per: [cost_center, workspace]\n")
                             + "workspace_owners:\n  llm-research: [ws-lead@example.com]\n")
    results = {r.cost_center: r for r in send_statements(warehouse, MONTH, mapping, MemoryMailer(), now=NOW,
                                                         finance_cc=("finance@example.com",))}
    assert (results["workspace:llm-research"].outcome, results["workspace:llm-research"].to) == (
        "sent", ("ws-lead@example.com",))
    # a workspace nobody owns is skipped, never sent to finance
    assert results["workspace:llm-search"].outcome == "skipped"
    assert "workspace_owners" in results["workspace:llm-search"].detail
    assert load_ledger(warehouse, MONTH).latest("llm-research", "mail", "workspace") is not None
    assert send_statements(warehouse, MONTH, mapping, MemoryMailer(), now=NOW,
                           only="workspace:llm-research")[0].outcome == "unchanged"
