"""The schedule-expression validators used on template.yml and s.yaml."""

from __future__ import annotations

import pytest

from tests.support.schedules import ScheduleError, check_aws_expression, check_fc_cron


@pytest.mark.parametrize("expression", [
    "cron(30 10 * * ? *)", "cron(30 11 5-10 * ? *)", "cron(0 2 ? * MON-FRI *)",
    "cron(0/15 * * JAN,JUL ? 2026)", "cron(0 8 L * ? *)", "cron(0 8 ? * 6#3 *)", "rate(1 day)",
    "rate(12 hours)", "at(2026-06-05T10:30:00)",
])
def test_valid_aws_expressions(expression: str) -> None:
    check_aws_expression(expression)


@pytest.mark.parametrize(("expression", "problem"), [
    ("cron(30 10 * * *)", "6 fields, not 5"),
    ("cron(0 30 10 * * ? *)", "6 fields, not 7"),
    ("cron(30 10 * * * *)", "exactly one of day-of-month and day-of-week"),
    ("cron(30 10 5 * MON *)", "exactly one of day-of-month and day-of-week"),
    ("cron(60 10 * * ? *)", "60 is outside 0-59"),
    ("cron(30 24 * * ? *)", "24 is outside 0-23"),
    ("cron(30 10 10-5 * ? *)", "runs backwards"),
    ("cron(30 10 ? * FUNDAY *)", "'FUNDAY' is not a number"),
    ("rate(1 days)", "singular"),
    ("rate(0 minutes)", r"rate\(N minute\[s\]"),
    ("daily", "is not cron"),
])
def test_invalid_aws_expressions(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        check_aws_expression(expression)


@pytest.mark.parametrize("expression", ["0 30 2 * * *", "0 30 3 5-10 * *", "0 0/5 * * * ?", "0 0 2 ? * MON",
                                        "@every 1h30m"])
def test_valid_fc_cron(expression: str) -> None:
    check_fc_cron(expression)


@pytest.mark.parametrize(("expression", "problem"), [
    ("30 2 * * *", "6 fields"),
    ("cron(30 10 * * ? *)", "'cron\\(30' is not a number"),
    ("0 30 2 * * 7", "7 is outside 0-6"),
    ("0 30 25 * * *", "25 is outside 0-23"),
    ("? 30 2 * * *", "'?' is not allowed"),
])
def test_invalid_fc_cron(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        check_fc_cron(expression)
