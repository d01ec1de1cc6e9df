"""Sending the month's statements, exactly once per subject and content.

Subjects: each cost center with allocation rows in the month (and each one a statement already went to),
each workspace when ``statements.per`` names workspaces, and one finance statement to the finance recipients.
For each, the job builds the statement, compares the content hash of its allocation rows with the delivery
ledger, and sends only what is new: a first statement (version 1) or a corrected one (version + 1) when a
later bill, mapping or price list changed the rows. The rows each version showed are kept
(``chargeback.reporting.content``) so the next correction can say what changed. A failed send is reported
and retried on the next run; the other statements still go. The clock is not read here: ``now`` is an
argument. Statements charge what ``prepaid: {charge_basis}`` says (the billed or the effective cost); the
attached CSV keeps both, as published.

Sending once (``_send_once``): before the first send the run takes the month's ``report`` lease (a second run
waits for the first, then finds everything sent); each statement version is claimed as a done-once record
with its Message-ID before it goes, and completed with its ledger entry as soon as the mail server (or the
outbox) took it. A run that dies between the server's accept and the record leaves the claim in progress; the
next run takes it over (at once on the same machine, else after the claim's expiry) and sends the statement
again with the same Message-ID: at most one resend, which mail systems that keep Message-IDs discard.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from chargeback.allocation.prepaid import charged
from chargeback.config.file import ConfigFile
from chargeback.config.resolve import DEFAULT_SENDER
from chargeback.delivery import DeliveryError, Mailer, OutgoingMail
from chargeback.errors import ChargebackError, InputError
from chargeback.money import format_decimal
from chargeback.months import check_month, previous_month
from chargeback.once import DEFAULT_LEASES, LeasePolicy, LeaseWhenNeeded, Record
from chargeback.redact import redact
from chargeback.reporting.content import content_key, load_content, save_content
from chargeback.reporting.csvfile import statement_csv
from chargeback.reporting.finance import FINANCE, FinanceView, build_finance_statement
from chargeback.reporting.ledger import Ledger, LedgerEntry, entry_of, load_ledger, statement_key
from chargeback.reporting.mail import AnyStatement, statement_mail
from chargeback.reporting.render import RenderedStatement, render_finance, render_statement
from chargeback.reporting.view import (
    TREND_MONTHS,
    AnomalyMark,
    Context,
    Scope,
    allocation_hash,
    build_statement,
    cost_center_scope,
    frame_rows,
    model_totals,
    scope_rows,
    workspace_scope,
)
from chargeback.storage import ObjectStore
from chargeback.warehouse.manifest import Manifest, read_manifest
from chargeback.warehouse.read import read_allocation_sums, read_allocations

log = logging.getLogger(__name__)

Outcome = Literal["sent", "corrected", "unchanged", "would_send", "skipped", "busy", "failed"]
TREND_COLUMNS = ("cost_center", "workspace_id", "currency")


@dataclass(frozen=True)
class StatementResult:
    """What happened to one statement in this run; ``cost_center`` is the statement's key (a cost center,
    'workspace:<id>' or 'finance')."""

    cost_center: str
    outcome: Outcome
    version: int
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    delivery_id: str = ""  # what the mailer returned (outbox path, message id); the earlier one if unchanged
    totals: tuple[tuple[str, str], ...] = ()  # (currency, exact amount)
    detail: str = ""
    kind: str = "cost_center"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def busy(self) -> bool:
        """Another run is sending it now (or died sending it): the next run sends it, if that run did not."""
        return self.outcome == "busy"


def channel_of(mailer: Mailer) -> str:
    """'outbox' or 'mail': what a send through ``mailer`` means for the ledger (a mailer that does not say
    is taken to deliver mail)."""
    return str(getattr(mailer, "channel", "mail"))


@dataclass(frozen=True)
class _Run:
    """What every statement of one run shares. ``allocations`` and ``previous`` are the rows as statements
    charge them (``prepaid.charge_basis``), ``published`` the month's rows as published (for the attachment)."""

    warehouse: ObjectStore
    month: str
    mapping: ConfigFile
    mailer: Mailer
    ledger: Ledger
    lease: LeaseWhenNeeded
    channel: str
    manifest: Manifest
    published: pd.DataFrame
    allocations: pd.DataFrame
    previous: pd.DataFrame | None
    history: Mapping[str, pd.DataFrame | None]
    anomalies: Sequence[AnomalyMark]
    now: datetime
    dry_run: bool
    finance_cc: tuple[str, ...]
    sender: str


