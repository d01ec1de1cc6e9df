"""The warehouse data the alert rules need for one date, read once and handed to pure rules.

Reads the month of the date and the two before it (baselines and run rates reach back across a month
boundary), their manifests, and for free quotas the free-quota lines of every month a quota window touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from chargeback.config.alerts import AlertSettings
from chargeback.errors import InputError
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.read import read_allocations, read_lines, read_manifest

REQUIRED_COLUMNS: tuple[str, ...] = (
    "billing_date",
    "currency",
    "billed_cost",
    "cost_center",
    "allocation_rule",
    "workspace_id",
    "api_key_id",
    "model",
    "io_type",
    "call_source",
    "fee_type",
    "deducted_usage",
    "usage_unit",
)
QUOTA_COLUMNS: tuple[str, ...] = ("billing_date", "model", "fee_type", "deducted_usage", "usage_unit")
FREE_QUOTA = "free_quota"


@dataclass(frozen=True)
class Quota:
    """A free quota of one model: ``total`` in ``unit``, valid from ``valid_from`` until ``valid_until``."""

    model: str
    total: Decimal
    unit: str
    valid_from: datetime
    valid_until: datetime
    source: str  # 'manifest YYYY-MM' or 'settings'
    used: Decimal | None = None  # from the manifests: what the grant's own rows used, all months summed

    @property
    def window(self) -> str:
        return f"{self.valid_from.date().isoformat()}..{self.valid_until.date().isoformat()}"


@dataclass(frozen=True)
class MonthData:
    month: str
    manifest: dict[str, Any]
    allocations: pd.DataFrame


@dataclass(frozen=True)
class AlertData:
    """Published months (oldest first), their allocations, and free-quota rows for the quota windows."""

    months: dict[str, MonthData]
    quota_rows: pd.DataFrame
    quotas: tuple[Quota, ...] = ()
    notes: tuple[str, ...] = field(default=())


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value).strip()).replace(tzinfo=None)


def _exact(value: Any) -> Decimal:
    text = str(value).strip()  # the bill writes totals like "1000000 " with a trailing space
    if isinstance(value, float) or not text:
        raise ValueError(f"not an exact number: {value!r}")
    return Decimal(text)


def collect_quotas(manifests: dict[str, dict[str, Any]],
                   settings: AlertSettings) -> tuple[list[Quota], list[str]]:
    """Free quotas from the manifests' optional ``free_quota`` lists (newest month first), then from settings
    for models no manifest names. A malformed manifest entry is skipped with a note, not fatal: budgets and
    the other rules must still run."""
    quotas: dict[tuple[str, str], Quota] = {}
    notes: list[str] = []
    for month in sorted(manifests, reverse=True):
        entries = manifests[month].get("free_quota") or []
        if not isinstance(entries, list):
            notes.append(f"manifest {month}: free_quota is not a list; ignored")
            continue
        for i, entry in enumerate(entries):
            try:
                quota = Quota(
                    model=str(entry["model"]),
                    total=_exact(entry["total"]),
                    unit=str(entry.get("unit", "")).strip(),
                    valid_from=_to_datetime(entry["valid_from"]),
                    valid_until=_to_datetime(entry["valid_until"]),
                    source=f"manifest {month}",
                )
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                notes.append(f"manifest {month}: free_quota[{i}] is malformed ({exc}); ignored")
                continue
            quotas.setdefault((quota.model, quota.window), quota)
    named = {model for model, _ in quotas}
    for configured in settings.free_quota.quotas:
        if configured.model in named:
            continue
        quota = Quota(
            model=configured.model,
            total=configured.total,
            unit=configured.unit,
            valid_from=_to_datetime(configured.valid_from),
            valid_until=_to_datetime(configured.valid_until),
            source="settings",
        )
        quotas.setdefault((quota.model, quota.window), quota)
    return sorted(quotas.values(), key=lambda q: (q.model, q.valid_from)), notes


def _with_manifest_usage(quota: Quota, store: ObjectStore) -> Quota:
    """The quota with ``used`` summed from every manifest in its window that names the same grant.

    Manifests identify the grant (model, total, validity) of each free-quota row, so a renewed quota of the
    same model is not mixed with the old one, as summing the model's lines would.
    """
    if not quota.source.startswith("manifest"):
        return quota
    first = month_of(quota.valid_from.date())
    last = month_of(quota.valid_until.date())
    used: Decimal | None = None
    for month in _months_between(first, last):
        manifest = read_manifest(store, month)
        for entry in (manifest or {}).get("free_quota") or []:
            try:
                same = (str(entry["model"]) == quota.model and _exact(entry["total"]) == quota.total
                        and _to_datetime(entry["valid_from"]) == quota.valid_from
                        and _to_datetime(entry["valid_until"]) == quota.valid_until)
                if same and "used" in entry:
                    used = (used or Decimal(0)) + _exact(entry["used"])
            except (KeyError, TypeError, ValueError, InvalidOperation):
                continue
    return quota if used is None else replace(quota, used=used)


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], source: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"missing columns {missing}", source=source, field=missing[0])


def _months_between(first: str, last: str) -> list[str]:
    months = [first]
    while months[-1] < last:
        months.append(layout.next_month(months[-1]))
    return months


def load_alert_data(store: ObjectStore, day: date, settings: AlertSettings) -> AlertData:
    """Read what the rules need for ``day``; unpublished months are simply absent."""
    current = month_of(day)
    previous = layout.previous_month(current)
    candidates = [layout.previous_month(previous), previous, current]
    months: dict[str, MonthData] = {}
    for month in candidates:
        manifest = read_manifest(store, month)
        if manifest is None:
            continue
        frame = read_allocations(store, month)
        source = f"{store.url}/{layout.allocations_key(month)}"
        if frame is None:
            frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in REQUIRED_COLUMNS})
        _check_columns(frame, REQUIRED_COLUMNS, source)
        months[month] = MonthData(month, manifest, frame)
    quotas: list[Quota] = []
    notes: list[str] = []
    quota_frames: list[pd.DataFrame] = []
    if settings.free_quota.enabled:
        quotas, notes = collect_quotas({m: d.manifest for m, d in months.items()}, settings)
        wanted: set[str] = set()
        for quota in quotas:
            first = month_of(quota.valid_from.date())
            last = min(current, month_of(quota.valid_until.date()))
            if first <= last:
                wanted.update(_months_between(first, last))
        for month in sorted(wanted):
            rows = read_lines(store, month)
            source = f"{store.url}/{layout.lines_key(month)}"
            if rows is None:  # lines not published: the allocation rows carry the same free-quota usage
                rows = months[month].allocations if month in months else read_allocations(store, month)
                source = f"{store.url}/{layout.allocations_key(month)}"
            if rows is None:
                continue
            _check_columns(rows, QUOTA_COLUMNS, source)
            quota_frames.append(rows.loc[rows["fee_type"] == FREE_QUOTA, list(QUOTA_COLUMNS)])
        quotas = [_with_manifest_usage(q, store) for q in quotas]
    quota_rows = (pd.concat(quota_frames, ignore_index=True) if quota_frames
                  else pd.DataFrame({c: pd.Series([], dtype=object) for c in QUOTA_COLUMNS}))
    return AlertData(months=months, quota_rows=quota_rows, quotas=tuple(quotas), notes=tuple(notes))
