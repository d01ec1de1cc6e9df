"""Alerts as people read them: the notification every channel sends, in the reader's language (the terminal's
run table is the alert command's)."""

from __future__ import annotations

from decimal import Decimal

from chargeback.alerts.channels import Notification, Reason
from chargeback.alerts.model import Alert, Route
from chargeback.alerts.words import localized, word


def notification_for(alert: Alert, *, reason: Reason, sequence: int, day: str, route: Route,
                     previous_value: Decimal | None = None, locale: str = "en") -> Notification:
    """The alert as ``route`` sends it, in ``locale``; the generic webhook's JSON stays in English."""
    lang = "zh" if locale == "zh" else "en"
    english = list(alert.reasons)
    lines = [localized(r, lang) for r in alert.reasons]
    if reason == "restated" and previous_value is not None:
        values = {"now": alert.shown(alert.value), "was": alert.shown(previous_value)}
        english.insert(0, word("restated", "en", **values))
        lines.insert(0, word("restated", lang, **values))
    footer = word("footer", lang, day=day, alert_id=alert.alert_id)
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
        "title": str(alert.title),
        "reasons": [str(r) for r in english],
        "details": dict(alert.details),
        "evaluated_for": day,
    }
    return Notification(alert_id=alert.alert_id, sequence=sequence, reason=reason,
                        rule=alert.rule, severity=alert.severity, title=localized(alert.title, lang),
                        lines=tuple(lines), footer=footer, payload=payload, recipients=route.recipients,
                        locale=lang, day=day)
