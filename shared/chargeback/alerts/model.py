"""What the alerts produce: alerts with a stable identity, where they go, what was evaluated, and what a run
did with each one.

An alert's identity is (rule, subject, currency, threshold, period). The same identity is never sent twice
for the same numbers; the period carries the re-arming (a budget alert of 2026-05 is not the one of 2026-06).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from chargeback.alerts.channels import DeliveryResult
from chargeback.display import figure
from chargeback.errors import ChargebackError

Rule = Literal[
    "budget_actual",
    "budget_forecast",
    "anomaly",
    "new_api_key",
    "new_workspace",
    "free_quota_used",
    "free_quota_expiring",
    "stale_data",
]

RULES: tuple[Rule, ...] = get_args(Rule)

REFIRES_ON_CHANGE: frozenset[str] = frozenset({"anomaly"})
"""Rules whose alert is sent again (reason 'restated') when restated data changes the evaluated value."""

Severity = Literal["info", "warning", "critical"]

Action = Literal["new", "restated", "retry", "quiet", "cleared", "superseded", "undelivered"]
"""What a run decides for an alert: send it, send it again after restated data, retry failed channels, stay
quiet (already sent), clear it (it no longer holds), record it as superseded (a higher threshold of the same
rule and subject goes out instead), or report it undelivered (no channel to send it to: nothing recorded, so
it goes out once a channel exists)."""


@dataclass(frozen=True)
class Subject:
    """What an alert is about: kind is cost_center, workspace, api_key, model or warehouse."""

    kind: str
    id: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def label(self) -> str:
        """For people: 'cost center Search team', 'model qwen-max', 'API key 2100001'."""
        if self.kind in ("api_key", "warehouse"):
            return self.name
        return f"{self.kind.replace('_', ' ')} {self.name}"


@dataclass(frozen=True)
class Route:
    """One channel an alert goes to; ``recipients`` fill in e-mail channels without a fixed ``to``."""

    channel: str
    recipients: tuple[str, ...] = ()
    locale: str | None = None  # the owners' language (their cost center's locale), when the route knows it


@dataclass(frozen=True)
class Alert:
    """A rule whose condition holds for a subject and period, with the numbers that made it hold."""

    rule: Rule
    subject: Subject
    period: str  # starts with YYYY-MM: a month, a day, a quota window or a stale episode
    value: Decimal  # the evaluated number: spend, forecast, the day's cost, percent used, hours
    title: str
    reasons: tuple[str, ...]
    threshold: str = ""
    currency: str = ""
    severity: Severity = "warning"
    routes: tuple[Route, ...] = ()
    details: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return "|".join((self.rule, self.subject.ref, self.currency, self.threshold, self.period))

    @property
    def shown_currency(self) -> str:
        """The alert's currency, or the one its details name (new keys are one alert whatever the currency)."""
        return self.currency or self.details.get("currency", "")

    def shown(self, value: Decimal) -> str:
        """One of the alert's numbers as people read it: money in its currency, else the number."""
        return figure(value, self.shown_currency)

    @property
    def alert_id(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    @property
    def state_month(self) -> str:
        """The month whose state document keeps this alert: the month the period starts in."""
        return self.period[:7]


@dataclass(frozen=True)
class Evaluation:
    """Everything the rules found for one date.

    ``evaluated`` lists (rule, period) pairs examined in full: a fired alert of such a pair that no longer
    holds was restated away and is cleared. ``notes`` say how complete the data is and what was skipped.
    """

    day: date
    alerts: tuple[Alert, ...]
    evaluated: frozenset[tuple[str, str]]
    notes: tuple[str, ...]
    data_through: date | None
    complete_through: date | None

    @property
    def state_months(self) -> set[str]:
        return {a.state_month for a in self.alerts} | {period[:7] for _, period in self.evaluated}


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
    undelivered: tuple[str, ...] = ()  # routes without a channel in this run (nothing recorded for them)


@dataclass(frozen=True)
class AlertRun:
    """What one alert run evaluated, decided and delivered."""

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

    @property
    def undelivered(self) -> list[AlertOutcome]:
        """Alerts (or some of their routes) that had no channel to go to: reported, never recorded as sent."""
        return [o for o in self.outcomes if o.action == "undelivered" or o.undelivered]

    def undelivered_lines(self) -> list[str]:
        """One line per undelivered alert, naming its rule, subject and what is missing."""
        lines = []
        for outcome in self.undelivered:
            missing = ", ".join(outcome.undelivered) if outcome.undelivered else "no channel"
            lines.append(f"undelivered: {outcome.rule} for {outcome.subject} ({outcome.period}): {missing}; name a "
                         "channel in the cost center's channels or alerts.default_channels (it goes out once one "
                         "exists)")
        return lines

    def raise_for_failures(self) -> None:
        problems = []
        if self.failed:
            names = sorted({f"{d.channel} ({d.error})" for _, d in self.failed})
            problems.append(f"{len(self.failed)} alert deliveries failed and will be retried by the next run: "
                            f"{'; '.join(names)}")
        if self.undelivered:
            rules = sorted({o.rule for o in self.undelivered})
            problems.append(f"{len(self.undelivered)} alerts have no channel to go to (rules: {', '.join(rules)})")
        if problems:
            raise AlertDeliveryError("; ".join(problems))

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
                 "currency": o.alert.shown_currency if o.alert else "",
                 "reasons": list(o.alert.reasons) if o.alert else [],
                 "planned": [r.channel for r in o.planned],
                 "undelivered": list(o.undelivered) if o.action != "undelivered" else ["no channel"],
                 "deliveries": [{"channel": d.channel, "kind": d.kind, "status": d.status,
                                 "attempts": d.attempts, "errors": list(d.errors)} for d in o.deliveries]}
                for o in self.outcomes
            ],
        }
