"""Stale-data alerts: no new bill file for longer than ``stale_after_hours``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from chargeback.alerts.data import AlertData
from chargeback.alerts.model import Alert, Subject
from chargeback.alerts.rules.common import ONE_DAY, ZERO, routes_for
from chargeback.alerts.words import phrase
from chargeback.billtime import bill_midnight
from chargeback.config.alerts import AlertSettings
from chargeback.config.file import ConfigFile as Mapping
from chargeback.display import figure
from chargeback.months import month_of


def stale_alerts(data: AlertData, day: date, now: datetime, mapping: Mapping, settings: AlertSettings
                 ) -> list[Alert]:
    """No new bill file for longer than ``stale_after_hours``: one alert per newest file (per episode).

    The age is taken at ``now``, or at the end of ``day`` when ``day`` is in the past (a re-run for an old
    date asks whether the bills were stale then, not today). The end of ``day`` is in China time, like the
    bill's dates; a naive ``now`` is UTC.
    """
    limit = settings.stale_after_hours
    routes = routes_for(None, mapping, settings)
    subject = Subject("warehouse", "bills", "bill files")
    newest: datetime | None = None
    for month in data.months.values():
        moment = month.manifest.newest_source_time
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    if newest is None:
        searched = ", ".join(sorted(data.months)) or "none published"
        return [Alert(
            rule="stale_data", subject=subject, period=month_of(day), value=ZERO, threshold=figure(limit),
            severity="critical", title=phrase("stale.none_title", month=month_of(day)),
            reasons=(phrase("stale.none_reason", searched=searched), phrase("stale.check")),
            routes=routes,
        )]
    as_of = min(now if now.tzinfo is not None else now.replace(tzinfo=UTC), bill_midnight(day + ONE_DAY))
    age_hours = (Decimal((as_of - newest).total_seconds()) / 3600).quantize(Decimal("0.1"))
    if age_hours <= limit:
        return []
    newest_text = newest.astimezone(UTC).isoformat()
    return [Alert(
        rule="stale_data", subject=subject, period=newest_text, value=age_hours, threshold=figure(limit),
        severity="critical",
        title=phrase("stale.title", age=figure(age_hours), limit=figure(limit)),
        reasons=(phrase("stale.reason", newest=newest_text, as_of=as_of.astimezone(UTC).isoformat()),
                 phrase("stale.push")),
        routes=routes, details={"newest_source_time": newest_text},
    )]
