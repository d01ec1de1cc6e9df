"""The alert job: evaluate the rules for a date, decide against the stored state, deliver, record.

    run = run_alerts(store, date(2026, 5, 15), mapping, channels, now=now)

Stateless between runs (the state lives in the warehouse), so a scheduled function can run it; running the
same date twice sends nothing the second time. What goes out is chosen by ``chargeback.alerts.selection``
(the highest threshold crossed; nothing recorded for an alert without a channel) and sent by
``chargeback.alerts.dispatch`` (e-mail as one digest per recipient, each in the reader's language). Failed
deliveries are recorded and retried by the next run (up to ``alerts.delivery.max_runs`` runs);
``AlertRun.raise_for_failures`` lets the caller fail loudly, for failures and for undelivered alerts alike.

Delivering once: a run with something to send or clear takes the ``alert`` lease of the date's month and then
reads the state and plans again (a second run waits for the first, then finds everything sent). Each delivery
(an alert on a webhook, or one recipient's digest) is claimed as a done-once record before it goes, carrying a
key stable per content (the webhooks' ``Idempotency-Key`` header, the e-mails' Message-ID), and completed or
failed after it; a run that dies between the channel's answer and the record is followed by at most one resend
with the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping as MappingOf
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from chargeback.alerts.channels import Channel, DeliveryResult, Notification, Reason
from chargeback.alerts.data import load_alert_data
from chargeback.alerts.dispatch import Sending, dispatch, usable
from chargeback.alerts.model import AlertOutcome, AlertRun, Route
from chargeback.alerts.render import notification_for
from chargeback.alerts.rules import evaluate
from chargeback.alerts.selection import select
from chargeback.alerts.state import AlertLedger, Decision, plan
from chargeback.config.file import ConfigFile as Mapping
from chargeback.months import month_of
from chargeback.once import DEFAULT_LEASES, LeasePolicy, hold_lease
from chargeback.storage import ObjectStore

log = logging.getLogger("chargeback.alerts")


def route_locale(route: Route, mapping: Mapping) -> str:
    """The language of a route: its owners' cost center, else the channel's ``locale``, else the statements'."""
    channel = mapping.alerts.channels.get(route.channel)
    return route.locale or (channel.locale if channel is not None else None) or mapping.statements.locale


def _note(decision: Decision, route: Route, day: str, locale: str) -> Notification:
    alert = decision.alert
    assert alert is not None
    reason: Reason = "restated" if decision.action == "restated" else (
        "retry" if decision.action == "retry" else "new")
    previous = decision.previous_value if decision.action == "restated" else None
    return notification_for(alert, reason=reason, sequence=decision.sequence, day=day, route=route,
                            previous_value=previous, locale=locale)


