"""The alert job: evaluate the rules for a date, decide against the stored state, deliver, record.

    run = run_alerts(store, date(2026, 5, 15), mapping, channels, now=now)

Stateless between runs (the state lives in the warehouse), so a scheduled function can run it; running the
same date twice sends nothing the second time. Failed deliveries are recorded and retried by the next run
(up to ``alerts.delivery.max_runs`` runs); ``AlertRun.raise_for_failures`` lets the caller fail loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chargeback.alerts.channels import Channel, DeliveryResult, Reason
from chargeback.alerts.data import load_alert_data
from chargeback.alerts.model import Alert, Route
from chargeback.alerts.render import notification_for
from chargeback.alerts.rules import evaluate
from chargeback.alerts.state import Action, AlertLedger, Decision, plan
from chargeback.config.file import ConfigFile as Mapping
from chargeback.errors import ChargebackError
from chargeback.storage import ObjectStore

log = logging.getLogger("chargeback.alerts")


class AlertDeliveryError(ChargebackError):
    """Some alert deliveries failed after their retries; they are recorded and retried by the next run."""


@dataclass(frozen=True)
class AlertOutcome:
    """One alert's fate in this run."""

    alert_id: str
    action: Action
    alert: Alert | None
    sequence: int
    title: str
    planned: tuple[Route, ...] = ()
    deliveries: tuple[DeliveryResult, ...] = ()
    previous_value: Decimal | None = None
    rule: str = ""
    subject: str = ""
    period: str = ""


@dataclass(frozen=True)
class AlertRun:
    day: date
    now: datetime
    dry_run: bool
    outcomes: tuple[AlertOutcome, ...]
    notes: tuple[str, ...]

    @property
    def failed(self) -> list[tuple[AlertOutcome, DeliveryResult]]:
        return [(o, d) for o in self.outcomes for d in o.deliveries if d.status == "failed"]

    @property
    def sent(self) -> list[tuple[AlertOutcome, DeliveryResult]]:
        return [(o, d) for o in self.outcomes for d in o.deliveries if d.status == "sent"]

    def raise_for_failures(self) -> None:
        if self.failed:
            names = sorted({f"{d.channel} ({d.error})" for _, d in self.failed})
            raise AlertDeliveryError(f"{len(self.failed)} alert deliveries failed and will be retried by the "
                                     f"next run: {'; '.join(names)}")

    def summary(self) -> dict[str, Any]:
        """A JSON-ready account of the run (for logs and non-terminal output)."""
        return {
            "day": self.day.isoformat(),
            "dry_run": self.dry_run,
            "notes": list(self.notes),
            "alerts": [
                {"alert_id": o.alert_id, "action": o.action, "rule": o.rule, "subject": o.subject,
                 "period": o.period, "title": o.title,
                 "threshold": o.alert.threshold if o.alert else "",
                 "value": str(o.alert.value) if o.alert else "",
                 "currency": (o.alert.currency or o.alert.details.get("currency", "")) if o.alert else "",
                 "reasons": list(o.alert.reasons) if o.alert else [],
                 "planned": [r.channel for r in o.planned],
                 "deliveries": [{"channel": d.channel, "kind": d.kind, "status": d.status,
                                 "attempts": d.attempts, "errors": list(d.errors)} for d in o.deliveries]}
                for o in self.outcomes
            ],
        }


def _deliver(decision: Decision, channels: MappingOf[str, Channel], day: str) -> tuple[DeliveryResult, ...]:
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
        result = channel.send(note)
        if result.status == "failed":
            log.warning("alert delivery failed", extra={
                "alert_id": decision.alert_id, "rule": alert.rule, "channel": result.channel,
                "attempts": result.attempts, "error": result.error})
        results.append(result)
    return tuple(results)


def run_alerts(warehouse: ObjectStore, day: date, mapping: Mapping, channels: MappingOf[str, Channel], *,
               now: datetime, dry_run: bool = False) -> AlertRun:
    """Evaluate every rule for ``day`` and send what is new; ``now`` ages the newest bill file.

    With ``dry_run`` nothing is sent and no state is written; the run still says what would be sent.
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
        results = _deliver(decision, channels, iso_day)
        ledger.record_send(decision, results, now=now, day=iso_day)
        log.info("alert %s", decision.action, extra={
            "alert_id": decision.alert_id, "title": decision.title,
            "sent": [r.channel for r in results if r.status == "sent"],
            "failed": [r.channel for r in results if r.status == "failed"]})
        outcomes.append(AlertOutcome(**common, deliveries=results))
    return AlertRun(day, now, dry_run, tuple(outcomes), evaluation.notes)