def send_statements(
    warehouse: ObjectStore,
    month: str,
    mapping: ConfigFile,
    mailer: Mailer,
    *,
    now: datetime,
    dry_run: bool = False,
    only: str | None = None,
    finance_cc: tuple[str, ...] = (),
    sender: str = DEFAULT_SENDER,
    leases: LeasePolicy = DEFAULT_LEASES,
) -> list[StatementResult]:
    """Send ``month``'s statements that were not sent yet through ``mailer``; one result per statement.

    ``dry_run`` builds and renders everything but sends and records nothing. ``only`` limits the run to one
    statement: a cost center, 'workspace:<id>' or 'finance' (InputError if the month has no such one). Owners
    receive their statement; ``finance_cc`` receives the finance statement (and a copy of every statement
    with ``statements.finance_copy``); a cost center without owners goes to finance alone, or is skipped when
    nobody is left and the mailer needs recipients. Raises InputError when the month is not published. A run
    with something to send holds the month's ``report`` lease (``leases``: how long it waits for another run's).
    """
    check_month(month)
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    manifest = read_manifest(warehouse, month)
    if manifest is None:
        raise InputError(f"month {month} is not published in {warehouse.url} (no manifest)", field="month")
    allocations = read_allocations(warehouse, month)
    if allocations is None:
        raise InputError(f"month {month} has a manifest but no allocation table in {warehouse.url}")
    _check_totals(allocations, manifest, month)
    ledger = load_ledger(warehouse, month)
    channel = channel_of(mailer)
    scopes = _scopes(mapping, allocations, ledger, channel)
    keys = [s.key for s in scopes] + [FINANCE]
    if only is not None:
        if only not in keys:
            raise InputError(f"no statement {only!r} in {month}; there are: {', '.join(sorted(keys))}",
                             field="only")
        scopes = [s for s in scopes if s.key == only]
    previous = read_allocations(warehouse, previous_month(month))
    earlier = [previous_month(month)]
    while len(earlier) < TREND_MONTHS - 1:
        earlier.append(previous_month(earlier[-1]))
    history = {m: read_allocation_sums(warehouse, m, TREND_COLUMNS) for m in earlier[1:]}
    basis = mapping.prepaid.charge_basis
    with LeaseWhenNeeded(warehouse, "report", month, leases) as lease:
        run = _Run(warehouse, month, mapping, mailer, ledger, lease, channel, manifest, allocations,
                   charged(allocations, basis), None if previous is None else charged(previous, basis), history,
                   anomaly_marks(warehouse, month), now, dry_run, finance_cc, sender)
        results = [_one_statement(run, scope) for scope in scopes]
        if only in (None, FINANCE):
            results.append(_finance_statement(run))
    return results


def _must_wait(run: _Run) -> bool:
    """True the first time this run is about to send: it has taken the month's report lease and read the ledger
    again (another run may have sent meanwhile), so the caller decides once more."""
    if run.dry_run or run.lease.lease is not None:
        return False
    run.lease.hold()
    run.ledger.reload()
    return True


