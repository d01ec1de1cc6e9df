"""Sending the month's statements, exactly once per subject and content.

Subjects: each cost center with allocation rows in the month (and each one a statement already went to),
each workspace when ``statements.per`` names workspaces, and one finance statement to the finance recipients.
For each, the job builds the statement, compares the content hash of its allocation rows with the delivery
ledger, and sends only what is new: a first statement (version 1) or a corrected one (version + 1) when a
later bill, mapping or price list changed the rows. The rows each version showed are kept
(``chargeback.reporting.content``) so the next correction can say what changed. The ledger entry is written
right after each successful send, so a run that stops half-way resumes without sending the finished ones
again. A failed send is reported and retried on the next run; the other statements still go. The clock is
not read here: ``now`` is an argument.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from chargeback.config.file import ConfigFile
from chargeback.config.resolve import DEFAULT_SENDER
from chargeback.delivery import DeliveryError, Mailer
from chargeback.errors import ChargebackError, InputError
from chargeback.money import format_decimal
from chargeback.months import check_month, previous_month
from chargeback.reporting.content import content_key, load_content, save_content
from chargeback.reporting.csvfile import statement_csv
from chargeback.reporting.finance import FINANCE, FinanceView, build_finance_statement
from chargeback.reporting.ledger import Ledger, LedgerEntry, load_ledger, save_ledger
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

Outcome = Literal["sent", "corrected", "unchanged", "would_send", "skipped", "failed"]
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


def channel_of(mailer: Mailer) -> str:
    """'outbox' or 'mail': what a send through ``mailer`` means for the ledger (a mailer that does not say
    is taken to deliver mail)."""
    return str(getattr(mailer, "channel", "mail"))


@dataclass(frozen=True)
class _Run:
    """What every statement of one run shares."""

    warehouse: ObjectStore
    month: str
    mapping: ConfigFile
    mailer: Mailer
    ledger: Ledger
    channel: str
    manifest: Manifest
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
) -> list[StatementResult]:
    """Send ``month``'s statements that were not sent yet through ``mailer``; one result per statement.

    ``dry_run`` builds and renders everything but sends and records nothing. ``only`` limits the run to one
    statement: a cost center, 'workspace:<id>' or 'finance' (InputError if the month has no such one). Owners
    receive their statement; ``finance_cc`` receives the finance statement (and a copy of every statement
    with ``statements.finance_copy``); a cost center without owners goes to finance alone, or is skipped when
    nobody is left and the mailer needs recipients. Raises InputError when the month is not published.
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
    run = _Run(warehouse, month, mapping, mailer, ledger, channel, manifest, allocations, previous, history,
               anomaly_marks(warehouse, month), now, dry_run, finance_cc, sender)
    results = [_one_statement(run, scope) for scope in scopes]
    if only in (None, FINANCE):
        results.append(_finance_statement(run))
    return results


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
    settings = run.mapping.statements
    previous_rows = None if last is None else load_content(run.warehouse, last.content_key)
    context = Context(top_n=settings.top_n, ledger_entry=last, previous_rows=previous_rows, history=run.history,
                      anomalies=run.anomalies, help_line=settings.help_line, grouping=settings.group_thousands)
    view = build_statement(run.allocations, run.previous, run.manifest, run.mapping, scope, context=context)
    to, cc = _recipients(run, scope.owners, fallback_to_finance=scope.kind == "cost_center")
    nobody = (f"{scope.key} has no owners and no finance cc is configured: nobody to send it to"
              if scope.kind == "cost_center" else
              f"{scope.key} has no owners (workspace_owners in the mapping): nobody to send it to")
    return _deliver(run, view, render_statement(view, grouping=settings.group_thousands), rows, to, cc,
                    scope.id, scope.kind, nobody)


def _finance_statement(run: _Run) -> StatementResult:
    last = run.ledger.latest(FINANCE, run.channel, FINANCE)
    rows = frame_rows(run.allocations)
    if last is not None and last.content_hash == allocation_hash(rows):
        return _unchanged(FINANCE, FINANCE, last, _row_totals(rows))
    settings = run.mapping.statements
    recipients = tuple(dict.fromkeys(run.finance_cc))
    view = build_finance_statement(run.allocations, run.manifest, run.mapping, locale=settings.locale,
                                   ledger_entry=last, recipients=recipients, help_line=settings.help_line,
                                   previous_rows=None if last is None else load_content(run.warehouse,
                                                                                          last.content_key))
    if not view.reconciled:
        log.warning("the finance statement of %s does not reconcile with the bill", run.month,
                    extra={"month": run.month, "lines": [(r.account, r.currency, format_decimal(r.difference))
                                                         for r in view.reconciliation if not r.equal]})
    return _deliver(run, view, render_finance(view, grouping=settings.group_thousands),
                    rows, recipients, (), FINANCE, FINANCE,
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
             to: tuple[str, ...], cc: tuple[str, ...], subject_id: str, kind: str, nobody: str) -> StatementResult:
    """Send one built statement (unless a dry run) and record it in the ledger."""
    key = view.cost_center
    totals = _totals(view)
    if not to and getattr(run.mailer, "needs_recipients", True):
        log.warning("%s", nobody, extra={"cost_center": key, "month": run.month})
        return StatementResult(key, "skipped", view.version, totals=totals, detail=nobody, kind=kind)
    csv_bytes = statement_csv(rows, run.mapping)
    mail = statement_mail(view, rendered, csv_bytes, sender=run.sender, to=to, cc=cc, now=run.now)
    corrected = view.restatement is not None
    if run.dry_run:
        return StatementResult(key, "would_send", view.version, to, cc, mail.name, totals,
                               "corrected statement" if corrected else "", kind=kind)
    kept = content_key(run.month, key, view.version)
    save_content(run.warehouse, kept, rows)  # before the send: the next correction compares with these rows
    try:
        delivery_id = run.mailer.send(mail)
    except DeliveryError as exc:
        log.error("statement %s not sent: %s", mail.name, exc,
                  extra={"cost_center": key, "month": run.month, "addresses": list(exc.addresses)})
        return StatementResult(key, "failed", view.version, to, cc, totals=totals, detail=str(exc), kind=kind)
    message_id = mail.headers["Message-ID"]
    run.ledger.entries.append(_entry(view, run.channel, to, cc, message_id, delivery_id, run.now, subject_id, kind,
                                     kept))
    save_ledger(run.warehouse, run.ledger)  # right away: a crash after this point never resends this one
    log.info("statement %s %s", mail.name, "corrected" if corrected else "sent",
             extra={"cost_center": key, "month": run.month, "version": view.version, "delivery_id": delivery_id})
    return StatementResult(key, "corrected" if corrected else "sent", view.version, to, cc, delivery_id, totals,
                           kind=kind)


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
