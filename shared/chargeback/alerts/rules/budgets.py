"""Budget alerts: month-to-date spend against a monthly budget, and the month-end forecast (run rate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from chargeback.alerts.data import AlertData
from chargeback.alerts.model import Alert, Subject
from chargeback.alerts.rules.common import (
    DIMENSION_COLUMNS,
    HUNDRED,
    ZERO,
    Coverage,
    evaluated_months,
    routes_for,
    subject_name,
    sums,
)
from chargeback.alerts.words import phrase
from chargeback.config.alerts import AlertSettings, ExtraBudget
from chargeback.config.file import ConfigFile as Mapping
from chargeback.display import figure, money, rounded_percent
from chargeback.forecast import Forecast, forecast_month
from chargeback.months import month_of


@dataclass(frozen=True)
class BudgetSpec:
    """One monthly budget of the mapping: on a cost center, or (alerts.budgets) a workspace or API key, whose
    spend is the billed cost of the rows whose ``column`` is the subject's id."""

    subject: Subject
    column: str
    monthly: Decimal
    thresholds: tuple[Decimal, ...]
    currency: str | None
    owner: str | None
    channels: list[str] | None
    ids: frozenset[str] = frozenset()  # the subject and, for a parent cost center, every cost center below it

    def rows(self, frame: pd.DataFrame) -> pd.Series:
        """Which rows of ``frame`` the budget counts (a parent's budget counts its children's spend)."""
        return frame[self.column].isin(self.ids or {self.subject.id})


def describe_forecast(forecast: Forecast, currency: str) -> str:
    return phrase("forecast.method", rate=money(forecast.rate, currency), days=forecast.window_days,
                  start=forecast.window_start, end=forecast.window_end, left=forecast.days_left,
                  to_date=money(forecast.to_date, currency))


def budget_specs(mapping: Mapping, settings: AlertSettings) -> list[BudgetSpec]:
    specs: list[BudgetSpec] = []
    for center_id, center in mapping.cost_centers.items():
        if center.budget is not None:
            specs.append(BudgetSpec(
                Subject("cost_center", center_id, mapping.cost_center_name(center_id)), "cost_center",
                center.budget.monthly, tuple(sorted(set(center.budget.thresholds))), center.budget.currency,
                center_id, None, mapping.subtree(center_id)))
    for extra in settings.budgets:
        kind, subject_id = extra.subject
        specs.append(BudgetSpec(
            Subject(kind, subject_id, subject_name(kind, subject_id, mapping)), DIMENSION_COLUMNS[kind],
            extra.monthly, tuple(sorted(set(extra.thresholds))), extra.currency, _extra_owner(extra, mapping),
            extra.channels, mapping.subtree(subject_id) if kind == "cost_center" else frozenset()))
    return specs


def _extra_owner(extra: ExtraBudget, mapping: Mapping) -> str | None:
    kind, subject_id = extra.subject
    if kind == "cost_center":
        return subject_id
    for center_id, center in mapping.cost_centers.items():
        assignments = center.api_keys if kind == "api_key" else center.workspaces
        if any(a.id == subject_id for a in assignments):
            return center_id
    return None


def _budget_currency(spec: BudgetSpec, rows: pd.DataFrame, data: AlertData, month: str,
                     notes: list[str]) -> str | None:
    if spec.currency:
        return spec.currency
    currencies = sorted({str(c) for c in rows["currency"].tolist() if c})
    if len(currencies) == 1:
        return currencies[0]
    if len(currencies) > 1:
        notes.append(f"Budget of {spec.subject.ref} not evaluated for {month}: the data has several "
                     f"currencies {currencies}; set budget.currency.")
        return None
    totals = data.months[month].manifest.totals if month in data.months else {}
    if len(totals) == 1:
        return next(iter(totals))
    return None  # nothing spent and no currency to state it in: nothing to alert


def budget_alerts(frame: pd.DataFrame, data: AlertData, day: date, coverage: Coverage, mapping: Mapping,
                  settings: AlertSettings, notes: list[str]) -> list[Alert]:
    alerts: list[Alert] = []
    current = month_of(day)
    completeness = coverage.describe(day)
    for month in evaluated_months(data, day, settings):
        in_month = frame.loc[frame["billing_date"].astype(str).str.startswith(month)] if len(frame) else frame
        for spec in budget_specs(mapping, settings):
            rows = in_month.loc[spec.rows(in_month)] if len(in_month) else in_month
            currency = _budget_currency(spec, rows, data, month, notes)
            if currency is None:
                continue
            rows = rows.loc[rows["currency"] == currency] if len(rows) else rows
            actual = sum(rows["billed_cost"].tolist(), ZERO)
            routes = routes_for(spec.owner, mapping, settings, channels=spec.channels)
            crossed = [t for t in spec.thresholds if actual * HUNDRED >= spec.monthly * t]
            for threshold in crossed:
                alerts.append(Alert(
                    rule="budget_actual", subject=spec.subject, period=month, value=actual,
                    threshold=figure(threshold), currency=currency,
                    severity="critical" if threshold >= HUNDRED else "warning",
                    title=phrase("budget.title", threshold=figure(threshold), name=spec.subject.name,
                                 actual=money(actual, currency), budget=money(spec.monthly, currency), month=month),
                    reasons=(
                        phrase("budget.reason", month=month, actual=money(actual, currency),
                               percent=rounded_percent(actual * HUNDRED / spec.monthly),
                               budget=money(spec.monthly, currency), threshold=figure(threshold)),
                        completeness,
                    ),
                    routes=routes,
                    details={"budget": str(spec.monthly), "actual": str(actual), "basis": "actual"},
                ))
            if month != current or not settings.forecast.enabled:
                continue
            all_rows = frame.loc[spec.rows(frame) & (frame["currency"] == currency)] \
                if len(frame) else frame
            series: dict[date, Decimal] = {k[0]: v for k, v in sums(all_rows, ["day"]).items()}  # type: ignore[misc]
            forecast = forecast_month(series, month, coverage.complete_through, coverage.first,
                                      settings.forecast.window_days, settings.forecast.min_complete_days)
            if forecast is None:
                continue
            projected = max(forecast.value, actual)
            for threshold in spec.thresholds:
                if threshold in crossed or projected * HUNDRED < spec.monthly * threshold:
                    continue
                alerts.append(Alert(
                    rule="budget_forecast", subject=spec.subject, period=month, value=projected,
                    threshold=figure(threshold), currency=currency, severity="warning",
                    title=phrase("forecast.title", threshold=figure(threshold), name=spec.subject.name,
                                 forecast=money(projected, currency), budget=money(spec.monthly, currency),
                                 month=month),
                    reasons=(
                        phrase("forecast.reason", month=month, forecast=money(projected, currency),
                               percent=rounded_percent(projected * HUNDRED / spec.monthly),
                               budget=money(spec.monthly, currency), threshold=figure(threshold),
                               actual=money(actual, currency)),
                        describe_forecast(forecast, currency),
                        completeness,
                    ),
                    routes=routes,
                    details={"budget": str(spec.monthly), "actual": str(actual), "forecast": str(projected),
                             "basis": "forecast", "run_rate": str(forecast.rate),
                             "window": f"{forecast.window_start}..{forecast.window_end}",
                             "days_left": str(forecast.days_left)},
                ))
    return alerts
