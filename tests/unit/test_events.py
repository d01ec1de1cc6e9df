"""Event parsing: EventBridge Scheduler input for Lambda, the timer event bytes for Function Compute."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chargeback.errors import InputError
from chargeback.runtime.events import Invocation, parse_fc_event, parse_scheduler_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)


def test_scheduler_input_with_context_attribute() -> None:
    # the schedule's Input with <aws.scheduler.scheduled-time> filled in by EventBridge Scheduler
    event = {"job": "daily", "scheduled_time": "2026-06-01T16:30:00Z"}
    invocation = parse_scheduler_event(event)
    assert invocation == Invocation("aws", job="daily",
                                    scheduled_at=datetime(2026, 6, 1, 16, 30, tzinfo=UTC))
    # 16:30 UTC is 00:30 the next day in Shanghai: the bill's day, not UTC's
    assert invocation.day(SHANGHAI, NOW) == date(2026, 6, 2)


def test_scheduler_backfill_payload() -> None:
    invocation = parse_scheduler_event({"job": "daily", "months": ["2026-04", "2026-05", "2026-04"],
                                        "dry_run": True})
    assert invocation.months == ("2026-04", "2026-05")
    assert invocation.dry_run is True
    assert invocation.day(SHANGHAI, NOW) == date(2026, 6, 2)  # no scheduled time: the clock


def test_classic_scheduled_event_envelope() -> None:
    event = {
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-06-05T03:30:00Z",
        "region": "ap-southeast-1", "resources": ["arn:aws:events:ap-southeast-1:123456789012:rule/monthly"],
        "detail": {},
    }
    invocation = parse_scheduler_event(event)
    assert invocation.scheduled_at == datetime(2026, 6, 5, 3, 30, tzinfo=UTC)
    assert invocation.trigger == "monthly"


def test_empty_lambda_event() -> None:
    assert parse_scheduler_event(None) == Invocation("aws")
    assert parse_scheduler_event({}) == Invocation("aws")


def test_fc_timer_event_bytes() -> None:
    event = json.dumps({"triggerTime": "2026-06-02T02:30:00Z", "triggerName": "daily-timer",
                        "payload": json.dumps({"job": "daily"})}).encode()
    invocation = parse_fc_event(event)
    assert invocation == Invocation("fc", job="daily", trigger="daily-timer",
                                    scheduled_at=datetime(2026, 6, 2, 2, 30, tzinfo=UTC))
    assert invocation.day(SHANGHAI, NOW) == date(2026, 6, 2)


def test_fc_timer_with_empty_payload_and_manual_invoke() -> None:
    timer = b'{"triggerTime":"2026-06-05T03:30:00Z","triggerName":"monthly-timer","payload":""}'
    assert parse_fc_event(timer).job is None
    manual = b'{"job": "monthly", "months": "2026-04", "today": "2026-05-09"}'
    invocation = parse_fc_event(manual)
    assert (invocation.months, invocation.today) == (("2026-04",), date(2026, 5, 9))
    assert invocation.day(SHANGHAI, NOW) == date(2026, 5, 9)
    assert parse_fc_event(b"") == Invocation("fc")


@pytest.mark.parametrize(("event", "message"), [
    (b"not json", "event: the event is not JSON"),
    (b"[1, 2]", "event: expected a JSON object, got list"),
    (b'{"triggerName": "t", "payload": "daily"}', "event, field 'payload': the timer payload is not JSON"),
    (b'{"triggerName": "t", "payload": "[1]"}', "field 'payload': the timer payload must be a JSON object"),
    (b'{"triggerName": "t", "payload": "{\\"months\\": [\\"2026-13\\"]}"}', "month '2026-13' is not YYYY-MM"),
    (b'{"jobs": "daily", "dry_run": "yes"}', "unknown keys ['jobs']"),
    (b'{"jobs": "daily", "dry_run": "yes"}', "'dry_run' must be true or false"),
    (b'{"triggerTime": "yesterday", "triggerName": "t"}', "'triggerTime' 'yesterday' is not an ISO"),
    (b'{"today": "2026-02-30"}', "'today' '2026-02-30' is not YYYY-MM-DD"),
    (b'{"months": []}', "'months' must be a non-empty list of YYYY-MM strings"),
])
def test_bad_fc_events(event: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_fc_event(event)
    assert message in str(caught.value)


def test_wrong_job_is_refused() -> None:
    invocation = parse_scheduler_event({"job": "monthly"})
    invocation.check_job("monthly")
    with pytest.raises(InputError, match="the event asks for job 'monthly' but this function runs 'daily'"):
        invocation.check_job("daily")


def test_lambda_event_must_be_an_object() -> None:
    with pytest.raises(InputError, match="expected a JSON object, got str"):
        parse_scheduler_event("daily")
