"""The alert rules, one module per family, and ``evaluate``, which runs them all for a date.

The rules are pure functions of the warehouse data, the date, the mapping and the settings: budgets and
forecasts (``budgets``), anomalies, new API keys and workspaces (``new_subjects``), free quota and stale data.

Nothing here reads the clock, the environment or storage: ``day`` (the date the run is for) and ``now`` (for
the age of the newest bill file) are arguments. Money stays ``Decimal``; every money rule works per currency.

Data completeness: bills lag a day or more, and the newest billing date in the data is usually still partial.
A day counts as *complete* when a later billing date is present, or when its month's manifest is final.
Anomalies are only judged on complete days; forecasts use the run rate of complete days.
"""

from __future__ import annotations

from datetime import date, datetime

from chargeback.alerts.data import AlertData
from chargeback.alerts.model import Alert, Evaluation
from chargeback.alerts.rules.anomalies import anomaly_alerts
from chargeback.alerts.rules.budgets import budget_alerts
from chargeback.alerts.rules.common import combined_rows, coverage_of
from chargeback.alerts.rules.free_quota import free_quota_alerts
from chargeback.alerts.rules.new_subjects import new_subject_alerts
from chargeback.alerts.rules.stale import stale_alerts
from chargeback.config.alerts import AlertSettings
from chargeback.config.file import ConfigFile as Mapping


def evaluate(data: AlertData, *, day: date, now: datetime, mapping: Mapping,
             settings: AlertSettings) -> Evaluation:
    """Every rule for ``day``; ``now`` only ages the newest bill file."""
    notes: list[str] = list(data.notes)
    frame = combined_rows(data, day)
    coverage = coverage_of(frame, data)
    notes.insert(0, coverage.describe(day))
    alerts: list[Alert] = []
    evaluated: set[tuple[str, str]] = set()
    if not frame.empty:
        alerts += budget_alerts(frame, data, day, coverage, mapping, settings, notes)
        found, evaluated = anomaly_alerts(frame, coverage, mapping, settings)
        alerts += found
        alerts += new_subject_alerts(frame, data, day, mapping, settings)
    alerts += free_quota_alerts(data, day, mapping, settings, notes)
    alerts += stale_alerts(data, day, now, mapping, settings)
    return Evaluation(day=day, alerts=tuple(alerts), evaluated=frozenset(evaluated), notes=tuple(notes),
                      data_through=coverage.newest, complete_through=coverage.complete_through)
