"""Anomaly alerts: a complete day far above the median of the days before it, per cost center, workspace,
API key and model, naming the top contributors."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from chargeback.alerts.model import Alert, Severity, Subject
from chargeback.alerts.rules.common import (
    DIMENSION_COLUMNS,
    ZERO,
    Coverage,
    main_owner,
    median,
    routes_for,
    subject_name,
    sums,
)
from chargeback.alerts.words import Phrase, phrase
from chargeback.columns import UNALLOCATED
from chargeback.config.alerts import AlertSettings
from chargeback.config.file import ConfigFile as Mapping
from chargeback.display import figure, money

MAD_SCALE = Decimal("1.4826")  # MAD x 1.4826 estimates the standard deviation of normal data
CONTRIBUTOR_COLUMNS: tuple[str, ...] = ("model", "api_key_id", "io_type", "call_source")


def anomaly_days(coverage: Coverage, settings: AlertSettings) -> list[date]:
    """The complete days judged this run: the last ``lookback_days`` with enough baseline before them."""
    s = settings.anomaly
    if coverage.complete_through is None or coverage.first is None:
        return []
    days = [coverage.complete_through - timedelta(days=i) for i in range(s.lookback_days)]
    return sorted(d for d in days if min(s.baseline_days, (d - coverage.first).days) >= s.min_baseline_days)


def _baseline_dates(d: date, first: date, baseline_days: int) -> list[date]:
    return [d - timedelta(days=i) for i in range(1, baseline_days + 1) if d - timedelta(days=i) >= first]


def _contributors(rows: pd.DataFrame, d: date, baseline: list[date], top: int, currency: str) -> list[Phrase]:
    """The (model, key, io_type, call_source) combinations that rose most against their own median."""
    per_day = sums(rows, [*CONTRIBUTOR_COLUMNS, "day"])
    by_combo: dict[tuple[object, ...], dict[object, Decimal]] = defaultdict(dict)
    for key, cost in per_day.items():
        by_combo[key[:-1]][key[-1]] = cost
    ranked = []
    for combo, series in by_combo.items():
        today = series.get(d, ZERO)
        usual = median([series.get(b, ZERO) for b in baseline])
        ranked.append((today - usual, today, usual, combo))
    ranked.sort(key=lambda item: (-item[0], -item[1], [str(c) for c in item[3]]))
    lines = []
    for rise, today, usual, (model, api_key, io_type, call_source) in ranked[:top]:
        if rise <= 0:
            break
        lines.append(phrase("anomaly.contributor", model=model or "(unknown model)", key=api_key or "console",
                            usage=io_type or "-", source=call_source or "-", today=money(today, currency),
                            usual=money(usual, currency)))
    return lines


def anomaly_alerts(frame: pd.DataFrame, coverage: Coverage, mapping: Mapping,
                   settings: AlertSettings) -> tuple[list[Alert], set[tuple[str, str]]]:
    s = settings.anomaly
    days = anomaly_days(coverage, settings) if s.enabled else []
    if not days or coverage.first is None:
        return [], set()
    first = coverage.first
    evaluated = {("anomaly", d.isoformat()) for d in days}
    since = days[0] - timedelta(days=s.baseline_days)
    window = frame.loc[(frame["day"] >= since) & (frame["day"] <= days[-1])]
    alerts: list[Alert] = []
    for dimension in s.dimensions:
        column = DIMENSION_COLUMNS[dimension]
        series: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
        for (subject_id, currency, d), cost in sums(window, [column, "currency", "day"]).items():
            series[(str(subject_id), str(currency))][d] = cost  # type: ignore[index]
        for (subject_id, currency), by_day in sorted(series.items()):
            for d in days:
                today = by_day.get(d, ZERO)
                baseline = _baseline_dates(d, first, s.baseline_days)
                values = [by_day.get(b, ZERO) for b in baseline]
                usual = median(values)
                mad = median([abs(v - usual) for v in values])
                spread = s.k * MAD_SCALE * mad
                excess = today - usual
                if not (excess >= s.min_amount and excess > spread and today >= usual * s.min_ratio):
                    continue
                rows = window.loc[(window[column] == subject_id) & (window["currency"] == currency)]
                owner = subject_id if dimension == "cost_center" and subject_id != UNALLOCATED else (
                    None if dimension == "model" else main_owner(rows.loc[rows["day"] == d]))
                subject = Subject(dimension, subject_id, subject_name(dimension, subject_id, mapping))
                ratio = (phrase("anomaly.ratio", ratio=(today / usual).quantize(Decimal("0.1"))) if usual > 0
                         else phrase("anomaly.usually_nothing"))
                reasons = [
                    phrase("anomaly.reason", day=d, today=money(today, currency), usual=money(usual, currency),
                           count=len(baseline), mad=money(mad, currency), ratio=ratio),
                    phrase("anomaly.rule", k=figure(s.k), limit=money(usual + spread, currency),
                           min_amount=money(s.min_amount, currency), min_ratio=figure(s.min_ratio)),
                ]
                top = _contributors(rows, d, baseline, s.top_contributors, currency)
                if top:
                    reasons.append(phrase("anomaly.contributors", items=top))
                severity: Severity = "critical" if usual > 0 and today >= usual * 5 else "warning"
                alerts.append(Alert(
                    rule="anomaly", subject=subject, period=d.isoformat(),
                    value=today, currency=currency, severity=severity,
                    title=phrase("anomaly.title", subject=subject.label, today=money(today, currency), day=d,
                                 usual=money(usual, currency)),
                    reasons=tuple(reasons),
                    routes=routes_for(owner, mapping, settings),
                    details={"median": str(usual), "mad": str(mad), "baseline_days": str(len(baseline)),
                             "contributors": " | ".join(str(t) for t in top)},
                ))
    return alerts, evaluated
