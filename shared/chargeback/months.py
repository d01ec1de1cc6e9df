"""Billing months: the one place that parses, checks and counts ``YYYY-MM``.

A billing month is text ``YYYY-MM`` everywhere in the warehouse (partitions, manifests, state). Bills also
write it compactly (``202605``); :func:`from_compact` and :func:`compact` convert between the two.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from chargeback.errors import InputError

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_month(month: str, *, field: str = "month") -> str:
    """``month`` if it is YYYY-MM, else InputError naming ``field``."""
    if not isinstance(month, str) or not MONTH_PATTERN.match(month):
        raise InputError(f"month {month!r} is not YYYY-MM", field=field)
    return month


def _parts(month: str) -> tuple[int, int]:
    return int(month[:4]), int(month[5:7])


def month_of(day: date) -> str:
    """The billing month a date belongs to: date(2026, 5, 14) -> '2026-05'."""
    return f"{day.year:04d}-{day.month:02d}"


def next_month(month: str) -> str:
    year, mon = _parts(month)
    return f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"


def previous_month(month: str) -> str:
    year, mon = _parts(month)
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def first_day(month: str) -> date:
    year, mon = _parts(month)
    return date(year, mon, 1)


def last_day(month: str) -> date:
    year, mon = _parts(month)
    return date(year, mon, calendar.monthrange(year, mon)[1])


def days_of(month: str) -> list[date]:
    """Every day of the month, in order."""
    start = first_day(month)
    return [start.replace(day=d) for d in range(1, last_day(month).day + 1)]


def months_between(first: str, last: str) -> list[str]:
    """``first`` to ``last`` inclusive, in order; [] when ``last`` is before ``first``."""
    months: list[str] = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def compact(month: str) -> str:
    """'2026-05' -> '202605', the form bill file names and the billing-month column use."""
    return month.replace("-", "")


def from_compact(period: str) -> str:
    """'202605' (or '20260514', a day of it) -> '2026-05'."""
    return f"{period[:4]}-{period[4:6]}"


__all__ = ["MONTH_PATTERN", "check_month", "compact", "days_of", "first_day", "from_compact", "last_day",
           "month_of", "months_between", "next_month", "previous_month"]
