"""Free-quota alerts: a grant nearly used, or about to expire with quota left."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from chargeback.alerts.data import AlertData, Quota
from chargeback.alerts.model import Alert, Subject
from chargeback.alerts.rules.common import HUNDRED, ONE_DAY, ZERO, routes_for
from chargeback.alerts.words import phrase
from chargeback.config.alerts import AlertSettings
from chargeback.config.file import ConfigFile as Mapping
from chargeback.display import figure, rounded_percent
from chargeback.units import convert


def _quota_used(quota: Quota, rows: pd.DataFrame, day: date) -> tuple[Decimal | None, str]:
    if quota.used is not None:  # the manifests name the grant of every free-quota row: exact per grant
        return quota.used, ""
    start = quota.valid_from.date().isoformat()
    end = min(quota.valid_until.date() - ONE_DAY, day).isoformat()
    dates = rows["billing_date"].astype(str)
    mine = rows.loc[(rows["model"] == quota.model) & (dates >= start) & (dates <= end)]
    used = ZERO
    for amount, unit in zip(mine["deducted_usage"].tolist(), mine["usage_unit"].tolist(), strict=True):
        converted = convert(amount if amount is not None else ZERO, str(unit or ""), quota.unit)
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
        usage = phrase("quota.usage", used=figure(used), total=figure(quota.total), unit=quota.unit,
                       percent=rounded_percent(used_pct), start=f"{quota.valid_from:%Y-%m-%d %H:%M}",
                       end=f"{quota.valid_until:%Y-%m-%d %H:%M}", source=quota.source)
        for threshold in sorted(set(s.used_percent)):
            if used_pct >= threshold:
                alerts.append(Alert(
                    rule="free_quota_used", subject=subject, period=quota.window, value=used_pct,
                    threshold=figure(threshold), severity="critical" if used_pct >= HUNDRED else "warning",
                    title=phrase("quota.used_title", model=quota.model, percent=rounded_percent(used_pct),
                                 threshold=figure(threshold)),
                    reasons=(usage, phrase("quota.used_reason")),
                    routes=routes, details={"used": str(used), "total": str(quota.total), "unit": quota.unit},
                ))
        days_left = (expires - day).days
        if days_left <= s.expiring_within_days and remaining > 0:
            alerts.append(Alert(
                rule="free_quota_expiring", subject=subject, period=quota.window, value=remaining,
                threshold=str(s.expiring_within_days), severity="info",
                title=phrase("quota.expiring_title", model=quota.model, end=f"{quota.valid_until:%Y-%m-%d %H:%M}",
                             days=days_left, unused=rounded_percent(HUNDRED - used_pct)),
                reasons=(usage, phrase("quota.expiring_reason", left=figure(remaining), unit=quota.unit)),
                routes=routes, details={"used": str(used), "total": str(quota.total), "unit": quota.unit,
                                        "days_left": str(days_left)},
            ))
    return alerts
