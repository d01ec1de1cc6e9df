"""The bill's time zone: China time (Asia/Shanghai, UTC+8), the one place that names it.

Alibaba Cloud writes billing dates, push folder names (``{YYYYMMDDHHMMSS}``), free-quota validity windows and
its push schedule in China time, on both sites. A time taken from a bill without an offset is China time;
everything this package stores carries its offset.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BILL_TIME_ZONE_NAME = "Asia/Shanghai"
BILL_TIME_ZONE = ZoneInfo(BILL_TIME_ZONE_NAME)
# China has kept UTC+8 without daylight saving since 1991, so one fixed offset serves vectorized arithmetic.
BILL_UTC_OFFSET: timedelta = BILL_TIME_ZONE.utcoffset(datetime(2026, 1, 1)) or timedelta(0)


def in_bill_time(moment: datetime) -> datetime:
    """``moment`` with an offset: a naive time (as bills and older manifests write them) is China time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BILL_TIME_ZONE)


def bill_midnight(day: date) -> datetime:
    """The start of a billing date, China time (aware)."""
    return datetime.combine(day, time(), BILL_TIME_ZONE)


def parse_bill_time(text: str, fmt: str) -> datetime:
    """A bill's own time text (``fmt`` as for ``strptime``), read as China time. ValueError if it does not fit."""
    return datetime.strptime(text, fmt).replace(tzinfo=BILL_TIME_ZONE)


__all__ = ["BILL_TIME_ZONE", "BILL_TIME_ZONE_NAME", "BILL_UTC_OFFSET", "bill_midnight", "in_bill_time",
           "parse_bill_time"]
