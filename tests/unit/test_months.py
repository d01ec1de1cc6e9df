"""Billing months and the bill's time zone: the one home of each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chargeback.billtime import BILL_TIME_ZONE, BILL_UTC_OFFSET, bill_midnight, in_bill_time, parse_bill_time
from chargeback.errors import InputError
from chargeback.months import (
    check_month,
    compact,
    days_of,
    first_day,
    from_compact,
    last_day,
    month_of,
    months_between,
    next_month,
    previous_month,
)


def test_months_count_across_years():
    assert (previous_month("2026-01"), next_month("2026-12")) == ("2025-12", "2027-01")
    assert (first_day("2024-02"), last_day("2024-02"), last_day("2026-02")) == (
        date(2024, 2, 1), date(2024, 2, 29), date(2026, 2, 28))
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_between("2026-03", "2026-02") == []
    assert days_of("2026-04")[-1] == date(2026, 4, 30) and len(days_of("2026-05")) == 31
    assert month_of(date(2026, 5, 31)) == "2026-05"
    assert (compact("2026-05"), from_compact("202605"), from_compact("20260514")) == ("202605", "2026-05", "2026-05")


@pytest.mark.parametrize("bad", ["2026-13", "2026-5", "202605", "", "2026-05-01"])
def test_a_month_that_is_not_yyyy_mm_names_the_field(bad):
    with pytest.raises(InputError, match=r"field 'months': month .* is not YYYY-MM"):
        check_month(bad, field="months")


def test_bill_times_are_china_time():
    assert timedelta(hours=8) == BILL_UTC_OFFSET
    pushed = parse_bill_time("20260603170000", "%Y%m%d%H%M%S")
    assert pushed.astimezone(UTC) == datetime(2026, 6, 3, 9, tzinfo=UTC)
    assert in_bill_time(datetime(2026, 5, 13, 8)) == datetime(2026, 5, 13, tzinfo=UTC)
    aware = datetime(2026, 5, 13, 8, tzinfo=UTC)
    assert in_bill_time(aware) is aware
    assert bill_midnight(date(2026, 5, 14)) == datetime(2026, 5, 14, tzinfo=BILL_TIME_ZONE)
    assert bill_midnight(date(2026, 5, 14)).astimezone(UTC) == datetime(2026, 5, 13, 16, tzinfo=UTC)
