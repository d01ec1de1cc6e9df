"""Which months the daily job ingests and when the monthly job sends statements (pure decisions)."""

from __future__ import annotations

from datetime import date

import pytest

from chargeback.jobs.daily import months_due
from chargeback.jobs.monthly import NotIngestedError, statement_decision


@pytest.mark.parametrize(("today", "previous_status", "expected"), [
    (date(2026, 6, 1), "open", ["2026-05", "2026-06"]),
    (date(2026, 6, 4), "open", ["2026-05", "2026-06"]),
    (date(2026, 6, 4), "final", ["2026-06"]),
    (date(2026, 6, 20), None, ["2026-05", "2026-06"]),
    (date(2026, 1, 2), "open", ["2025-12", "2026-01"]),
])
def test_months_due(today: date, previous_status: str | None, expected: list[str]) -> None:
    assert months_due(today, previous_status) == expected


@pytest.mark.parametrize(("status", "day", "expected"), [
    ("final", 3, "final"),
    ("final", 20, "final"),
    ("open", 5, ""),
    ("open", 6, ""),  # the final day itself still waits
    ("open", 7, "provisional"),
    (None, 5, ""),
])
def test_statement_decision(status: str | None, day: int, expected: str) -> None:
    assert statement_decision(status, date(2026, 6, day), final_day=6) == expected


def test_month_missing_after_the_final_day_is_an_error() -> None:
    with pytest.raises(NotIngestedError, match="day 7 is past CHARGEBACK_FINAL_DAY=6"):
        statement_decision(None, date(2026, 6, 7), final_day=6)
