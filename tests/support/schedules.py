"""Validators for the schedule expressions in the deployment descriptors (cfn-lint does not check them all).

AWS (EventBridge Scheduler and rules): ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``,
``rate(N unit)`` and the Scheduler's one-time ``at(yyyy-mm-ddThh:mm:ss)``.
Function Compute timer triggers: six fields ``Seconds Minutes Hours Day-of-month Month Day-of-week`` (UTC), or
``@every 1h30m``.
"""

from __future__ import annotations

import re
from datetime import datetime

MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
AWS_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
FC_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


class ScheduleError(ValueError):
    pass


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"{text!r} is not a number")
    number = int(text)
    if not low <= number <= high:
        raise ScheduleError(f"{number} is outside {low}-{high}")
    return number


def check_field(text: str, low: int, high: int, names: dict[str, int] | None = None,
                question: bool = False) -> None:
    """One cron field: ``*``, ``?`` (where allowed), values, ranges and steps, comma-separated."""
    names = names or {}
    if text == "?":
        if not question:
            raise ScheduleError("'?' is not allowed here")
        return
    for item in text.split(","):
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise ScheduleError(f"bad step in {item!r}")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _value(start, low, high, names)
        if dash and _value(end, low, high, names) < first:
            raise ScheduleError(f"range {base!r} runs backwards")


def check_aws_expression(expression: str) -> None:
    """Raise ScheduleError unless ``expression`` is a valid EventBridge cron(), rate() or at()."""
    match = re.fullmatch(r"(cron|rate|at)\((.*)\)", expression.strip())
    if not match:
        raise ScheduleError(f"{expression!r} is not cron(...), rate(...) or at(...)")
    kind, body = match.groups()
    if kind == "rate":
        rate = re.fullmatch(r"([1-9]\d*) (minute|minutes|hour|hours|day|days)", body)
        if not rate:
            raise ScheduleError(f"{expression!r}: rate(N minute[s]|hour[s]|day[s])")
        if (rate.group(1) == "1") != (not rate.group(2).endswith("s")):
            raise ScheduleError(f"{expression!r}: use the singular unit for 1 and the plural otherwise")
        return
    if kind == "at":
        try:
            datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ScheduleError(f"{expression!r}: at(yyyy-mm-ddThh:mm:ss)") from None
        return
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: AWS cron has 6 fields, not {len(fields)}")
    minutes, hours, day_of_month, month, day_of_week, year = fields
    try:
        check_field(minutes, 0, 59)
        check_field(hours, 0, 23)
        last_or_weekday = re.sub(r"^(L|LW|(\d+)W)$", lambda m: m.group(2) or "1", day_of_month)
        check_field(last_or_weekday, 1, 31, question=True)
        check_field(month, 1, 12, MONTHS)
        check_field(re.sub(r"^(\w+)(#[1-5]|L)$", r"\1", day_of_week), 1, 7, AWS_DAYS, question=True)
        check_field(year, 1970, 2199)
    except ScheduleError as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from None
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")


def check_fc_cron(expression: str) -> None:
    """Raise ScheduleError unless ``expression`` is a valid Function Compute timer expression."""
    if expression.startswith("@every "):
        if not re.fullmatch(r"@every (\d+h)?(\d+m)?", expression) or expression == "@every ":
            raise ScheduleError(f"{expression!r}: @every 1h30m")
        return
    fields = expression.split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: FC cron has 6 fields (with seconds), not {len(fields)}")
    seconds, minutes, hours, day_of_month, month, day_of_week = fields
    try:
        check_field(seconds, 0, 59)
        check_field(minutes, 0, 59)
        check_field(hours, 0, 23)
        check_field(day_of_month, 1, 31, question=True)
        check_field(month, 1, 12, MONTHS)
        check_field(day_of_week, 0, 6, FC_DAYS, question=True)
    except ScheduleError as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from None
