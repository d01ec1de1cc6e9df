"""The monthly job: statements for the previous month once its bill is final, or provisional after the
configured day (CHARGEBACK_FINAL_DAY).

It is scheduled on each of several days after the month-end push (template.yml, s.yaml) and is safe to run
again: the statements job keeps a ledger of what it sent. Before the final bill has arrived, and until the
final day has passed, a run only reports that it is waiting. A payload with explicit months sends statements
for those months as published, final or not.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from chargeback.errors import InputError
from chargeback.jobs import JobContext
from chargeback.jobs.daily import month_of
from chargeback.warehouse.layout import previous_month
from chargeback.warehouse.read import read_manifest

log = logging.getLogger(__name__)


class NotIngestedError(InputError):
    """Statements were due for a month that the warehouse does not hold."""


def statement_decision(status: str | None, today: date, final_day: int) -> str:
    """'final' or 'provisional' when the month's statements go out today, else '' (wait).

    ``status`` is the month's published status (None: not published). A month still missing after the final
    day is an error: the daily job should have ingested it by then.
    """
    if status == "final":
        return "final"
    if today.day <= final_day:
        return ""
    if status is None:
        raise NotIngestedError(f"day {today.day} is past CHARGEBACK_FINAL_DAY={final_day} and the month is "
                               "not in the warehouse: did the daily job run?", field="month")
    return "provisional"


@dataclass
class MonthStatements:
    month: str
    action: str  # sent | waiting
    kind: str = ""  # final | provisional | requested
    statements: int = 0


@dataclass
class MonthlyResult:
    day: date
    months: list[MonthStatements]

    def to_dict(self) -> dict[str, Any]:
        return {"job": "monthly", "day": self.day.isoformat(), "months": [asdict(m) for m in self.months]}


def run_monthly(context: JobContext, today: date, months: tuple[str, ...] | list[str] | None = None, *,
                now: datetime, dry_run: bool = False) -> MonthlyResult:
    """Send the previous month's statements when due (or exactly ``months``'s)."""
    warehouse = context.warehouse
    outcomes: list[MonthStatements] = []
    for month in months or [previous_month(month_of(today))]:
        manifest = read_manifest(warehouse, month)
        status = manifest.get("status") if manifest else None
        if months:
            if manifest is None:
                raise NotIngestedError(f"month {month} is not in {warehouse.url}: ingest it first",
                                       field="months")
            kind = "requested"
        else:
            kind = statement_decision(status, today, context.final_day)
        if not kind:
            log.info("statements for %s wait for the final bill (status %s, day %d of %d)", month, status,
                     today.day, context.final_day, extra={"month": month})
            outcomes.append(MonthStatements(month, "waiting"))
            continue
        from chargeback.reporting.job import send_statements  # pandas and Jinja2: loaded when used

        sent = send_statements(warehouse, month, context.config, context.mailer, now=now, dry_run=dry_run,
                               finance_cc=context.delivery.finance_cc, sender=context.delivery.sender)
        log.info("statements for %s: %d (%s)", month, len(sent), kind, extra={"month": month, "kind": kind})
        outcomes.append(MonthStatements(month, "sent", kind, len(sent)))
    return MonthlyResult(today, outcomes)
