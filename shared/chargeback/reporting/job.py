"""Sending the month's statements, exactly once per cost center and content.

For each cost center with allocation rows in the month (and each one a statement already went to), the job
builds the statement, compares the content hash of its allocation rows with the delivery ledger, and sends
only what is new: a first statement (version 1) or a corrected one (version + 1) when a later bill restated
the month. A failed send is reported and retried on the next run; the other statements still go. The clock
is not read here: ``now`` is an argument.

Sending once (``_send_once``): before the first send the run takes the month's ``report`` lease (a second run
waits for the first, then finds everything sent); each statement version is claimed as a done-once record
with its Message-ID before it goes, and completed with its ledger entry as soon as the mail server (or the
outbox) took it. A run that dies between the server's accept and the record leaves the claim in progress; the
next run takes it over (at once on the same machine, else after the claim's expiry) and sends the statement
again with the same Message-ID: at most one resend, which mail systems that keep Message-IDs discard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import pandas as pd

from chargeback.allocation.prepaid import charged
from chargeback.config.file import ConfigFile
from chargeback.config.resolve import DEFAULT_SENDER
from chargeback.config.statements import StatementSettings
from chargeback.delivery import DeliveryError, Mailer, OutgoingMail
from chargeback.errors import InputError
from chargeback.money import format_decimal
from chargeback.months import check_month, previous_month
from chargeback.once import DEFAULT_LEASES, LeasePolicy, LeaseWhenNeeded, Record
from chargeback.redact import redact
from chargeback.reporting.csvfile import statement_csv
from chargeback.reporting.ledger import Ledger, LedgerEntry, entry_of, load_ledger, statement_key
from chargeback.reporting.mail import statement_mail
from chargeback.reporting.render import render_statement
from chargeback.reporting.view import StatementView, build_statement, cost_center_rows, model_totals
from chargeback.storage import ObjectStore
from chargeback.warehouse.manifest import Manifest, read_manifest
from chargeback.warehouse.read import read_allocations

log = logging.getLogger(__name__)

Outcome = Literal["sent", "corrected", "unchanged", "would_send", "skipped", "busy", "failed"]


@dataclass(frozen=True)
class StatementResult:
    """What happened to one cost center's statement in this run."""

    cost_center: str
    outcome: Outcome
    version: int
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    delivery_id: str = ""  # what the mailer returned (outbox path, message id); the earlier one if unchanged
    totals: tuple[tuple[str, str], ...] = ()  # (currency, exact amount)
    detail: str = ""

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
    """Send ``month``'s statements that were not sent yet through ``mailer``; one result per cost center.

    ``dry_run`` builds and renders everything but sends and records nothing. ``only`` limits the run to one
    cost center (InputError if the month has no such cost center). Owners of a cost center receive it, with
    ``finance_cc`` in copy; a cost center without owners goes to finance alone, or is skipped when nobody is
    left and the mailer needs recipients. Raises InputError when the month is not published. A run with
    something to send holds the month's ``report`` lease (``leases``: how long it waits for another run's).
    """
    check_month(month)
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    manifest = read_manifest(warehouse, month)
    if manifest is None:
        raise InputError(f"month {month} is not published in {warehouse.url} (no manifest)", field="month")
    allocations = read_allocations(warehouse, month, manifest)  # the rows this manifest names, checked
    if allocations is None:
        raise InputError(f"month {month} has a manifest but no allocation table in {warehouse.url}")
    _check_totals(allocations, manifest, month)
    previous = read_allocations(warehouse, previous_month(month))
    settings = mapping.statements
    ledger = load_ledger(warehouse, month)
    channel = channel_of(mailer)

    centers = set(allocations["cost_center"].astype(str).unique()) | ledger.cost_centers(channel)
    if only is not None:
        if only not in centers:
            raise InputError(f"no cost center {only!r} in {month}; there are: {', '.join(sorted(centers))}",
                             field="only")
        centers = {only}

    # what statements charge: the billed cost, or under `prepaid: {charge_basis: effective}` the effective cost
    # (the attached rows keep both, as published)
    basis = mapping.prepaid.charge_basis
    charged_now, charged_before = charged(allocations, basis), None if previous is None else charged(previous, basis)
    results = []
    with LeaseWhenNeeded(warehouse, "report", month, leases) as lease:
        for center_id in sorted(centers):
            result = _one_statement(lease, month, mapping, mailer, ledger, settings, charged_now, charged_before,
                                    manifest, center_id, now=now, dry_run=dry_run, finance_cc=finance_cc,
                                    sender=sender, attachment=allocations)
            results.append(result)
    return results


