"""Alerts as people read them: the notification every channel sends, and the run table for the terminal."""

from __future__ import annotations

import shutil
import textwrap
from typing import TYPE_CHECKING, Any

from chargeback.alerts.channels import Notification, Reason
from chargeback.alerts.model import Alert, Route
from chargeback.alerts.text import money, number

if TYPE_CHECKING:
    from chargeback.alerts.job import AlertOutcome, AlertRun


def notification_for(alert: Alert, *, reason: Reason, sequence: int, day: str, route: Route,
                     previous_value: Any = None) -> Notification:
    lines = list(alert.reasons)
    if reason == "restated" and previous_value is not None:
        lines.insert(0, f"Restated: the bill data changed; the number is now {_value(alert, alert.value)} "
                        f"(was {_value(alert, previous_value)} when this alert was last sent).")
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


def _currency(alert: Alert) -> str:
    """The alert's currency, or the one its details name (new keys are one alert whatever the currency)."""
    return alert.currency or alert.details.get("currency", "")


def _value(alert: Alert, value: Any) -> str:
    currency = _currency(alert)
    return money(value, currency) if currency else number(value)


# -------------------------------------------------------------------- the run table

_COLUMNS = ("ACTION", "RULE", "SUBJECT", "THRESHOLD", "PERIOD", "VALUE", "SENT TO")


def _sent_to(outcome: AlertOutcome, dry_run: bool) -> str:
    if dry_run or not outcome.deliveries:
        return ", ".join(r.channel for r in outcome.planned) or "-"
    parts = []
    for result in outcome.deliveries:
        if result.status == "sent":
            tries = f" ({result.attempts} tries)" if result.attempts > 1 else ""
            parts.append(f"{result.channel} ok{tries}")
        else:
            parts.append(f"{result.channel} FAILED after {result.attempts}: {result.error}")
    return "; ".join(parts)


def _row(outcome: AlertOutcome, dry_run: bool) -> tuple[str, ...]:
    alert = outcome.alert
    action: str = outcome.action
    if dry_run:
        action = {"new": "would send", "restated": "would resend", "retry": "would retry"}.get(
            outcome.action, "would clear")
    if alert is None:
        return (action, outcome.rule, outcome.subject, "", outcome.period, "", "-")
    threshold = alert.threshold
    if alert.rule.startswith(("budget", "free_quota_used")):
        threshold = f"{alert.threshold}%"
    if alert.rule == "stale_data":
        threshold = f"{alert.threshold} h"
    elif alert.rule == "free_quota_expiring":
        threshold = f"{alert.threshold} d"
    currency = _currency(alert)
    value = money(alert.value, currency) if currency else number(alert.value)
    if alert.rule == "free_quota_used":
        value = f"{value}%"
    elif alert.rule == "stale_data":
        value = f"{value} h"
    return (action, alert.rule, alert.subject.label, threshold, alert.period, value,
            _sent_to(outcome, dry_run))


def format_table(run: AlertRun, width: int | None = None) -> str:
    """A plain-text table of what fired and why, with the data completeness and a summary."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    out = [f"Alerts for {run.day}" + (" (dry run: nothing sent, no state written)" if run.dry_run else "")]
    out += [f"  {note}" for note in run.notes]
    shown = [o for o in run.outcomes if o.action != "quiet"]
    if not shown:
        out.append("Nothing new to send.")
    else:
        rows = [_COLUMNS, *(_row(o, run.dry_run) for o in shown)]
        widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(_COLUMNS) - 1)]
        for index, row in enumerate(rows):
            cells = [cell if len(cell) <= w else cell[: w - 1] + "…"
                     for cell, w in zip(row, widths, strict=False)]
            out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + row[-1])
            if index == 0:
                out.append("  ".join("-" * w for w in widths) + "  " + "-" * len(_COLUMNS[-1]))
        out.append("")
        out.append("Why:")
        for outcome in shown:
            out.append(f"* {outcome.title}")
            if outcome.alert is not None:
                reasons = list(outcome.alert.reasons)
                if outcome.action == "restated" and outcome.previous_value is not None:
                    reasons.insert(0, f"Restated: was {_value(outcome.alert, outcome.previous_value)} when "
                                      "last sent.")
                for reason in reasons:
                    out.extend(textwrap.wrap(reason, width=max(width - 4, 40), initial_indent="    ",
                                             subsequent_indent="      "))
            else:
                out.append("    No longer holds after restated data; cleared.")
    sent = sum(1 for o in run.outcomes for d in o.deliveries if d.status == "sent")
    failed = sum(1 for o in run.outcomes for d in o.deliveries if d.status == "failed")
    quiet = sum(1 for o in run.outcomes if o.action == "quiet")
    out.append("")
    out.append(f"{len(shown)} to act on, {quiet} already sent (quiet); "
               f"deliveries: {sent} sent, {failed} failed.")
    return "\n".join(out) + "\n"
