"""The alert rules: pure functions of the warehouse data, the date, the mapping and the settings.

Nothing here reads the clock, the environment or storage: ``day`` (the date the run is for) and ``now`` (for
the age of the newest bill file) are arguments. Money stays ``Decimal``; every money rule works per currency.

Data completeness: bills lag a day or more, and the newest billing date in the data is usually still partial.
A day counts as *complete* when a later billing date is present, or when its month's manifest is final.
Anomalies are only judged on complete days; forecasts use the run rate of complete days.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal

import pandas as pd

from chargeback.alerts.data import AlertData, Quota, month_of
from chargeback.alerts.model import Alert, Evaluation, Route, Severity, Subject
from chargeback.alerts.text import money, number, percent
from chargeback.columns import UNALLOCATED
from chargeback.config.alerts import OWNERS, AlertSettings, ExtraBudget
from chargeback.config.file import ConfigFile as Mapping
from chargeback.money import MONEY_SCALE
from chargeback.warehouse import layout

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAD_SCALE = Decimal("1.4826")  # MAD x 1.4826 estimates the standard deviation of normal data
ONE_DAY = timedelta(days=1)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)

DIMENSION_COLUMNS: dict[str, str] = {
    "cost_center": "cost_center",
    "workspace": "workspace_id",
    "api_key": "api_key_id",
    "model": "model",
}
CONTRIBUTOR_COLUMNS: tuple[str, ...] = ("model", "api_key_id", "io_type", "call_source")


# -------------------- helpers


@dataclass(frozen=True)
class Coverage:
    """How far the data reaches: first and newest billing date present, and the last complete day."""

    first: date | None
    newest: date | None
    complete_through: date | None

    def describe(self, day: date) -> str:
        if self.newest is None:
            return f"No billing data on or before {day}."
        behind = (day - self.newest).days
        days = "day" if behind == 1 else "days"
        text = f"Data through {self.newest} (newest billing date; {behind} {days} behind {day})"
        if self.complete_through is None:
            return text + "; no complete day yet."
        if self.complete_through == self.newest:
            return text + "; its month is final, so every day is complete."
        return text + f"; complete through {self.complete_through}."


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def median(values: list[Decimal]) -> Decimal:
    """The exact median; the mean of the two middle values for an even count."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _sums(frame: pd.DataFrame, keys: Iterable[str]) -> dict[tuple[object, ...], Decimal]:
    """billed_cost summed exactly per combination of ``keys``."""
    totals: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)
    columns = [frame[k].tolist() for k in keys]
    for key, cost in zip(zip(*columns, strict=True), frame["billed_cost"].tolist(), strict=True):
        if cost is not None:
            totals[key] += cost
    return totals


def _combined(data: AlertData, day: date) -> pd.DataFrame:
    """All loaded allocation rows up to ``day``, with a ``day`` column of dates."""
    frames = [m.allocations for m in data.months.values() if len(m.allocations)]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in (*DIMENSION_COLUMNS.values(), "day")})
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.loc[frame["billing_date"].astype(str) <= day.isoformat()].copy()
    frame["day"] = pd.Series([date.fromisoformat(str(s)) for s in frame["billing_date"]], index=frame.index,
                             dtype=object)
    frame["billed_cost"] = pd.Series([c if c is not None else ZERO for c in frame["billed_cost"]],
                                     index=frame.index, dtype=object)
    return frame


def coverage_of(frame: pd.DataFrame, data: AlertData) -> Coverage:
    if frame.empty:
        return Coverage(None, None, None)
    days = frame["day"].tolist()
    first, newest = min(days), max(days)
    month = data.months.get(month_of(newest))
    if month is not None and month.manifest.get("status") == "final":
        complete: date | None = newest
    else:
        complete = newest - ONE_DAY
    if complete is not None and complete < first:
        complete = None
    return Coverage(first, newest, complete)


def evaluated_months(data: AlertData, day: date, settings: AlertSettings) -> list[str]:
    """The month of ``day``, and the previous month while it may still change (open, or in the grace days)."""
    current = month_of(day)
    previous = layout.previous_month(current)
    months = [current]
    manifest = data.months[previous].manifest if previous in data.months else None
    if manifest is not None and (manifest.get("status") != "final" or day.day <= settings.closing_grace_days):
        months.insert(0, previous)
    return months