def _one_statement(
    lease: LeaseWhenNeeded, month: str, mapping: ConfigFile, mailer: Mailer, ledger: Ledger,
    settings: StatementSettings, allocations: pd.DataFrame, previous: pd.DataFrame | None,
    manifest: Manifest, center_id: str, *, now: datetime, dry_run: bool,
    finance_cc: tuple[str, ...], sender: str, attachment: pd.DataFrame,
) -> StatementResult:
    channel = channel_of(mailer)
    last = ledger.latest(center_id, channel)
    center = mapping.cost_centers.get(center_id)
    locale = (center.locale if center and center.locale else None) or settings.locale
    view = build_statement(allocations, previous, manifest, mapping, center_id, top_n=settings.top_n,
                           locale=locale, ledger_entry=last)
    totals = tuple((currency, format_decimal(amount)) for currency, amount in view.totals.items())
    if last is not None and last.content_hash == view.content_hash:
        return StatementResult(center_id, "unchanged", last.version, last.to, last.cc, last.delivery_id,
                               totals)

    if not dry_run and lease.lease is None:  # the first statement to send: one report run at a time from here on
        lease.hold()
        ledger.reload()  # what another run sent while this one waited for the lease
        return _one_statement(lease, month, mapping, mailer, ledger, settings, allocations, previous, manifest,
                              center_id, now=now, dry_run=dry_run, finance_cc=finance_cc, sender=sender,
                              attachment=attachment)

    to = view.owners
    cc = tuple(a for a in dict.fromkeys(finance_cc) if a not in to)
    if not to:
        to, cc = cc, ()
    if not to and getattr(mailer, "needs_recipients", True):
        detail = f"{center_id} has no owners and no finance cc is configured: nobody to send it to"
        log.warning("%s", detail, extra={"cost_center": center_id, "month": month})
        return StatementResult(center_id, "skipped", view.version, totals=totals, detail=detail)

    rendered = render_statement(view, grouping=settings.group_thousands)
    csv_bytes = statement_csv(cost_center_rows(attachment, center_id), mapping)
    mail = statement_mail(view, rendered, csv_bytes, sender=sender, to=to, cc=cc, now=now)
    corrected = view.restatement is not None
    if dry_run:
        return StatementResult(center_id, "would_send", view.version, to, cc, mail.name, totals,
                               "corrected statement" if corrected else "")
    lease.hold()  # still held (LeaseLostError if this run lost it)
    return _send_once(ledger, mailer, mail, view, to, cc, totals, now=now)


def _send_once(ledger: Ledger, mailer: Mailer, mail: OutgoingMail, view: StatementView, to: tuple[str, ...],
               cc: tuple[str, ...], totals: tuple[tuple[str, str], ...], *, now: datetime) -> StatementResult:
    """Send ``mail`` unless its version was sent (or is being sent) by another run: claim, send, record."""
    assert ledger.records is not None
    center_id, month, channel = view.cost_center, view.month, channel_of(mailer)
    message_id = mail.headers["Message-ID"]
    claim = ledger.records.begin(statement_key(center_id, channel, view.version),
                                 {"message_id": message_id, "content_hash": view.content_hash})
    if not claim.taken:
        return _done_elsewhere(view, claim.record, totals)
    if claim.previous is not None and claim.previous.status == "in_progress":
        log.warning("statement %s: a run died while sending it; sending it again with the same Message-ID",
                    mail.name, extra={"cost_center": center_id, "month": month, "message_id": message_id})
    corrected = view.restatement is not None
    try:
        delivery_id = mailer.send(mail)
    except DeliveryError as exc:
        ledger.records.fail(claim, {"error": redact(str(exc))})  # the next run tries again
        log.error("statement %s not sent: %s", mail.name, exc,
                  extra={"cost_center": center_id, "month": month, "addresses": list(exc.addresses)})
        return StatementResult(center_id, "failed", view.version, to, cc, totals=totals, detail=str(exc))
    except BaseException:
        ledger.records.abandon(claim)  # sent or not, nobody knows: the next run sends it again, same Message-ID
        raise
    entry = _entry(view, channel, to, cc, message_id, delivery_id, now)
    ledger.records.complete(claim, {"entry": entry.to_json()})  # right away: a later crash never resends it
    ledger.entries.append(entry)
    log.info("statement %s %s", mail.name, "corrected" if corrected else "sent",
             extra={"cost_center": center_id, "month": month, "version": view.version,
                    "delivery_id": delivery_id})
    return StatementResult(center_id, "corrected" if corrected else "sent", view.version, to, cc, delivery_id,
                           totals)


def _done_elsewhere(view: StatementView, record: Record, totals: tuple[tuple[str, str], ...]) -> StatementResult:
    """The result for a statement version another run claimed: sent by it, or still being sent."""
    if record.status == "completed":
        entry = entry_of(record)
        if entry.content_hash == view.content_hash:
            return StatementResult(view.cost_center, "unchanged", entry.version, entry.to, entry.cc,
                                   entry.delivery_id, totals, f"sent by another run at {entry.sent_at}")
        detail = (f"another run sent version {entry.version} with other rows at {entry.sent_at}: the next run "
                  "sends the correction")
    else:
        holder = record.holder.describe() if record.holder else "another run"
        until = record.expires_at.isoformat(timespec="seconds") if record.expires_at else "?"
        detail = (f"{holder} claimed it at {record.at.isoformat(timespec='seconds')} and is sending it, or died "
                  f"doing so; if it was not sent, the first run after {until} sends it")
    log.warning("statement of %s for %s: %s", view.cost_center, view.month, detail,
                extra={"cost_center": view.cost_center, "month": view.month})
    return StatementResult(view.cost_center, "busy", view.version, totals=totals, detail=detail)


def _entry(view: StatementView, channel: str, to: tuple[str, ...], cc: tuple[str, ...], message_id: str,
           delivery_id: str, now: datetime) -> LedgerEntry:
    return LedgerEntry(
        month=view.month,
        cost_center=view.cost_center,
        channel=channel,
        version=view.version,
        content_hash=view.content_hash,
        totals={currency: format_decimal(amount) for currency, amount in view.totals.items()},
        by_model=model_totals(view),
        status=view.status,
        to=to,
        cc=cc,
        message_id=message_id,
        delivery_id=delivery_id,
        sent_at=now.isoformat(timespec="seconds"),
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