def _scopes(mapping: ConfigFile, allocations: pd.DataFrame, ledger: Ledger, channel: str) -> list[Scope]:
    """Every statement of the month but the finance one, in a stable order."""
    settings = mapping.statements
    scopes = []
    if "cost_center" in settings.per:
        centers = set(allocations["cost_center"].astype(str).unique()) | ledger.cost_centers(channel)
        scopes += [cost_center_scope(mapping, c, settings.locale) for c in sorted(centers)]
    if "workspace" in settings.per:
        workspaces = {w for w in allocations["workspace_id"].astype(str).unique() if w}
        workspaces |= ledger.cost_centers(channel, "workspace")
        scopes += [workspace_scope(mapping, w, settings.locale) for w in sorted(workspaces)]
    return scopes


def anomaly_marks(warehouse: ObjectStore, month: str) -> list[AnomalyMark]:
    """The days of ``month`` that anomaly alerts fired for, from the alert state (none if it cannot be read)."""
    from chargeback.alerts.state import AlertLedger  # the alert state: read only, for the marks on the charts

    try:
        records = AlertLedger.load(warehouse, [month]).records()
    except ChargebackError as exc:
        log.warning("the alert state of %s cannot be read, so no anomaly days are marked: %s", month, exc,
                    extra={"month": month})
        return []
    marks = []
    for record in records.values():
        period = str(record.get("period", ""))
        if record.get("rule") == "anomaly" and record.get("status") == "firing" and period.startswith(month):
            marks.append(AnomalyMark(str(record.get("subject", "")), period[:10], str(record.get("currency", ""))))
    return sorted(marks, key=lambda m: (m.day, m.subject))


def _recipients(run: _Run, owners: tuple[str, ...], *, fallback_to_finance: bool) -> tuple[tuple[str, ...],
                                                                                           tuple[str, ...]]:
    finance = tuple(dict.fromkeys(run.finance_cc))
    to = owners
    cc = tuple(a for a in finance if a not in to) if run.mapping.statements.finance_copy else ()
    if not to and fallback_to_finance:
        to, cc = finance, ()
    return to, cc


def _one_statement(run: _Run, scope: Scope) -> StatementResult:
    last = run.ledger.latest(scope.id, run.channel, scope.kind)
    rows = scope_rows(run.allocations, scope)
    if last is not None and last.content_hash == allocation_hash(rows):
        return _unchanged(scope.key, scope.kind, last, _row_totals(rows))
    if _must_wait(run):
        return _one_statement(run, scope)
    settings = run.mapping.statements
    previous_rows = None if last is None else load_content(run.warehouse, last.content_key)
    context = Context(top_n=settings.top_n, ledger_entry=last, previous_rows=previous_rows, history=run.history,
                      anomalies=run.anomalies, help_line=settings.help_line, grouping=settings.group_thousands)
    view = build_statement(run.allocations, run.previous, run.manifest, run.mapping, scope, context=context)
    to, cc = _recipients(run, scope.owners, fallback_to_finance=scope.kind == "cost_center")
    nobody = (f"{scope.key} has no owners and no finance cc is configured: nobody to send it to"
              if scope.kind == "cost_center" else
              f"{scope.key} has no owners (workspace_owners in the mapping): nobody to send it to")
    return _deliver(run, view, render_statement(view, grouping=settings.group_thousands), rows,
                    scope_rows(run.published, scope), to, cc, scope.id, scope.kind, nobody)


def _finance_statement(run: _Run) -> StatementResult:
    """The finance statement: the month as published (billed cost), reconciled with the bill."""
    last = run.ledger.latest(FINANCE, run.channel, FINANCE)
    rows = frame_rows(run.published)
    if last is not None and last.content_hash == allocation_hash(rows):
        return _unchanged(FINANCE, FINANCE, last, _row_totals(rows))
    if _must_wait(run):
        return _finance_statement(run)
    settings = run.mapping.statements
    recipients = tuple(dict.fromkeys(run.finance_cc))
    view = build_finance_statement(run.published, run.manifest, run.mapping, locale=settings.locale,
                                   ledger_entry=last, recipients=recipients, help_line=settings.help_line,
                                   previous_rows=None if last is None else load_content(run.warehouse,
                                                                                          last.content_key))
    if not view.reconciled:
        log.warning("the finance statement of %s does not reconcile with the bill", run.month,
                    extra={"month": run.month, "lines": [(r.account, r.currency, format_decimal(r.difference))
                                                         for r in view.reconciliation if not r.equal]})
    return _deliver(run, view, render_finance(view, grouping=settings.group_thousands),
                    rows, rows, recipients, (), FINANCE, FINANCE,
                    "no finance recipients (delivery.finance_cc or CHARGEBACK_FINANCE_CC): nobody to send it to")


