"""The alert job: evaluate the rules for a date, decide against the stored state, deliver, record.

    run = run_alerts(store, date(2026, 5, 15), mapping, channels, now=now)

Stateless between runs (the state lives in the warehouse), so a scheduled function can run it; running the
same date twice sends nothing the second time. Failed deliveries are recorded and retried by the next run
(up to ``alerts.delivery.max_runs`` runs); ``AlertRun.raise_for_failures`` lets the caller fail loudly.

Delivering once: a run with something to send or clear takes the ``alert`` lease of the date's month and then
reads the state and plans again (a second run waits for the first, then finds everything sent). Each delivery
is claimed as a done-once record before it goes, carrying a key stable per alert, sequence and channel (the
webhooks' ``Idempotency-Key`` header, the e-mails' Message-ID), and completed or failed after it; a run that
dies between the channel's answer and the record is followed by at most one resend with the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping as MappingOf
from datetime import UTC, date, datetime
from typing import Any

from chargeback.alerts.channels import Channel, DeliveryResult, Notification, Reason
from chargeback.alerts.data import load_alert_data
from chargeback.alerts.model import AlertOutcome, AlertRun
from chargeback.alerts.render import notification_for
from chargeback.alerts.rules import evaluate
from chargeback.alerts.state import AlertLedger, Decision, delivery_key, plan
from chargeback.config.file import ConfigFile as Mapping
from chargeback.months import month_of
from chargeback.once import DEFAULT_LEASES, LeasePolicy, RecordStore, hold_lease
from chargeback.storage import ObjectStore

log = logging.getLogger("chargeback.alerts")


def _deliver(decision: Decision, channels: MappingOf[str, Channel], day: str,
             deliveries: RecordStore) -> tuple[DeliveryResult, ...]:
    alert = decision.alert
    assert alert is not None
    reason: Reason = "restated" if decision.action == "restated" else (
        "retry" if decision.action == "retry" else "new")
    results = []
    for route in decision.pending:
        channel = channels.get(route.channel)
        if channel is None:
            results.append(DeliveryResult(route.channel, "unknown", "failed", 0,
                                          (f"channel {route.channel!r} is not available in this run",)))
            continue
        previous = decision.previous_value if decision.action == "restated" else None
        note = notification_for(alert, reason=reason, sequence=decision.sequence, day=day, route=route,
                                previous_value=previous)
        result = _deliver_once(deliveries, decision, channel, note)
        if result is None:
            continue
        if result.status == "failed":
            log.warning("alert delivery failed", extra={
                "alert_id": decision.alert_id, "rule": alert.rule, "channel": result.channel,
                "attempts": result.attempts, "error": result.error})
        results.append(result)
    return tuple(results)


def _deliver_once(deliveries: RecordStore, decision: Decision, channel: Channel,
                  note: Notification) -> DeliveryResult | None:
    """Deliver ``note`` on ``channel`` unless another run did or does; None when another run is on it."""
    claim = deliveries.begin(delivery_key(decision.alert_id, decision.sequence, channel.name))
    if not claim.taken:
        if claim.record.status == "completed":  # delivered by a run that stopped before recording it
            return DeliveryResult(**{**claim.record.data["result"], "recipients": tuple(
                claim.record.data["result"]["recipients"]), "errors": ()})
        log.warning("alert %s on %s is being delivered by another run (or one that died doing so: it is sent "
                    "again after %s)", decision.alert_id, channel.name, claim.record.expires_at,
                    extra={"alert_id": decision.alert_id, "channel": channel.name})
        return None
    try:
        result = channel.send(note)
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


def run_alerts(warehouse: ObjectStore, day: date, mapping: Mapping, channels: MappingOf[str, Channel], *,
               now: datetime, dry_run: bool = False, leases: LeasePolicy = DEFAULT_LEASES) -> AlertRun:
    """Evaluate every rule for ``day`` and send what is new; ``now`` ages the newest bill file.

    With ``dry_run`` nothing is sent and no state is written; the run still says what would be sent. A run
    with something to send or clear holds the ``alert`` lease of ``day``'s month (``leases``: how long it
    waits for another run's).
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    settings = mapping.alerts
    if not settings.enabled:
        disabled = "Alerts are disabled in the mapping (alerts.enabled: false)."
        return AlertRun(day, now, dry_run, (), (disabled,))
    data = load_alert_data(warehouse, day, settings)
    evaluation = evaluate(data, day=day, now=now, mapping=mapping, settings=settings)
    ledger = AlertLedger.load(warehouse, evaluation.state_months)
    decisions = plan(evaluation, ledger.records(), max_runs=settings.delivery.max_runs,
                     tolerance_percent=settings.anomaly.restate_tolerance_percent)
    if dry_run or all(d.action == "quiet" for d in decisions):
        return _act(day, ledger, decisions, channels, now=now, dry_run=dry_run, notes=evaluation.notes)
    with hold_lease(warehouse, "alert", month_of(day), leases):
        ledger = AlertLedger.load(warehouse, evaluation.state_months)  # another run may have sent meanwhile
        decisions = plan(evaluation, ledger.records(), max_runs=settings.delivery.max_runs,
                         tolerance_percent=settings.anomaly.restate_tolerance_percent)
        return _act(day, ledger, decisions, channels, now=now, dry_run=dry_run, notes=evaluation.notes)


def _act(day: date, ledger: AlertLedger, decisions: list[Decision],
         channels: MappingOf[str, Channel], *, now: datetime, dry_run: bool, notes: tuple[str, ...]) -> AlertRun:
    """Carry the decisions out (deliver, record, clear) and say what happened."""
    outcomes: list[AlertOutcome] = []
    iso_day = day.isoformat()
    records = ledger.records()
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
        if decision.action == "quiet" or dry_run:
            outcomes.append(AlertOutcome(**common))
            continue
        if decision.action == "cleared":
            ledger.record_cleared(decision, now=now, day=iso_day)
            log.info("alert cleared", extra={"alert_id": decision.alert_id, "title": decision.title})
            outcomes.append(AlertOutcome(**common))
            continue
        assert alert is not None
        results = _deliver(decision, channels, iso_day, ledger.deliveries(alert.state_month))
        ledger.record_send(decision, results, now=now, day=iso_day)
        log.info("alert %s", decision.action, extra={
            "alert_id": decision.alert_id, "title": decision.title,
            "sent": [r.channel for r in results if r.status == "sent"],
            "failed": [r.channel for r in results if r.status == "failed"]})
        outcomes.append(AlertOutcome(**common, deliveries=results))
    return AlertRun(day, now, dry_run, tuple(outcomes), notes)
