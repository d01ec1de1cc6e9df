"""Alerts as people read them: the notification every channel sends (the terminal's run table is the alert
command's)."""

from __future__ import annotations

from decimal import Decimal

from chargeback.alerts.channels import Notification, Reason
from chargeback.alerts.model import Alert, Route


def notification_for(alert: Alert, *, reason: Reason, sequence: int, day: str, route: Route,
                     previous_value: Decimal | None = None) -> Notification:
    lines = list(alert.reasons)
    if reason == "restated" and previous_value is not None:
        lines.insert(0, f"Restated: the bill data changed; the number is now {alert.shown(alert.value)} "
                        f"(was {alert.shown(previous_value)} when this alert was last sent).")
    footer = f"chargeback alerts · evaluated for {day} · alert {alert.alert_id}"
    payload = {
        "alert_id": alert.alert_id,
        "sequence": sequence,
        "reason": reason,
        "rule": alert.rule,
        "severity": alert.severity,
        "subject": {"kind": alert.subject.kind, "id": alert.subject.id, "name": alert.subject.name},
        "threshold": alert.threshold,
        "period": alert.period,
        "currency": alert.currency,
        "value": str(alert.value),
        "previous_value": None if previous_value is None else str(previous_value),
        "title": alert.title,
        "reasons": list(lines),
        "details": dict(alert.details),
        "evaluated_for": day,
    }
    return Notification(alert_id=alert.alert_id, sequence=sequence, reason=reason,
                        rule=alert.rule, severity=alert.severity, title=alert.title, lines=tuple(lines),
                        footer=footer, payload=payload, recipients=route.recipients)
