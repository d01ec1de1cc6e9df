"""What a scheduled invocation asks for, parsed from each platform's event shape into one ``Invocation``.

AWS (EventBridge Scheduler, templated Lambda target): the event *is* the schedule's Input JSON, e.g.
``{"job": "daily", "scheduled_time": "<aws.scheduler.scheduled-time>"}`` with the context attribute filled in
by the scheduler. A classic EventBridge rule's ``Scheduled Event`` envelope is accepted too (its ``time`` and
``detail``).

Function Compute (timer trigger): the event is bytes,
``{"triggerTime": "2026-06-02T02:30:00Z", "triggerName": "daily", "payload": "{\\"job\\":\\"daily\\"}"}``, the
payload being the trigger's configured string. A manual ``s invoke`` with a bare JSON payload is accepted too.

The payload may hold: ``job`` (must name the function's job), ``months`` (a list of YYYY-MM to process instead
of the defaults: a backfill), ``today`` (YYYY-MM-DD: run as on that day), ``dry_run`` (bool). Anything else is
an error, so a typo in a schedule fails loudly instead of running the wrong thing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal

from chargeback.errors import InputError
from chargeback.warehouse.layout import check_month

PAYLOAD_KEYS: frozenset[str] = frozenset({"job", "months", "today", "dry_run", "scheduled_time"})


@dataclass(frozen=True)
class Invocation:
    """One scheduled (or manual) call of a job, platform-neutral."""

    platform: Literal["aws", "fc"]
    job: str | None = None  # the job the payload names, if it names one
    months: tuple[str, ...] | None = None  # explicit months (backfill); None = the job's defaults
    today: date | None = None  # explicit day to run as
    scheduled_at: datetime | None = None  # when the scheduler meant to fire (aware)
    dry_run: bool = False
    trigger: str = ""  # schedule or trigger name, for the logs

    def day(self, tz: tzinfo, now: datetime) -> date:
        """The day to run as: the payload's ``today``, else the scheduled time's, else ``now``'s, in ``tz``.

        The scheduled time wins over the clock, so a retry after midnight still does the scheduled day's work.
        """
        if self.today is not None:
            return self.today
        moment = self.scheduled_at or now
        return moment.astimezone(tz).date()

    def check_job(self, expected: str) -> None:
        """InputError when the payload was meant for another job (a schedule wired to the wrong function)."""
        if self.job is not None and self.job != expected:
            raise InputError(f"the event asks for job {self.job!r} but this function runs {expected!r}",
                             source="event", field="job")


def parse_scheduler_event(event: Any) -> Invocation:
    """An Invocation from an AWS Lambda event sent by EventBridge Scheduler (or a classic scheduled rule)."""
    if event is None:
        return Invocation("aws")
    if not isinstance(event, Mapping):
        raise InputError(f"expected a JSON object, got {type(event).__name__}", source="event")
    if event.get("detail-type") == "Scheduled Event":
        detail = event.get("detail") or {}
        if not isinstance(detail, Mapping):
            raise InputError("'detail' must be a JSON object", source="event", field="detail")
        fields = _payload_fields(detail)
        scheduled = fields.pop("scheduled_at") or _timestamp(event.get("time"), "time")
        return Invocation("aws", scheduled_at=scheduled, trigger=_rule_name(event), **fields)
    fields = _payload_fields(event)
    return Invocation("aws", scheduled_at=fields.pop("scheduled_at"), **fields)


def parse_fc_event(event: bytes | str | Mapping[str, Any] | None) -> Invocation:
    """An Invocation from a Function Compute event: the timer trigger's bytes, or a manual JSON payload."""
    data: Any
    if event is None or event in (b"", ""):
        return Invocation("fc")
    if isinstance(event, bytes | str):
        try:
            data = json.loads(event)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"the event is not JSON: {exc}", source="event") from None
    else:
        data = event
    if not isinstance(data, Mapping):
        raise InputError(f"expected a JSON object, got {type(data).__name__}", source="event")
    if "triggerName" not in data and "triggerTime" not in data:
        fields = _payload_fields(data)  # a manual invocation: the event is the payload
        return Invocation("fc", scheduled_at=fields.pop("scheduled_at"), **fields)
    payload_text = data.get("payload") or ""
    if not isinstance(payload_text, str):
        raise InputError("the timer 'payload' must be a string", source="event", field="payload")
    payload: Any = {}
    if payload_text.strip():
        try:
            payload = json.loads(payload_text)
        except json.JSONDecodeError as exc:
            raise InputError(f"the timer payload is not JSON: {exc}", source="event",
                             field="payload") from None
        if not isinstance(payload, Mapping):
            raise InputError("the timer payload must be a JSON object", source="event", field="payload")
    fields = _payload_fields(payload)
    scheduled = fields.pop("scheduled_at") or _timestamp(data.get("triggerTime"), "triggerTime")
    return Invocation("fc", scheduled_at=scheduled, trigger=str(data.get("triggerName") or ""), **fields)


def _payload_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(payload) - PAYLOAD_KEYS)
    problems: list[str] = []
    if unknown:
        problems.append(f"unknown keys {unknown} (allowed: {', '.join(sorted(PAYLOAD_KEYS))})")
    job = payload.get("job")
    if job is not None and not isinstance(job, str):
        problems.append("'job' must be a string")
    months = None
    if payload.get("months") is not None:
        try:
            months = _months(payload["months"])
        except InputError as exc:
            problems.append(str(exc))
    today = None
    if payload.get("today") is not None:
        try:
            today = date.fromisoformat(str(payload["today"]))
        except ValueError:
            problems.append(f"'today' {payload['today']!r} is not YYYY-MM-DD")
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        problems.append("'dry_run' must be true or false")
    scheduled = None
    if payload.get("scheduled_time") is not None:
        try:
            scheduled = _timestamp(payload["scheduled_time"], "scheduled_time")
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError("bad payload: " + "; ".join(problems), source="event")
    return {"job": job, "months": months, "today": today, "dry_run": dry_run, "scheduled_at": scheduled}


def _months(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(m, str) for m in items):
        raise InputError("'months' must be a non-empty list of YYYY-MM strings")
    months: list[str] = []
    for item in items:
        month = item.strip()
        if month not in months:
            months.append(check_month(month))
    return tuple(months)


def _timestamp(value: Any, name: str) -> datetime | None:
    """An aware datetime from an ISO 8601 text; naive times are taken as UTC (both platforms send UTC)."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"'{name}' {value!r} is not an ISO 8601 time", source="event", field=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rule_name(event: Mapping[str, Any]) -> str:
    resources = event.get("resources") or []
    return str(resources[0]).rsplit("/", 1)[-1] if resources else ""
