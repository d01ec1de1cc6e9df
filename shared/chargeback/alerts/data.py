"""The warehouse data the alert rules need for one date, read once and handed to pure rules.

Reads the month of the date and the two before it (baselines and run rates reach back across a month
boundary), their manifests, and for free quotas the free-quota lines of every month a quota window touches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import pandas as pd

from chargeback.billtime import bill_midnight, in_bill_time
from chargeback.config.alerts import AlertSettings
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.months import month_of, months_between, previous_month
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import FreeQuotaUse, Manifest, ManifestError, read_manifest
from chargeback.warehouse.read import MonthNeedsRerunError, read_allocations, read_lines

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
    manifest: Manifest
    allocations: pd.DataFrame


@dataclass(frozen=True)
class AlertData:
    """Published months (oldest first), their allocations, and free-quota rows for the quota windows."""

    months: dict[str, MonthData]
    quota_rows: pd.DataFrame
    quotas: tuple[Quota, ...] = ()
    notes: tuple[str, ...] = field(default=())


def _bill_time(value: datetime | date) -> datetime:
    """A configured validity bound as an aware time: a date is its start, a naive time China time."""
    if not isinstance(value, datetime):
        return bill_midnight(value)
    return in_bill_time(value)


def _quota_of(grant: FreeQuotaUse, month: str) -> Quota | None:
    if grant.valid_from is None or grant.valid_until is None:
        return None  # a grant without a validity window cannot be judged for expiry or use in time
    return Quota(model=grant.model, total=grant.total, unit=grant.unit.strip(), valid_from=grant.valid_from,
                 valid_until=grant.valid_until, source=f"manifest {month}")


def collect_quotas(manifests: dict[str, Manifest], settings: AlertSettings) -> list[Quota]:
    """Free quotas from the manifests' ``free_quota`` grants (newest month first), then from settings for
    models no manifest names."""
    quotas: dict[tuple[str, str], Quota] = {}
    for month in sorted(manifests, reverse=True):
        for grant in manifests[month].free_quota:
            quota = _quota_of(grant, month)
            if quota is not None:
                quotas.setdefault((quota.model, quota.window), quota)
    named = {model for model, _ in quotas}
    for configured in settings.free_quota.quotas:
        if configured.model in named:
            continue
        quota = Quota(
            model=configured.model,
            total=configured.total,
            unit=configured.unit,
            valid_from=_bill_time(configured.valid_from),
            valid_until=_bill_time(configured.valid_until),
            source="settings",
        )
        quotas.setdefault((quota.model, quota.window), quota)
    return sorted(quotas.values(), key=lambda q: (q.model, q.valid_from))


def with_manifest_usage(quota: Quota, manifests: Callable[[str], Manifest | None]) -> Quota:
    """The quota with ``used`` summed from every manifest in its window that names the same grant.

    Manifests identify the grant (model, total, validity) of each free-quota row, so a renewed quota of the
    same model is not mixed with the old one, as summing the model's lines would.
    """
    if not quota.source.startswith("manifest"):
        return quota
    used: Decimal | None = None
    for month in months_between(month_of(quota.valid_from.date()), month_of(quota.valid_until.date())):
        manifest = manifests(month)
        for grant in manifest.free_quota if manifest else ():
            if (grant.model, grant.total, grant.valid_from, grant.valid_until) == (
                    quota.model, quota.total, quota.valid_from, quota.valid_until):
                used = (used or Decimal(0)) + grant.used
    return quota if used is None else replace(quota, used=used)


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], source: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"missing columns {missing}", source=source, field=missing[0])


def load_alert_data(store: ObjectStore, day: date, settings: AlertSettings) -> AlertData:
    """Read what the rules need for ``day``; unpublished months are simply absent.

    A damaged manifest, or a month whose tables are not the ones its manifest names (it needs a rerun), leaves
    its month out with a note, so budgets and the other rules still run.
    """
    current = month_of(day)
    previous = previous_month(current)
    notes: list[str] = []

    @cache
    def manifest_of(month: str) -> Manifest | None:
        try:
            return read_manifest(store, month)
        except ManifestError as exc:
            notes.append(f"{exc}; month {month} left out.")
            return None

    months: dict[str, MonthData] = {}
    for month in [previous_month(previous), previous, current]:
        manifest = manifest_of(month)
        if manifest is None:
            continue
        try:
            frame = read_allocations(store, month, manifest)
        except MonthNeedsRerunError as exc:
            notes.append(f"{exc}; month {month} left out.")
            continue
        source = f"{store.url}/{layout.allocations_key(month)}"
        if frame is None:
            frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in REQUIRED_COLUMNS})
        _check_columns(frame, REQUIRED_COLUMNS, source)
        months[month] = MonthData(month, manifest, frame)
    quotas: list[Quota] = []
    quota_frames: list[pd.DataFrame] = []
    if settings.free_quota.enabled:
        quotas = collect_quotas({m: d.manifest for m, d in months.items()}, settings)
        wanted: set[str] = set()
        for quota in quotas:
            wanted.update(months_between(month_of(quota.valid_from.date()),
                                         min(current, month_of(quota.valid_until.date()))))
        for month in sorted(wanted):
            manifest = manifest_of(month)
            if manifest is None:
                continue
            try:
                rows = read_lines(store, month, manifest)
                source = f"{store.url}/{layout.lines_key(month)}"
                if rows is None:  # lines not published: the allocation rows carry the same free-quota usage
                    rows = months[month].allocations if month in months else read_allocations(store, month,
                                                                                            manifest)
                    source = f"{store.url}/{layout.allocations_key(month)}"
            except MonthNeedsRerunError as exc:
                notes.append(f"{exc}; its free-quota use left out.")
                continue
            if rows is None:
                continue
            _check_columns(rows, QUOTA_COLUMNS, source)
            quota_frames.append(rows.loc[rows["fee_type"] == FREE_QUOTA, list(QUOTA_COLUMNS)])
        quotas = [with_manifest_usage(q, manifest_of) for q in quotas]
    quota_rows = (pd.concat(quota_frames, ignore_index=True) if quota_frames
                  else pd.DataFrame({c: pd.Series([], dtype=object) for c in QUOTA_COLUMNS}))
    return AlertData(months=months, quota_rows=quota_rows, quotas=tuple(quotas), notes=tuple(notes))