def run_alerts(warehouse: ObjectStore, day: date, mapping: Mapping, channels: MappingOf[str, Channel], *,
               now: datetime, dry_run: bool = False, leases: LeasePolicy = DEFAULT_LEASES) -> AlertRun:
    """Evaluate every rule for ``day`` and send what is new; ``now`` ages the newest bill file.

    With ``dry_run`` nothing is sent and no state is written; the run still says what would be sent. A run
    with something to send, clear or supersede holds the ``alert`` lease of ``day``'s month (``leases``: how
    long it waits for another run's).
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    settings = mapping.alerts
    if not settings.enabled:
        disabled = "Alerts are disabled in the mapping (alerts.enabled: false)."
        return AlertRun(day, now, dry_run, (), (disabled,))
    data = load_alert_data(warehouse, day, settings)
    evaluation = evaluate(data, day=day, now=now, mapping=mapping, settings=settings)
    available = None if dry_run else [name for name in channels if usable(channels, name)]

    def decide(ledger: AlertLedger) -> list[Decision]:
        records = ledger.records()
        decisions = plan(evaluation, records, max_runs=settings.delivery.max_runs,
                         tolerance_percent=settings.anomaly.restate_tolerance_percent)
        return select(decisions, records, available)

    ledger = AlertLedger.load(warehouse, evaluation.state_months)
    decisions = decide(ledger)
    if dry_run or all(d.action in ("quiet", "undelivered") for d in decisions):
        return _act(day, mapping, ledger, decisions, channels, now=now, dry_run=dry_run, notes=evaluation.notes)
    with hold_lease(warehouse, "alert", month_of(day), leases):
        ledger = AlertLedger.load(warehouse, evaluation.state_months)  # another run may have sent meanwhile
        return _act(day, mapping, ledger, decide(ledger), channels, now=now, dry_run=dry_run,
                    notes=evaluation.notes)


def _act(day: date, mapping: Mapping, ledger: AlertLedger, decisions: list[Decision],
         channels: MappingOf[str, Channel], *, now: datetime, dry_run: bool, notes: tuple[str, ...]) -> AlertRun:
    """Carry the decisions out (deliver, record, clear, supersede) and say what happened."""
    records = ledger.records()
    iso_day = day.isoformat()
    sendings: list[Sending] = []
    missing: dict[str, tuple[str, ...]] = {}
    for decision in decisions:
        if decision.action not in ("new", "restated", "retry") or dry_run:
            continue
        routes = [r for r in decision.pending if usable(channels, r.channel)]
        missing[decision.alert_id] = tuple(r.channel for r in decision.pending if not usable(channels, r.channel))
        assert decision.alert is not None
        sendings += [Sending(decision.alert_id, r, route_locale(r, mapping), partial(_note, decision, r, iso_day),
                             decision.alert.state_month) for r in routes]
    results = dispatch(sendings, channels, digest=mapping.alerts.digest, day=iso_day,
                       deliver=partial(_deliver_once, ledger, month_of(day)))
    outcomes: list[AlertOutcome] = []
    for decision in decisions:
        alert = decision.alert
        described = records.get(decision.alert_id, {})
        common: dict[str, Any] = {
            "alert_id": decision.alert_id, "action": decision.action, "alert": alert,
            "sequence": decision.sequence, "title": decision.title, "planned": decision.pending,
            "previous_value": decision.previous_value,
            "rule": alert.rule if alert else described.get("rule", ""),
            "subject": alert.subject.label if alert else described.get("subject_label", ""),
            "period": alert.period if alert else described.get("period", ""),
        }
        if decision.action in ("quiet", "undelivered") or dry_run:
            if decision.action == "undelivered" and not dry_run:
                log.warning("alert undelivered: no channel", extra={
                    "alert_id": decision.alert_id, "rule": common["rule"], "subject": common["subject"]})
            outcomes.append(AlertOutcome(**common))
            continue
        if decision.action == "cleared":
            ledger.record_cleared(decision, now=now, day=iso_day)
            log.info("alert cleared", extra={"alert_id": decision.alert_id, "title": decision.title})
            outcomes.append(AlertOutcome(**common))
            continue
        if decision.action == "superseded":
            ledger.record_superseded(decision, now=now, day=iso_day)
            outcomes.append(AlertOutcome(**common))
            continue
        delivered: tuple[DeliveryResult, ...] = tuple(
            results[(decision.alert_id, r.channel)] for r in decision.pending
            if (decision.alert_id, r.channel) in results)
        for result in delivered:
            if result.status == "failed":
                log.warning("alert delivery failed", extra={
                    "alert_id": decision.alert_id, "rule": common["rule"], "channel": result.channel,
                    "attempts": result.attempts, "error": result.error})
        ledger.record_send(decision, delivered, now=now, day=iso_day)
        log.info("alert %s", decision.action, extra={
            "alert_id": decision.alert_id, "title": decision.title,
            "sent": [r.channel for r in delivered if r.status == "sent"],
            "failed": [r.channel for r in delivered if r.status == "failed"],
            "undelivered": list(missing.get(decision.alert_id, ()))})
        outcomes.append(AlertOutcome(**common, deliveries=delivered, undelivered=missing.get(decision.alert_id, ())))
    return AlertRun(day, now, dry_run, tuple(outcomes), notes)


def _deliver_once(ledger: AlertLedger, day_month: str, month: str | None, key: str,
                  send: Callable[[], DeliveryResult]) -> DeliveryResult | None:
    """``send()`` unless another run did or does: claim the delivery ``key`` among the records of ``month`` (an
    alert's state month; a digest's is the run's day's), send, then complete or fail the claim. None when
    another run is on it."""
    deliveries = ledger.deliveries(month or day_month)
    claim = deliveries.begin(key)
    if not claim.taken:
        if claim.record.status == "completed":  # delivered by a run that stopped before recording it
            done = claim.record.data["result"]
            return DeliveryResult(**{**done, "recipients": tuple(done["recipients"]), "errors": ()})
        log.warning("delivery %s is being made by another run (or one that died making it: it is made again "
                    "after %s)", key, claim.record.expires_at, extra={"delivery": key})
        return None
    try:
        result = send()
    except BaseException:
        deliveries.abandon(claim)  # delivered or not, nobody knows: the next run sends it again, same key
        raise
    outcome = {"result": {"channel": result.channel, "kind": result.kind, "status": result.status,
                          "attempts": result.attempts, "recipients": list(result.recipients),
                          "reference": result.reference}}
    if result.status == "sent":
        deliveries.complete(claim, outcome)
    else:
        deliveries.fail(claim, outcome)
    return result
