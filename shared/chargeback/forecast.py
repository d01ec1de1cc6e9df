"""The month-end forecast of a daily cost series: spend so far plus the run rate of recent complete days.

One method for the budget alerts and the statements' budget line, so both say the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from chargeback.money import MONEY_SCALE
from chargeback.months import first_day, last_day

_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
ZERO = Decimal(0)


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


def forecast_month(series: dict[date, Decimal], month: str, complete_through: date | None,
                   first_data_day: date | None, window_days: int, min_complete_days: int) -> Forecast | None:
    """The month-end forecast of a daily series, or None when the month is complete or too few days are.

    ``complete_through`` is the last day whose costs are complete, ``first_data_day`` the first day with data.
    """
    end = complete_through
    if end is None or first_data_day is None:
        return None
    month_start = first_day(month)
    month_end = last_day(month)
    if end >= month_end or end < month_start - timedelta(days=1):
        return None
    start = max(end - timedelta(days=window_days - 1), first_data_day)
    days = (end - start).days + 1
    if days < min_complete_days:
        return None
    window_total = sum((series.get(start + timedelta(days=i), ZERO) for i in range(days)), ZERO)
    rate = window_total / days
    to_date = sum((v for d, v in series.items() if month_start <= d <= end), ZERO)
    days_left = (month_end - end).days
    value = (to_date + rate * days_left).quantize(_QUANTUM)
    return Forecast(value, rate.quantize(_QUANTUM), start, end, days, days_left, to_date)
