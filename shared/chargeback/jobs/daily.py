"""The daily job: bring the open months' tables up to date, evaluate today's alerts, publish the dashboard.

Open months are the current month and the previous one until its final bill has arrived (its manifest says
'final'; bill-formats.md section 1: the final month files land by the 3rd or 4th). Ingesting is idempotent, so
a retry or an overlapping run rewrites nothing. A payload with explicit months (a backfill) processes exactly
those, and evaluates no alerts: alerts are about today's spend. The dashboard (``dashboard/index.html``) is
published after the alerts, so it shows the anomalies they found; a backfill publishes it too.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from chargeback.jobs import JobContext
from chargeback.money import format_decimal
from chargeback.months import month_of, previous_month
from chargeback.warehouse.manifest import read_manifest

log = logging.getLogger(__name__)

# Bills for a new month appear during its first days (v2: a month-to-date push before 18:00 UTC+8; legacy: the
# previous day's file), so a morning run on the 1st or 2nd may find none yet. Later, no bill means a broken
# subscription, and the run fails.
NO_BILL_GRACE_DAYS = 2


def months_due(today: date, previous_status: str | None) -> list[str]:
    """The months a daily run ingests: the previous month unless its published status is 'final', then the
    current month."""
    current = month_of(today)
    if previous_status == "final":
        return [current]
    return [previous_month(current), current]


@dataclass
class MonthOutcome:
    month: str
    action: str  # ingested | unchanged | skipped
    status: str | None = None  # open | final, as published
    totals: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    warnings: list[str] = field(default_factory=list)  # the run summary's (unused mapping entries, ...)
    unknown_usage_types: list[str] = field(default_factory=list)  # kept raw with io_type 'other'


@dataclass
class DailyResult:
    day: date
    months: list[MonthOutcome]
    alerts: Any = None  # the alerts job's AlertRun; None for a backfill
    dashboard: list[str] = field(default_factory=list)  # the dashboard's keys written

    def to_dict(self) -> dict[str, Any]:
        # AlertRun.summary() is JSON-ready (asdict would keep dates and Decimals the Lambda runtime rejects)
        alerts = self.alerts.summary() if self.alerts is not None else None
        return {"job": "daily", "day": self.day.isoformat(), "months": [asdict(m) for m in self.months],
                "alerts": alerts, "dashboard": list(self.dashboard)}


def run_daily(context: JobContext, today: date, months: tuple[str, ...] | list[str] | None = None, *,
              now: datetime, dry_run: bool = False) -> DailyResult:
    """Ingest and allocate the open months (or exactly ``months``), then evaluate alerts for ``today``."""
    if context.source is None:
        raise ValueError("the daily job needs the bills' store (JobContext.source)")
    warehouse, mapping = context.warehouse, context.config
    from chargeback.jobs.run_month import NoBillsError, run_month  # pandas and pyarrow: loaded when used

    backfill = bool(months)
    if months:
        targets = list(months)
    else:
        previous = read_manifest(warehouse, previous_month(month_of(today)))
        targets = months_due(today, previous.status if previous else None)

    outcomes: list[MonthOutcome] = []
    for month in targets:
        try:
            summary = run_month(context.source, warehouse, month, mapping, now=now)
        except NoBillsError as exc:
            reason = "" if backfill else _why_no_bill_is_fine(month, today, warehouse)
            if not reason:
                raise
            log.warning("no bill yet for %s: %s", month, reason, extra={"month": month})
            outcomes.append(MonthOutcome(month, "skipped", reason=f"{exc}; {reason}"))
            continue
        outcomes.append(MonthOutcome(
            month, "ingested" if summary.changed else "unchanged", summary.status,
            {currency: format_decimal(total) for currency, total in sorted(summary.totals.items())},
            warnings=summary.warnings, unknown_usage_types=[u.usage_type for u in summary.unknown_usage_types]))
        log.info("month %s %s (%s)", month, outcomes[-1].action, summary.status,
                 extra={"month": month, "status": summary.status, "changed": summary.changed})
        for warning in summary.warnings:
            log.warning("%s", warning, extra={"month": month})

    alerts = None
    if not backfill:
        from chargeback.alerts.job import run_alerts

        alerts = run_alerts(warehouse, today, mapping, context.channels, now=now, dry_run=dry_run)
    dashboard: list[str] = []
    if not dry_run:
        from chargeback.dashboard.job import publish_dashboard

        dashboard = publish_dashboard(warehouse, mapping, month=month_of(today), now=now)
        log.info("dashboard published", extra={"keys": dashboard})
    return DailyResult(today, outcomes, alerts, dashboard)


def _why_no_bill_is_fine(month: str, today: date, warehouse: Any) -> str:
    """Why a missing bill for ``month`` is expected today, or '' when it is a failure."""
    current = month_of(today)
    if month == current and today.day <= NO_BILL_GRACE_DAYS:
        return f"the month's first bill may arrive until day {NO_BILL_GRACE_DAYS}"
    if month == previous_month(current) and read_manifest(warehouse, month) is None:
        return "the previous month was never ingested and has no bill: the pipeline started this month"
    return ""
