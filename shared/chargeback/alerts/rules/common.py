"""What every alert rule family shares: the data's coverage, exact sums, where an alert goes, subject names.

Pure functions of the loaded data, the date, the mapping and the settings (see ``chargeback.alerts.rules``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from chargeback.alerts.data import AlertData
from chargeback.alerts.model import Route
from chargeback.alerts.words import days_text, phrase
from chargeback.columns import UNALLOCATED
from chargeback.config.alerts import OWNERS, AlertSettings
from chargeback.config.file import ConfigFile as Mapping
from chargeback.months import month_of, previous_month

ZERO = Decimal(0)
HUNDRED = Decimal(100)
ONE_DAY = timedelta(days=1)

DIMENSION_COLUMNS: dict[str, str] = {
    "cost_center": "cost_center",
    "workspace": "workspace_id",
    "api_key": "api_key_id",
    "model": "model",
}


@dataclass(frozen=True)
class Coverage:
    """How far the data reaches: first and newest billing date present, and the last complete day."""

    first: date | None
    newest: date | None
    complete_through: date | None

    def describe(self, day: date) -> str:
        if self.newest is None:
            return phrase("coverage.none", day=day)
        values = {"newest": self.newest, "behind": days_text((day - self.newest).days), "day": day}
        if self.complete_through is None:
            return phrase("coverage.no_complete", **values)
        if self.complete_through == self.newest:
            return phrase("coverage.final", **values)
        return phrase("coverage.complete", **values, complete=self.complete_through)


def median(values: list[Decimal]) -> Decimal:
    """The exact median; the mean of the two middle values for an even count."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def sums(frame: pd.DataFrame, keys: Iterable[str]) -> dict[tuple[object, ...], Decimal]:
    """billed_cost summed exactly per combination of ``keys``."""
    totals: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)
    columns = [frame[k].tolist() for k in keys]
    for key, cost in zip(zip(*columns, strict=True), frame["billed_cost"].tolist(), strict=True):
        if cost is not None:
            totals[key] += cost
    return totals


def combined_rows(data: AlertData, day: date) -> pd.DataFrame:
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
    if month is not None and month.manifest.is_final:
        complete: date | None = newest
    else:
        complete = newest - ONE_DAY
    if complete is not None and complete < first:
        complete = None
    return Coverage(first, newest, complete)


def evaluated_months(data: AlertData, day: date, settings: AlertSettings) -> list[str]:
    """The month of ``day``, and the previous month while it may still change (open, or in the grace days)."""
    current = month_of(day)
    previous = previous_month(current)
    months = [current]
    manifest = data.months[previous].manifest if previous in data.months else None
    if manifest is not None and (not manifest.is_final or day.day <= settings.closing_grace_days):
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
                routes.append(Route(OWNERS, tuple(center.owners), center.locale))
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


def subject_name(kind: str, value: str, mapping: Mapping) -> str:
    if kind == "cost_center":
        return mapping.cost_center_name(value)
    if kind == "workspace":
        return mapping.workspace_labels.get(value, value) if value else "(no workspace)"
    if kind == "api_key":
        return f"API key {value}" if value else "console calls (no API key)"
    return value or "(unknown model)"


def main_owner(rows: pd.DataFrame) -> str | None:
    """The cost center that pays most of ``rows`` (None for 'unallocated' or no rows)."""
    totals = sums(rows, ["cost_center"])
    if not totals:
        return None
    key, _ = max(totals.items(), key=lambda item: (item[1], str(item[0][0])))
    center = str(key[0])
    return None if center in (UNALLOCATED, "") else center
