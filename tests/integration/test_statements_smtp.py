"""Statements through a real SMTP server on 127.0.0.1: exactly once, corrections, refusals, TLS and login."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chargeback.delivery import DeliveryError, OutgoingMail
from chargeback.delivery.outbox import OutboxMailer
from chargeback.errors import InputError
from chargeback.reporting.job import send_statements
from chargeback.reporting.ledger import load_ledger
from chargeback.storage import LocalObjectStore
from tests.support.allocations import MONTH, may_rows, publish_sample, row, sample_mapping
from tests.support.delivery import mailer_for
from tests.support.mail import parse_message, text_of
from tests.support.smtp import HOST, RecordingHandler, make_certificate, smtp_server
from tests.support.statements import check_statement, expected_totals
from tests.support.warehouse import publish_month

NOW = datetime(2026, 6, 5, 2, 0, tzinfo=UTC)
SENDER = "Chargeback <chargeback@example.com>"
FINANCE = ("finance@example.com",)
OWNERS = {
    "search": ["lead@search.example.com"],
    "research": ["ana@research.example.com", "bo@research.example.com"],
    "ops": ["ops@ops.example.com"],
    "unallocated": [],
}


@pytest.fixture
def warehouse(tmp_path):
    store = LocalObjectStore(tmp_path / "warehouse")
    publish_sample(store)
    return store


def plain_mailer(port: int):
    return mailer_for({"backend": "smtp", "sender": SENDER,
                         "smtp": {"host": HOST, "port": port, "security": "none"}})


def run(warehouse, mailer, **options):
    options.setdefault("finance_cc", FINANCE)
    return send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, sender=SENDER, **options)


def test_each_statement_arrives_once_with_exact_totals(warehouse):
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        results = run(warehouse, plain_mailer(server.port))
        assert [(r.cost_center, r.outcome, r.version) for r in results] == [
            ("ops", "sent", 1), ("research", "sent", 1), ("search", "sent", 1), ("unallocated", "sent", 1),
            ("finance", "sent", 1)]
        assert len(handler.messages) == 5
        totals = expected_totals()
        everything: dict[str, Decimal] = {}
        for by_currency in totals.values():
            for currency, amount in by_currency.items():
                everything[currency] = everything.get(currency, Decimal(0)) + amount
        for received in handler.messages:
            message = parse_message(received.data)
            center = message["X-Chargeback-Statement"].split("/")[0]
            assert received.mail_from == "chargeback@example.com"
            # owners get their statement, finance the finance statement (and what nobody owns), no copies
            assert sorted(received.rcpt_tos) == sorted(OWNERS.get(center) or list(FINANCE))
            check_statement(received.data, center, everything if center == "finance" else totals[center])
        research = next(message for message in map(parse_message, (m.data for m in handler.messages))
                        if message["X-Chargeback-Statement"].startswith("research/"))
        assert research["Content-Language"] == "zh-CN"
        assert "百炼模型费用" in str(research["Subject"])

        again = run(warehouse, plain_mailer(server.port))
        assert {r.outcome for r in again} == {"unchanged"}
        assert len(handler.messages) == 5  # a second run sends nothing

    ledger = load_ledger(warehouse, MONTH)
    assert [(e.cost_center, e.version, e.channel) for e in ledger.entries] == [
        ("ops", 1, "mail"), ("research", 1, "mail"), ("search", 1, "mail"), ("unallocated", 1, "mail"),
        ("finance", 1, "mail")]  # cost centers' statements, then the finance statement
    search = next(e for e in ledger.entries if e.cost_center == "search")
    assert search.totals == {"CNY": "17.3961333", "USD": "1.25"}
    assert search.sent_at == "2026-06-05T02:00:00+00:00"
    assert search.message_id == next(parse_message(m.data)["Message-ID"] for m in handler.messages
                                     if parse_message(m.data)["X-Chargeback-Statement"].startswith("search/"))
    assert search.to == ("lead@search.example.com",) and search.cc == ()
    assert search.message_id.startswith("<statement.2026-05.search.v1.")
    assert len(search.content_hash) == 64


def test_a_restated_month_sends_exactly_one_corrected_statement(warehouse):
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        run(warehouse, plain_mailer(server.port))
        assert len(handler.messages) == 5
        # A later bill restates May: one of search's qwen-max rows grows by 1.00.
        restated = [r if not (r["cost_center"] == "search" and r["billed_cost"] == Decimal("6.4"))
                    else row("2026-05-10", "7.4", api_key_id="2100002", model="qwen-max",
                             list_unit_price="0.0024", discount="1.6")
                    for r in may_rows()]
        publish_month(warehouse, MONTH, restated, status="final")

        results = run(warehouse, plain_mailer(server.port))
        assert [(r.cost_center, r.outcome, r.version) for r in results] == [
            ("ops", "unchanged", 1), ("research", "unchanged", 1), ("search", "corrected", 2),
            ("unallocated", "unchanged", 1), ("finance", "corrected", 2)]
        assert len(handler.messages) == 7
        corrected = handler.messages[-2]
        message = parse_message(corrected.data)
        assert str(message["Subject"]).startswith("Corrected: Search team")
        assert message["X-Chargeback-Statement"] == "search/2026-05/v2"
        text = text_of(message, "text/plain")
        assert "replaces version 1 sent on 2026-06-05T02:00:00+00:00" in text
        assert "Total CNY: 17.40 → 18.40 (+1.00)" in text
        assert "qwen-max (CNY): 8.70 → 9.70 (+1.00)" in text
        check_statement(corrected.data, "search", expected_totals(restated)["search"])

        assert {r.outcome for r in run(warehouse, plain_mailer(server.port))} == {"unchanged"}
        assert len(handler.messages) == 7
    versions = [(e.cost_center, e.version) for e in load_ledger(warehouse, MONTH).entries]
    assert versions.count(("search", 2)) == 1


def test_a_refused_recipient_is_named_and_the_others_still_go(warehouse, caplog):
    handler = RecordingHandler(refuse={"ops@ops.example.com"})
    with smtp_server(handler) as server:
        results = {r.cost_center: r for r in run(warehouse, plain_mailer(server.port), finance_cc=())}
        assert results["ops"].outcome == "failed"
        assert "ops@ops.example.com" in results["ops"].detail
        assert "ops@ops.example.com" in caplog.text
        assert results["research"].outcome == results["search"].outcome == "sent"
        assert results["unallocated"].outcome == "skipped"  # no owners and no finance cc: nobody to tell
        assert len(handler.messages) == 2
        assert load_ledger(warehouse, MONTH).latest("ops", "mail") is None

        handler.refuse.clear()  # the relay learns the address; the next run sends only what is missing
        retry = {r.cost_center: r.outcome for r in run(warehouse, plain_mailer(server.port), finance_cc=())}
        assert retry == {"ops": "sent", "research": "unchanged", "search": "unchanged",
                         "unallocated": "skipped", "finance": "skipped"}
        assert len(handler.messages) == 3


def test_a_partly_refused_message_counts_as_sent_and_names_the_refused(warehouse, caplog):
    handler = RecordingHandler(refuse={"bo@research.example.com"})
    with smtp_server(handler) as server:
        [result] = run(warehouse, plain_mailer(server.port), only="research")
        assert result.outcome == "sent"
        assert handler.messages[0].rcpt_tos == ["ana@research.example.com"]
        assert "bo@research.example.com" in caplog.text


class CrashingMailer:
    """Sends through ``inner`` until the ``crash_at``-th message, then fails as a process killed mid-run:
    before that message went out, or (``after_accept``) once the server took it, before the run could record
    it (the one window a mail server's answer and our record cannot close)."""

    channel = "mail"
    needs_recipients = True

    def __init__(self, inner, crash_at: int, *, after_accept: bool = False) -> None:
        self.inner, self.crash_at, self.after_accept, self.count = inner, crash_at, after_accept, 0

    def send(self, mail: OutgoingMail) -> str:
        self.count += 1
        if self.count == self.crash_at and not self.after_accept:
            raise KeyboardInterrupt("killed")
        delivery_id = str(self.inner.send(mail))
        if self.count == self.crash_at:
            raise KeyboardInterrupt("killed after the server accepted the message")
        return delivery_id


def test_a_run_stopped_half_way_does_not_resend_the_finished_ones(warehouse):
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        with pytest.raises(KeyboardInterrupt):
            run(warehouse, CrashingMailer(plain_mailer(server.port), crash_at=3))
        assert len(handler.messages) == 2
        resumed = {r.cost_center: r.outcome for r in run(warehouse, plain_mailer(server.port))}
        assert resumed == {"ops": "unchanged", "research": "unchanged", "search": "sent",
                           "unallocated": "sent", "finance": "sent"}
        assert len(handler.messages) == 5
        centers = [parse_message(m.data)["X-Chargeback-Statement"].split("/")[0] for m in handler.messages]
        assert sorted(centers) == ["finance", "ops", "research", "search", "unallocated"]


def test_dry_run_sends_and_records_nothing(warehouse):
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        results = run(warehouse, plain_mailer(server.port), dry_run=True)
        assert {r.outcome for r in results} == {"would_send"}
        assert handler.messages == []
    assert load_ledger(warehouse, MONTH).entries == []
    assert [info.key for info in warehouse.list("state/")] == []  # not even a lease


def test_only_one_cost_center_and_unknown_names(warehouse):
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        assert [r.cost_center for r in run(warehouse, plain_mailer(server.port), only="ops")] == ["ops"]
        assert len(handler.messages) == 1
        with pytest.raises(InputError, match="no statement 'nope'"):
            run(warehouse, plain_mailer(server.port), only="nope")
    with pytest.raises(InputError, match="2026-07 is not published"):
        send_statements(warehouse, "2026-07", sample_mapping(), plain_mailer(1), now=NOW)


def test_outbox_previews_do_not_count_as_mail(warehouse, tmp_path):
    outbox = OutboxMailer(LocalObjectStore(tmp_path / "outbox"))
    assert {r.outcome for r in run(warehouse, outbox)} == {"sent"}
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        assert {r.outcome for r in run(warehouse, plain_mailer(server.port))} == {"sent"}
    assert len(handler.messages) == 5
    assert {r.outcome for r in run(warehouse, outbox)} == {"unchanged"}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


# aiosmtpd cannot tell that an implicit-TLS session is encrypted and warns about AUTH without TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(("mode", "security"), [("starttls", "starttls"), ("ssl", "ssl")])
def test_tls_and_login_with_the_password_from_the_environment(warehouse, certificate, mode, security):
    handler = RecordingHandler()
    with smtp_server(handler, mode=mode, certificate=certificate,
                     users={"chargeback@example.com": "s3cret-pw"}) as server:
        config = {"backend": "smtp", "sender": SENDER,
                  "smtp": {"host": HOST, "port": server.port, "security": security,
                           "username": "chargeback@example.com", "password_env": "SMTP_PASSWORD",
                           "ca_file": str(server.ca_file)}}
        mailer = mailer_for(config, env={"SMTP_PASSWORD": "s3cret-pw"})
        [result] = run(warehouse, mailer, only="search")
        assert result.outcome == "sent", result.detail
        assert len(handler.messages) == 1
        check_statement(handler.messages[0].data, "search", expected_totals()["search"])

        wrong = mailer_for(config, env={"SMTP_PASSWORD": "wrong"})
        [failed] = run(warehouse, wrong, only="research")
        assert failed.outcome == "failed"
        assert "login as 'chargeback@example.com' failed" in failed.detail
        assert "wrong" not in failed.detail


def test_an_untrusted_certificate_is_refused(warehouse, certificate):
    handler = RecordingHandler()
    with smtp_server(handler, mode="ssl", certificate=certificate) as server:
        mailer = mailer_for({"backend": "smtp", "sender": SENDER,
                               "smtp": {"host": HOST, "port": server.port, "security": "ssl"}})
        [result] = run(warehouse, mailer, only="search")
    assert result.outcome == "failed"
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert handler.messages == []


def test_the_mailer_raises_delivery_error_naming_the_refused_address():
    handler = RecordingHandler(refuse={"gone@example.com"})
    with smtp_server(handler) as server:
        mail = OutgoingMail(subject="s", sender=SENDER, to=("gone@example.com",), text="t", name="m")
        with pytest.raises(DeliveryError) as caught:
            plain_mailer(server.port).send(mail)
    assert caught.value.addresses == ("gone@example.com",)
    assert "gone@example.com: 550" in str(caught.value)


def test_a_run_that_dies_after_the_server_accepted_resends_that_one_with_the_same_message_id(warehouse):
    handler = RecordingHandler()
    with smtp_server(handler) as server:
        with pytest.raises(KeyboardInterrupt):
            run(warehouse, CrashingMailer(plain_mailer(server.port), crash_at=2, after_accept=True))
        assert len(handler.messages) == 2
        resumed = {r.cost_center: r.outcome for r in run(warehouse, plain_mailer(server.port))}
        assert resumed == {"ops": "unchanged", "research": "sent", "search": "sent", "unallocated": "sent",
                           "finance": "sent"}
        ids = [parse_message(m.data)["Message-ID"] for m in handler.messages]
        assert len(ids) == 6 and len(set(ids)) == 5  # one resend, and it carries the first one's Message-ID
        research = [i for i in ids if ".research." in i]
        assert len(research) == 2 and research[0] == research[1]
        assert len(load_ledger(warehouse, MONTH).entries) == 5  # recorded once
        assert {r.outcome for r in run(warehouse, plain_mailer(server.port))} == {"unchanged"}
        assert len(handler.messages) == 6
