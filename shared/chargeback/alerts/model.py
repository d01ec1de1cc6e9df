"""What the rules produce: alerts with a stable identity, where they go, and what was evaluated.

An alert's identity is (rule, subject, currency, threshold, period). The same identity is never sent twice
for the same numbers; the period carries the re-arming (a budget alert of 2026-05 is not the one of 2026-06).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, get_args

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