def _unchanged(key: str, kind: str, last: LedgerEntry,
               totals: tuple[tuple[str, str], ...]) -> StatementResult:
    return StatementResult(key, "unchanged", last.version, last.to, last.cc, last.delivery_id, totals, kind=kind)


def _totals(view: AnyStatement) -> tuple[tuple[str, str], ...]:
    return tuple((currency, format_decimal(amount)) for currency, amount in view.totals.items())


def _row_totals(rows: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    found: dict[str, Decimal] = {}
    for row in rows:
        found[row["currency"]] = found.get(row["currency"], Decimal(0)) + row["billed_cost"]
    return tuple((currency, format_decimal(amount)) for currency, amount in sorted(found.items()))


def _deliver(run: _Run, view: AnyStatement, rendered: RenderedStatement, rows: list[dict[str, Any]],
             attached: list[dict[str, Any]], to: tuple[str, ...], cc: tuple[str, ...], subject_id: str, kind: str,
             nobody: str) -> StatementResult:
    """Send one built statement (unless a dry run), ``attached`` as its CSV, and record it in the ledger;
    ``rows`` are what it shows (kept for the next correction)."""
    key = view.cost_center
    totals = _totals(view)
    if not to and getattr(run.mailer, "needs_recipients", True):
        log.warning("%s", nobody, extra={"cost_center": key, "month": run.month})
        return StatementResult(key, "skipped", view.version, totals=totals, detail=nobody, kind=kind)
    csv_bytes = statement_csv(attached, run.mapping)
    mail = statement_mail(view, rendered, csv_bytes, sender=run.sender, to=to, cc=cc, now=run.now)
    corrected = view.restatement is not None
    if run.dry_run:
        return StatementResult(key, "would_send", view.version, to, cc, mail.name, totals,
                               "corrected statement" if corrected else "", kind=kind)
    run.lease.hold()  # still held (LeaseLostError if this run lost it)
    kept = content_key(run.month, key, view.version)
    save_content(run.warehouse, kept, rows)  # before the send: the next correction compares with these rows
    return _send_once(run, mail, view, to, cc, totals, subject_id, kind, kept)


def _send_once(run: _Run, mail: OutgoingMail, view: AnyStatement, to: tuple[str, ...], cc: tuple[str, ...],
               totals: tuple[tuple[str, str], ...], subject_id: str, kind: str, kept: str) -> StatementResult:
    """Send ``mail`` unless its version was sent (or is being sent) by another run: claim, send, record."""
    records = run.ledger.records
    assert records is not None
    key, month = view.cost_center, run.month
    message_id = mail.headers["Message-ID"]
    claim = records.begin(statement_key(kind, subject_id, run.channel, view.version),
                          {"message_id": message_id, "content_hash": view.content_hash})
    if not claim.taken:
        return _done_elsewhere(view, claim.record, totals, kind)
    if claim.previous is not None and claim.previous.status == "in_progress":
        log.warning("statement %s: a run died while sending it; sending it again with the same Message-ID",
                    mail.name, extra={"cost_center": key, "month": month, "message_id": message_id})
    corrected = view.restatement is not None
    try:
        delivery_id = run.mailer.send(mail)
    except DeliveryError as exc:
        records.fail(claim, {"error": redact(str(exc))})  # the next run tries again
        log.error("statement %s not sent: %s", mail.name, exc,
                  extra={"cost_center": key, "month": month, "addresses": list(exc.addresses)})
        return StatementResult(key, "failed", view.version, to, cc, totals=totals, detail=str(exc), kind=kind)
    except BaseException:
        records.abandon(claim)  # sent or not, nobody knows: the next run sends it again, same Message-ID
        raise
    entry = _entry(view, run.channel, to, cc, message_id, delivery_id, run.now, subject_id, kind, kept)
    records.complete(claim, {"entry": entry.to_json()})  # right away: a later crash never resends it
    run.ledger.entries.append(entry)
    log.info("statement %s %s", mail.name, "corrected" if corrected else "sent",
             extra={"cost_center": key, "month": month, "version": view.version, "delivery_id": delivery_id})
    return StatementResult(key, "corrected" if corrected else "sent", view.version, to, cc, delivery_id, totals,
                           kind=kind)


def _done_elsewhere(view: AnyStatement, record: Record, totals: tuple[tuple[str, str], ...],
                    kind: str) -> StatementResult:
    """The result for a statement version another run claimed: sent by it, or still being sent."""
    if record.status == "completed":
        entry = entry_of(record)
        if entry.content_hash == view.content_hash:
            return StatementResult(view.cost_center, "unchanged", entry.version, entry.to, entry.cc,
                                   entry.delivery_id, totals, f"sent by another run at {entry.sent_at}", kind=kind)
        detail = (f"another run sent version {entry.version} with other rows at {entry.sent_at}: the next run "
                  "sends the correction")
    else:
        holder = record.holder.describe() if record.holder else "another run"
        until = record.expires_at.isoformat(timespec="seconds") if record.expires_at else "?"
        detail = (f"{holder} claimed it at {record.at.isoformat(timespec='seconds')} and is sending it, or died "
                  f"doing so; if it was not sent, the first run after {until} sends it")
    log.warning("statement of %s for %s: %s", view.cost_center, view.month, detail,
                extra={"cost_center": view.cost_center, "month": view.month})
    return StatementResult(view.cost_center, "busy", view.version, totals=totals, detail=detail, kind=kind)


def _entry(view: AnyStatement, channel: str, to: tuple[str, ...], cc: tuple[str, ...], message_id: str,
           delivery_id: str, now: datetime, subject_id: str, kind: str, kept: str) -> LedgerEntry:
    by_model = model_totals(view) if not isinstance(view, FinanceView) else {}
    return LedgerEntry(
        month=view.month,
        cost_center=subject_id,
        channel=channel,
        version=view.version,
        content_hash=view.content_hash,
        totals={currency: format_decimal(amount) for currency, amount in view.totals.items()},
        by_model=by_model,
        status=view.status,
        to=to,
        cc=cc,
        message_id=message_id,
        delivery_id=delivery_id,
        sent_at=now.isoformat(timespec="seconds"),
        kind=kind,
        mapping_version=view.mapping_version,
        sources=dict(view.sources),
        content_key=kept,
    )


def _check_totals(allocations: pd.DataFrame, manifest: Manifest, month: str) -> None:
    """Warn when the allocation rows do not add up to the manifest's totals (the statements use the rows)."""
    expected = manifest.totals
    found: dict[str, Decimal] = {}
    for currency, amount in zip(allocations["currency"].astype(str), allocations["billed_cost"], strict=True):
        found[currency] = found.get(currency, Decimal(0)) + amount
    for currency in sorted(set(expected) | set(found)):
        allocated = found.get(currency, Decimal(0))
        said = expected.get(currency, Decimal(0))
        if said != allocated:
            log.warning("allocations of %s add up to %s %s, the manifest says %s", month,
                        format_decimal(allocated), currency, format_decimal(said),
                        extra={"month": month, "currency": currency})