def routes_for(owner: str | None, mapping: Mapping, settings: AlertSettings, *,
               channels: list[str] | None = None, also_default: bool = False) -> tuple[Route, ...]:
    """Where an alert goes: explicit ``channels``, else the owner cost center's channels (default: e-mail to
    its owners), else ``alerts.default_channels``. ``owners`` without owners falls back to the defaults."""
    center = mapping.cost_centers.get(owner) if owner else None
    if channels is None:
        if center is not None:
            channels = center.channels if center.channels is not None else [OWNERS]
        else:
            channels = list(settings.default_channels)
    routes: list[Route] = []
    for name in channels:
        if name == OWNERS:
            if center is not None and center.owners:
                routes.append(Route(OWNERS, tuple(center.owners)))
            else:
                routes.extend(Route(n) for n in settings.default_channels)
        else:
            routes.append(Route(name))
    if also_default:
        routes.extend(Route(n) for n in settings.default_channels)
    unique: dict[str, Route] = {}
    for route in routes:
        unique.setdefault(route.channel, route)
    return tuple(unique.values())


def _subject_name(kind: str, value: str, mapping: Mapping) -> str:
    if kind == "cost_center":
        return mapping.cost_center_name(value)
    if kind == "workspace":
        return mapping.workspace_labels.get(value, value) if value else "(no workspace)"
    if kind == "api_key":
        return f"API key {value}" if value else "console calls (no API key)"
    return value or "(unknown model)"


def _main_owner(rows: pd.DataFrame) -> str | None:
    """The cost center that pays most of ``rows`` (None for 'unallocated' or no rows)."""
    totals = _sums(rows, ["cost_center"])
    if not totals:
        return None
    key, _ = max(totals.items(), key=lambda item: (item[1], str(item[0][0])))
    center = str(key[0])
    return None if center in (UNALLOCATED, "") else center


# -------------------- budgets


@dataclass(frozen=True)
class _BudgetSpec:
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
        return (f"Method: run rate {money(self.rate, currency)}/day over the {self.window_days} complete "
                f"days {self.window_start}..{self.window_end}, times {self.days_left} days left, plus "
                f"{money(self.to_date, currency)} spent through {self.window_end}.")


def forecast_month(series: dict[date, Decimal], month: str, coverage: Coverage, window_days: int,
                   min_complete_days: int) -> Forecast | None:
    """The month-end forecast of a daily series, or None when the month is complete or too few days are."""
    end = coverage.complete_through
    if end is None or coverage.first is None:
        return None
    month_start = _month_start(month)
    month_end = _month_end(month_start)
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


