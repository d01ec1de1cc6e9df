"""Budget alerts: month-to-date spend against a monthly budget, and the month-end forecast (run rate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from chargeback.alerts.data import AlertData
from chargeback.alerts.model import Alert, Subject
from chargeback.alerts.rules.common import (
    DIMENSION_COLUMNS,
    HUNDRED,
    ONE_DAY,
    ZERO,
    Coverage,
    evaluated_months,
    routes_for,
    subject_name,
    sums,
)
from chargeback.config.alerts import AlertSettings, ExtraBudget
from chargeback.config.file import ConfigFile as Mapping
from chargeback.display import figure, rounded_money, rounded_percent
from chargeback.money import MONEY_SCALE
from chargeback.months import first_day, last_day, month_of

_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


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


@dataclass(frozen=True)
class Forecast:
    """Month-end spend = spend through the last complete day + run rate x the days left after it."""

    value: Decimal
    rate: Decimal
    window_start: date
    window_end: date
    window_days: int
    days_left: int
    to_date: Decimal

    def describe(self, currency: str) -> str:
        return (f"Method: run rate {rounded_money(self.rate, currency)}/day over the {self.window_days} complete "
                f"days {self.window_start}..{self.window_end}, times {self.days_left} days left, plus "
                f"{rounded_money(self.to_date, currency)} spent through {self.window_end}.")


def forecast_month(series: dict[date, Decimal], month: str, coverage: Coverage, window_days: int,
                   min_complete_days: int) -> Forecast | None:
    """The month-end forecast of a daily series, or None when the month is complete or too few days are."""
    end = coverage.complete_through
    if end is None or coverage.first is None:
        return None
    month_start = first_day(month)
    month_end = last_day(month)
    if end >= month_end or end < month_start - ONE_DAY:
        return None
    start = max(end - timedelta(days=window_days - 1), coverage.first)
    days = (end - start).days + 1
    if days < min_complete_days:
        return None
    window_total = sum((series.get(start + timedelta(days=i), ZERO) for i in range(days)), ZERO)
    rate = window_total / days
    to_date = sum((v for d, v in series.items() if month_start <= d <= end), ZERO)
    days_left = (month_end - end).days
    value = (to_date + rate * days_left).quantize(_QUANTUM)
    return Forecast(value, rate.quantize(_QUANTUM), start, end, days, days_left, to_date)


def budget_specs(mapping: Mapping, settings: AlertSettings) -> list[BudgetSpec]:
    specs: list[BudgetSpec] = []
    for center_id, center in mapping.cost_centers.items():
        if center.budget is not None:
            specs.append(BudgetSpec(
                Subject("cost_center", center_id, mapping.cost_center_name(center_id)), "cost_center",
                center.budget.monthly, tuple(sorted(set(center.budget.thresholds))), center.budget.currency,
                center_id, None))
    for extra in settings.budgets:
        kind, subject_id = extra.subject
        specs.append(BudgetSpec(
            Subject(kind, subject_id, subject_name(kind, subject_id, mapping)), DIMENSION_COLUMNS[kind],
            extra.monthly, tuple(sorted(set(extra.thresholds))), extra.currency, _extra_owner(extra, mapping),
            extra.channels))
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
            rows = in_month.loc[in_month[spec.column] == spec.subject.id] if len(in_month) else in_month
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
                    title=(f"Budget {figure(threshold)}% reached: {spec.subject.name} spent "
                           f"{rounded_money(actual, currency)} of {rounded_money(spec.monthly, currency)} in {month}"),
                    reasons=(
                        f"Spend in {month} to date: {rounded_money(actual, currency)} = "
                        f"{rounded_percent(actual * HUNDRED / spec.monthly)} of the monthly budget "
                        f"{rounded_money(spec.monthly, currency)} (threshold {figure(threshold)}%).",
                        completeness,
                    ),
                    routes=routes,
                    details={"budget": str(spec.monthly), "actual": str(actual), "basis": "actual"},
                ))
            if month != current or not settings.forecast.enabled:
                continue
            all_rows = frame.loc[(frame[spec.column] == spec.subject.id) & (frame["currency"] == currency)] \
                if len(frame) else frame
            series: dict[date, Decimal] = {k[0]: v for k, v in sums(all_rows, ["day"]).items()}  # type: ignore[misc]
            forecast = forecast_month(series, month, coverage, settings.forecast.window_days,
                                      settings.forecast.min_complete_days)
            if forecast is None:
                continue
            projected = max(forecast.value, actual)
            for threshold in spec.thresholds:
                if threshold in crossed or projected * HUNDRED < spec.monthly * threshold:
                    continue
                alerts.append(Alert(
                    rule="budget_forecast", subject=spec.subject, period=month, value=projected,
                    threshold=figure(threshold), currency=currency, severity="warning",
                    title=(f"Budget {figure(threshold)}% forecast: {spec.subject.name} heads for "
                           f"{rounded_money(projected, currency)} of {rounded_money(spec.monthly, currency)} "
                           f"in {month}"),
                    reasons=(
                        f"Forecast for the end of {month}: {rounded_money(projected, currency)} = "
                        f"{rounded_percent(projected * HUNDRED / spec.monthly)} of the monthly budget "
                        f"{rounded_money(spec.monthly, currency)} (threshold {figure(threshold)}%); "
                        f"spent so far {rounded_money(actual, currency)}.",
                        forecast.describe(currency),
                        completeness,
                    ),
                    routes=routes,
                    details={"budget": str(spec.monthly), "actual": str(actual), "forecast": str(projected),
                             "basis": "forecast", "run_rate": str(forecast.rate),
                             "window": f"{forecast.window_start}..{forecast.window_end}",
                             "days_left": str(forecast.days_left)},
                ))
    return alerts
