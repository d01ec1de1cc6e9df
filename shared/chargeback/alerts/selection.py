"""Which of the planned alerts people get: the highest threshold crossed, and only alerts with a channel.

``select`` is pure, applied to the decisions of ``chargeback.alerts.state.plan``:

- per rule, subject, currency and period, only the highest threshold crossed is sent: when 50%, 80% and 100%
  of a budget are all new in one run, 100% goes out and 50% and 80% are recorded as superseded (never sent
  later either); a threshold below one already sent is superseded as well;
- an alert to send with no route, or whose routes all lack a channel in this run, is undelivered: nothing is
  recorded, the run says so (and fails), and the alert goes out on the first run that has a channel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from chargeback.alerts.model import Route
from chargeback.alerts.state import Decision

THRESHOLD_RULES = frozenset({"budget_actual", "budget_forecast", "free_quota_used"})
SENDING = frozenset({"new", "restated", "retry"})


def _threshold(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def _group(decision: Decision) -> tuple[str, ...] | None:
    alert = decision.alert
    if alert is None or alert.rule not in THRESHOLD_RULES or _threshold(alert.threshold) is None:
        return None
    return (alert.rule, alert.subject.ref, alert.currency, alert.period)


def select(decisions: Iterable[Decision], records: Mapping[str, Mapping[str, Any]],
           available: Iterable[str] | None = None) -> list[Decision]:
    """The decisions with lower thresholds superseded and channel-less sends undelivered.

    ``records`` is the alert state by alert id; ``available`` the channels this run can send to (None: all).
    """
    decisions = list(decisions)
    highest: dict[tuple[str, ...], Decimal] = defaultdict(lambda: Decimal("-Infinity"))
    for decision in decisions:
        group = _group(decision)
        if group is not None and decision.action != "cleared" and decision.alert is not None:
            highest[group] = max(highest[group], _threshold(decision.alert.threshold) or Decimal(0))
    usable = None if available is None else set(available)
    selected = []
    for decision in decisions:
        group = _group(decision)
        record = records.get(decision.alert_id) or {}
        if record.get("status") == "superseded" and decision.action in ("retry", "quiet"):
            selected.append(replace(decision, action="quiet", pending=()))
            continue
        if (decision.action == "new" and group is not None and decision.alert is not None
                and (_threshold(decision.alert.threshold) or Decimal(0)) < highest[group]):
            selected.append(replace(decision, action="superseded", pending=()))
            continue
        if decision.action in SENDING:
            routes: tuple[Route, ...] = decision.pending
            if not routes or (usable is not None and not any(r.channel in usable for r in routes)):
                selected.append(replace(decision, action="undelivered"))
                continue
        selected.append(decision)
    return selected