def _budget_specs(mapping: Mapping, settings: AlertSettings) -> list[_BudgetSpec]:
    specs: list[_BudgetSpec] = []
    for center_id, center in mapping.cost_centers.items():
        if center.budget is not None:
            specs.append(_BudgetSpec(
                Subject("cost_center", center_id, mapping.cost_center_name(center_id)), "cost_center",
                center.budget.monthly, tuple(sorted(set(center.budget.thresholds))), center.budget.currency,
                center_id, None))
    for extra in settings.budgets:
        kind, subject_id = extra.subject
        specs.append(_BudgetSpec(
            Subject(kind, subject_id, _subject_name(kind, subject_id, mapping)), DIMENSION_COLUMNS[kind],
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


def _budget_currency(spec: _BudgetSpec, rows: pd.DataFrame, data: AlertData, month: str,
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
    totals = data.months[month].manifest.get("totals") if month in data.months else None
    if isinstance(totals, dict) and len(totals) == 1:
        return str(next(iter(totals)))
    return None  # nothing spent and no currency to state it in: nothing to alert


def budget_alerts(frame: pd.DataFrame, data: AlertData, day: date, coverage: Coverage, mapping: Mapping,
                  settings: AlertSettings, notes: list[str]) -> list[Alert]:
    alerts: list[Alert] = []
    current = month_of(day)
    completeness = coverage.describe(day)
    for month in evaluated_months(data, day, settings):
        in_month = frame.loc[frame["billing_date"].astype(str).str.startswith(month)] if len(frame) else frame
        for spec in _budget_specs(mapping, settings):
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
                    threshold=number(threshold), currency=currency,
                    severity="critical" if threshold >= HUNDRED else "warning",
                    title=(f"Budget {number(threshold)}% reached: {spec.subject.name} spent "
                           f"{money(actual, currency)} of {money(spec.monthly, currency)} in {month}"),
                    reasons=(
                        f"Spend in {month} to date: {money(actual, currency)} = "
                        f"{percent(actual * HUNDRED / spec.monthly)} of the monthly budget "
                        f"{money(spec.monthly, currency)} (threshold {number(threshold)}%).",
                        completeness,
                    ),
                    routes=routes,
                    details={"budget": str(spec.monthly), "actual": str(actual), "basis": "actual"},
                ))
            if month != current or not settings.forecast.enabled:
                continue
            all_rows = frame.loc[(frame[spec.column] == spec.subject.id) & (frame["currency"] == currency)] \
                if len(frame) else frame
            series: dict[date, Decimal] = {k[0]: v for k, v in _sums(all_rows, ["day"]).items()}  # type: ignore[misc]
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
                    threshold=number(threshold), currency=currency, severity="warning",
                    title=(f"Budget {number(threshold)}% forecast: {spec.subject.name} heads for "
                           f"{money(projected, currency)} of {money(spec.monthly, currency)} in {month}"),
                    reasons=(
                        f"Forecast for the end of {month}: {money(projected, currency)} = "
                        f"{percent(projected * HUNDRED / spec.monthly)} of the monthly budget "
                        f"{money(spec.monthly, currency)} (threshold {number(threshold)}%); "
                        f"spent so far {money(actual, currency)}.",
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


# -------------------- anomalies


def anomaly_days(coverage: Coverage, settings: AlertSettings) -> list[date]:
    """The complete days judged this run: the last ``lookback_days`` with enough baseline before them."""
    s = settings.anomaly
    if coverage.complete_through is None or coverage.first is None:
        return []
    days = [coverage.complete_through - timedelta(days=i) for i in range(s.lookback_days)]
    return sorted(d for d in days if min(s.baseline_days, (d - coverage.first).days) >= s.min_baseline_days)


def _baseline_dates(d: date, first: date, baseline_days: int) -> list[date]:
    return [d - timedelta(days=i) for i in range(1, baseline_days + 1) if d - timedelta(days=i) >= first]


def _contributors(rows: pd.DataFrame, d: date, baseline: list[date], top: int, currency: str) -> list[str]:
    """The (model, key, io_type, call_source) combinations that rose most against their own median."""
    per_day = _sums(rows, [*CONTRIBUTOR_COLUMNS, "day"])
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
        lines.append(f"{model or '(unknown model)'} · key {api_key or 'console'} · {io_type or '-'} · "
                     f"{call_source or '-'}: {money(today, currency)} (usual {money(usual, currency)})")
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
        for (subject_id, currency, d), cost in _sums(window, [column, "currency", "day"]).items():
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
                    None if dimension == "model" else _main_owner(rows.loc[rows["day"] == d]))
                subject = Subject(dimension, subject_id, _subject_name(dimension, subject_id, mapping))
                ratio = (f"{(today / usual).quantize(Decimal('0.1'))}x the usual" if usual > 0
                         else "usually nothing")
                reasons = [
                    f"{d}: {money(today, currency)} against a median of {money(usual, currency)}/day over "
                    f"the {len(baseline)} days before (MAD {money(mad, currency)}); {ratio}.",
                    f"Fires above median + {number(s.k)} x 1.4826 x MAD = {money(usual + spread, currency)}, "
                    f"at least {money(s.min_amount, currency)} above the median and "
                    f"{number(s.min_ratio)}x it.",
                ]
                top = _contributors(rows, d, baseline, s.top_contributors, currency)
                if top:
                    reasons.append("Top contributors: " + "; ".join(top) + ".")
                severity: Severity = "critical" if usual > 0 and today >= usual * 5 else "warning"
                alerts.append(Alert(
                    rule="anomaly", subject=subject, period=d.isoformat(),
                    value=today, currency=currency, severity=severity,
                    title=(f"Cost anomaly: {subject.label} spent {money(today, currency)} on {d} "
                           f"(usual {money(usual, currency)}/day)"),
                    reasons=tuple(reasons),
                    routes=routes_for(owner, mapping, settings),
                    details={"median": str(usual), "mad": str(mad), "baseline_days": str(len(baseline)),
                             "contributors": " | ".join(top)},
                ))
    return alerts, evaluated


# -------------------- new keys


def new_subject_alerts(frame: pd.DataFrame, data: AlertData, day: date, mapping: Mapping,
                       settings: AlertSettings) -> list[Alert]:
    """API keys and workspaces in the month's bill that the mapping does not know.

    Every unknown API key is flagged (a new key is worth knowing even when its workspace's team pays for it).
    An unknown workspace is flagged only when some of its cost is not paid by a mapped key (console calls or
    unmapped keys: 'unallocated' or a shared pool); a workspace used only through mapped keys needs no action.
    Without a mapping file every workspace is its own cost center and no key is mapped by design, so nothing
    is flagged then.
    """
    s = settings.new_subjects
    if not s.enabled or frame.empty:
        return []
    alerts: list[Alert] = []
    kinds: list[tuple[str, str]] = []
    if s.api_keys and not mapping.is_default:
        kinds.append(("api_key", "api_key_id"))
    if s.workspaces and not mapping.is_default:
        kinds.append(("workspace", "workspace_id"))
    for month in evaluated_months(data, day, settings):
        in_month = frame.loc[frame["billing_date"].astype(str).str.startswith(month)]
        for kind, column in kinds:
            knows = mapping.knows_api_key if kind == "api_key" else mapping.knows_workspace
            unknown = sorted({str(v) for v in in_month[column].tolist() if v} - {""})
            for subject_id in unknown:
                if knows(subject_id):
                    continue
                rows = in_month.loc[in_month[column] == subject_id]
                if kind == "workspace" and set(rows["allocation_rule"].tolist()) <= {"api_key"}:
                    continue
                by_currency = {str(k[0]): v for k, v in _sums(rows, ["currency"]).items()}
                if max(by_currency.values(), default=ZERO) < s.min_amount:
                    continue
                currency, spent = max(by_currency.items(), key=lambda item: (item[1], item[0]))
                first_seen = min(rows["day"].tolist())
                spent_text = ", ".join(money(v, c) for c, v in sorted(by_currency.items()))
                reasons = [f"First seen {first_seen}; {spent_text} in {month} so far."]
                owner = None
                if kind == "api_key":
                    workspaces = sorted({str(w) for w in rows["workspace_id"].tolist()})
                    reasons.append(f"Workspace{'s' * (len(workspaces) > 1)}: {', '.join(workspaces)}.")
                    owners = {mapping.workspace_owner(w, first_seen) for w in workspaces} - {None}
                    owner = next(iter(owners)) if len(owners) == 1 else None
                reasons.append(_allocated_now(rows.loc[rows["currency"] == currency], currency))
                label = "API key" if kind == "api_key" else "workspace"
                alerts.append(Alert(
                    rule="new_api_key" if kind == "api_key" else "new_workspace",
                    subject=Subject(kind, subject_id, _subject_name(kind, subject_id, mapping)),
                    period=month, value=spent, severity="warning",
                    title=(f"New {label} {subject_id} is not in the mapping "
                           f"({money(spent, currency)} in {month})"),
                    reasons=tuple(reasons),
                    routes=routes_for(owner, mapping, settings, also_default=True),
                    details={"first_seen": first_seen.isoformat(), "currency": currency},
                ))
    return alerts


def _allocated_now(rows: pd.DataFrame, currency: str) -> str:
    """Where the rows' cost goes today: 'CNY 7.00 to search by workspace; CNY 3.00 in unallocated'."""
    parts = []
    for (center, rule), cost in sorted(_sums(rows, ["cost_center", "allocation_rule"]).items(),
                                       key=lambda item: (str(item[0][0]), str(item[0][1]))):
        if center == UNALLOCATED:
            parts.append(f"{money(cost, currency)} in 'unallocated'")
        elif rule in ("api_key", "workspace"):
            parts.append(f"{money(cost, currency)} to {center} by {str(rule).replace('_', ' ')}")
        else:
            parts.append(f"{money(cost, currency)} to {center} by the shared-cost rule {rule}")
    return "Allocated now: " + "; ".join(parts) + ". Add it to the mapping to decide who pays."


# -------------------- free quota

_UNITS: dict[str, tuple[str, Decimal]] = {
    "tokens": ("token", Decimal(1)),
    "token": ("token", Decimal(1)),
    "千tokens": ("token", Decimal(1000)),
    "千token": ("token", Decimal(1000)),
    "1ktokens": ("token", Decimal(1000)),
    "ktokens": ("token", Decimal(1000)),
    "thousandtokens": ("token", Decimal(1000)),
    "百万tokens": ("token", Decimal(1_000_000)),
    "1mtokens": ("token", Decimal(1_000_000)),
    "milliontokens": ("token", Decimal(1_000_000)),
    "张": ("image", Decimal(1)),
    "image": ("image", Decimal(1)),
    "images": ("image", Decimal(1)),
    "秒": ("second", Decimal(1)),
    "second": ("second", Decimal(1)),
    "seconds": ("second", Decimal(1)),
    "s": ("second", Decimal(1)),
}


def convert_usage(amount: Decimal, unit: str, to_unit: str) -> Decimal | None:
    """``amount`` of ``unit`` in ``to_unit`` (千tokens -> tokens x 1000); None when they do not convert."""
    if unit.strip() == to_unit.strip():
        return amount
    source = _UNITS.get("".join(unit.lower().split()))
    target = _UNITS.get("".join(to_unit.lower().split()))
    if source is None or target is None or source[0] != target[0]:
        return None
    return amount * source[1] / target[1]


def _quota_used(quota: Quota, rows: pd.DataFrame, day: date) -> tuple[Decimal | None, str]:
    if quota.used is not None:  # the manifests name the grant of every free-quota row: exact per grant
        return quota.used, ""
    start = quota.valid_from.date().isoformat()
    end = min(quota.valid_until.date() - ONE_DAY, day).isoformat()
    dates = rows["billing_date"].astype(str)
    mine = rows.loc[(rows["model"] == quota.model) & (dates >= start) & (dates <= end)]
    used = ZERO
    for amount, unit in zip(mine["deducted_usage"].tolist(), mine["usage_unit"].tolist(), strict=True):
        converted = convert_usage(amount if amount is not None else ZERO, str(unit or ""), quota.unit)
        if converted is None:
            return None, str(unit)
        used += converted
    return used, ""


def free_quota_alerts(data: AlertData, day: date, mapping: Mapping, settings: AlertSettings,
                      notes: list[str]) -> list[Alert]:
    s = settings.free_quota
    if not s.enabled:
        return []
    alerts: list[Alert] = []
    routes = routes_for(None, mapping, settings)
    for quota in data.quotas:
        expires = quota.valid_until.date()
        if quota.valid_from.date() > day or expires <= day:
            continue
        if not quota.unit:
            notes.append(f"Free quota of {quota.model} ({quota.window}) has no unit; not evaluated.")
            continue
        used, bad_unit = _quota_used(quota, data.quota_rows, day)
        if used is None:
            notes.append(f"Free quota of {quota.model} ({quota.window}) is in {quota.unit!r} but the bill "
                         f"counts {bad_unit!r}; not evaluated.")
            continue
        used_pct = used * HUNDRED / quota.total
        remaining = max(quota.total - used, ZERO)
        subject = Subject("model", quota.model, quota.model)
        usage = (f"{number(used)} of {number(quota.total)} {quota.unit} used ({percent(used_pct)}), "
                 f"valid {quota.valid_from:%Y-%m-%d %H:%M} until {quota.valid_until:%Y-%m-%d %H:%M} "
                 f"(from {quota.source}).")
        for threshold in sorted(set(s.used_percent)):
            if used_pct >= threshold:
                alerts.append(Alert(
                    rule="free_quota_used", subject=subject, period=quota.window, value=used_pct,
                    threshold=number(threshold), severity="critical" if used_pct >= HUNDRED else "warning",
                    title=(f"Free quota of {quota.model} {percent(used_pct)} used "
                           f"(threshold {number(threshold)}%)"),
                    reasons=(usage, "Once it is used up, calls are billed (or stop, for keys with the "
                                    "free-quota-only flag)."),
                    routes=routes, details={"used": str(used), "total": str(quota.total), "unit": quota.unit},
                ))
        days_left = (expires - day).days
        if days_left <= s.expiring_within_days and remaining > 0:
            alerts.append(Alert(
                rule="free_quota_expiring", subject=subject, period=quota.window, value=remaining,
                threshold=str(s.expiring_within_days), severity="info",
                title=(f"Free quota of {quota.model} expires {quota.valid_until:%Y-%m-%d %H:%M} "
                       f"(in {days_left} days) with {percent(HUNDRED - used_pct)} unused"),
                reasons=(usage, f"{number(remaining)} {quota.unit} left; unused quota is lost at expiry."),
                routes=routes, details={"used": str(used), "total": str(quota.total), "unit": quota.unit,
                                        "days_left": str(days_left)},
            ))
    return alerts


# -------------------- stale data


def _aware(moment: datetime, zone: tzinfo = UTC) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def stale_alerts(data: AlertData, day: date, now: datetime, mapping: Mapping, settings: AlertSettings,
                 notes: list[str]) -> list[Alert]:
    """No new bill file for longer than ``stale_after_hours``: one alert per newest file (per episode).

    The age is taken at ``now``, or at the end of ``day`` when ``day`` is in the past (a re-run for an old
    date asks whether the bills were stale then, not today). A ``newest_source_time`` without an offset is
    read at ``bill_time_offset_hours`` (UTC+8 by default: the bill's own file times are China time), and so is
    ``day``; a naive ``now`` is UTC.
    """
    limit = settings.stale_after_hours
    bill_zone = timezone(timedelta(hours=settings.bill_time_offset_hours))
    routes = routes_for(None, mapping, settings)
    subject = Subject("warehouse", "bills", "bill files")
    newest: datetime | None = None
    for month in data.months.values():
        raw = month.manifest.get("newest_source_time")
        if not raw:
            continue
        try:
            moment = _aware(datetime.fromisoformat(str(raw)), bill_zone)
        except ValueError:
            notes.append(f"manifest {month.month}: newest_source_time {raw!r} is not ISO-8601; ignored.")
            continue
        newest = moment if newest is None or moment > newest else newest
    if newest is None:
        searched = ", ".join(sorted(data.months)) or "none published"
        return [Alert(
            rule="stale_data", subject=subject, period=month_of(day), value=ZERO, threshold=number(limit),
            severity="critical", title=f"No bill file found for {month_of(day)} or the months before it",
            reasons=(f"No manifest with a newest_source_time among the months read ({searched}).",
                     "Check the bill subscription to object storage and the ingest job."),
            routes=routes,
        )]
    as_of = min(_aware(now), datetime.combine(day + ONE_DAY, time(), bill_zone))
    age_hours = (Decimal((as_of - newest).total_seconds()) / 3600).quantize(Decimal("0.1"))
    if age_hours <= limit:
        return []
    newest_text = newest.astimezone(UTC).isoformat()
    return [Alert(
        rule="stale_data", subject=subject, period=newest_text, value=age_hours, threshold=number(limit),
        severity="critical",
        title=(f"Bills are stale: the newest bill file is {number(age_hours)} hours old "
               f"(limit {number(limit)})"),
        reasons=(f"Newest bill file time {newest_text}; checked as of {as_of.astimezone(UTC).isoformat()}.",
                 "Alibaba Cloud pushes a month-to-date file daily; check the bill subscription and the "
                 "ingest job."),
        routes=routes, details={"newest_source_time": newest_text},
    )]


# -------------------- all rules


def evaluate(data: AlertData, *, day: date, now: datetime, mapping: Mapping,
             settings: AlertSettings) -> Evaluation:
    """Every rule for ``day``; ``now`` only ages the newest bill file."""
    notes: list[str] = list(data.notes)
    frame = _combined(data, day)
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
    alerts += stale_alerts(data, day, now, mapping, settings, notes)
    return Evaluation(day=day, alerts=tuple(alerts), evaluated=frozenset(evaluated), notes=tuple(notes),
                      data_through=coverage.newest, complete_through=coverage.complete_through)
