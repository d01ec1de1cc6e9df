"""Webhook channels against real HTTP servers on 127.0.0.1: retries, timeouts, DingTalk signing, and a whole
alert run where one channel never answers and the others still deliver."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chargeback.alerts.channels import (
    DingTalkChannel,
    Notification,
    RetryPolicy,
    SlackChannel,
    WebhookChannel,
    build_channels,
    dingtalk_sign,
)
from chargeback.alerts.job import run_alerts
from chargeback.alerts.state import alert_state
from chargeback.config.file import parse_config_file
from chargeback.delivery.outbox import OutboxMailer
from chargeback.errors import ConfigError
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import series
from tests.support.warehouse import publish_month
from tests.support.webhook_servers import Recorder, dingtalk_checker, http_server, silent_server

NOTE = Notification(alert_id="abc123", sequence=1, reason="new", rule="budget_actual", severity="warning",
                    title="Budget 80% reached: Search <team> spent CNY 400.00", lines=("Spend & more.",),
                    footer="chargeback alerts", payload={"alert_id": "abc123", "value": "400"})
CLOCK_MS = 1_778_800_000_000
SENDER = "chargeback@example.com"


class Sleeps(list[float]):
    """An injected sleep that records the backoff instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_a_webhook_answering_500_then_200_is_retried_and_succeeds():
    recorder = Recorder([(500, b'{"error": "busy"}'), (200, b"{}")])
    sleeps = Sleeps()
    with http_server(recorder) as base:
        channel = WebhookChannel("hook", f"{base}/alerts?key=1", token="t0ken",
                                 policy=RetryPolicy(attempts=3, timeout=2, backoff=1, factor=2), sleep=sleeps)
        result = channel.send(NOTE)
    assert (result.status, result.attempts, result.errors) == ("sent", 2, ('HTTP 500: {"error": "busy"}',))
    assert sleeps == [1.0]
    assert len(recorder.requests) == 2
    request = recorder.requests[1]
    assert (request.path, request.query) == ("/alerts", {"key": ["1"]})
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["X-Chargeback-Alert"] == "abc123/1"
    assert request.body == {"alert_id": "abc123", "value": "400"}


def test_a_server_that_never_answers_times_out_and_is_recorded_as_failed():
    sleeps = Sleeps()
    with silent_server() as base:
        channel = SlackChannel("slack", f"{base}/services/T/B/X",
                               policy=RetryPolicy(attempts=3, timeout=0.5, backoff=1, factor=2), sleep=sleeps)
        result = channel.send(NOTE)
    assert (result.status, result.attempts) == ("failed", 3)
    assert result.errors == ("no answer within 0.5s",) * 3
    assert sleeps == [1.0, 2.0]
    assert base not in "".join(result.errors)  # the URL (which may hold a token) never leaks into errors


def test_a_client_error_is_not_retried():
    recorder = Recorder([(404, b"no_service")])
    with http_server(recorder) as base:
        result = SlackChannel("slack", f"{base}/x", policy=RetryPolicy(attempts=3, timeout=2),
                              sleep=Sleeps()).send(NOTE)
    assert (result.status, result.attempts, result.errors) == ("failed", 1, ("HTTP 404: no_service",))


def test_slack_gets_blocks_with_escaped_mrkdwn():
    recorder = Recorder([(200, b"ok")])
    with http_server(recorder) as base:
        SlackChannel("slack", f"{base}/x", policy=RetryPolicy(timeout=2), sleep=Sleeps()).send(NOTE)
    assert recorder.requests[0].body == {
        "text": "Budget 80% reached: Search &lt;team&gt; spent CNY 400.00",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                        "text": "Budget 80% reached: Search <team> spent CNY 400.00"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Warning* · budget_actual"}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "• Spend &amp; more."}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "chargeback alerts"}]},
        ]}


def test_dingtalk_requests_are_signed_and_the_server_verifies_the_signature():
    recorder = Recorder([], decide=dingtalk_checker("SECabc", CLOCK_MS))
    with http_server(recorder) as base:
        url = f"{base}/robot/send?access_token=robot-token"
        good = DingTalkChannel("ding", url, "SECabc", policy=RetryPolicy(timeout=2), sleep=Sleeps(),
                               clock=lambda: CLOCK_MS / 1000)
        assert good.send(NOTE).status == "sent"
        bad = DingTalkChannel("ding", url, "SECwrong", policy=RetryPolicy(attempts=3, timeout=2),
                              sleep=Sleeps(), clock=lambda: CLOCK_MS / 1000)
        result = bad.send(NOTE)
    assert (result.status, result.attempts, result.errors) == (
        "failed", 1, ("DingTalk errcode 310000: sign not match",))
    first = recorder.requests[0]
    assert first.query["timestamp"] == [str(CLOCK_MS)]
    assert first.body["msgtype"] == "markdown"
    assert first.body["markdown"]["text"].startswith("#### 🟠 Budget 80% reached")
    assert "> **Warning** · budget_actual" in first.body["markdown"]["text"]
    assert "chargeback" in first.body["markdown"]["text"]  # DingTalk robots often require a keyword


def test_the_dingtalk_signature_matches_the_documented_recipe():
    # base64(HMAC-SHA256(key=secret, msg=timestamp + "\n" + secret)), then URL-encoded (+, / and = escaped)
    sign = dingtalk_sign("this is secret", "1577262236757")
    assert "%" in sign and "+" not in sign and "/" not in sign and "=" not in sign


MAPPING = """
cost_centers:
  search:
    owners: [lead@example.com]
    workspaces: [llm-search]
    api_keys: ["2100001"]
alerts:
  default_channels: [flaky, dead, ding, finance]
  channels:
    flaky: {type: webhook, url_env: FLAKY_URL, allow_insecure: true}   # the test servers speak plain http
    dead: {type: slack, url_env: DEAD_URL, allow_insecure: true}
    ding: {type: dingtalk, url_env: DING_URL, secret_env: DING_SECRET, allow_insecure: true}
    finance: {type: email, to: [finance@example.com]}
  delivery: {timeout_seconds: 0.5, attempts: 2, backoff_seconds: 1}
"""


def test_one_channel_that_never_answers_does_not_stop_the_others(tmp_path):
    store = LocalObjectStore(tmp_path / "warehouse")
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["1"]), newest_source_time="2026-05-01T00:00:00Z")
    mapping = parse_config_file(MAPPING)
    flaky = Recorder([(500, b"oops"), (200, b"{}")])
    ding = Recorder([], decide=dingtalk_checker("SECding", CLOCK_MS))
    outbox = tmp_path / "outbox"
    day, now = date(2026, 5, 10), datetime(2026, 5, 10, 9, tzinfo=UTC)
    with http_server(flaky) as flaky_url, http_server(ding) as ding_url, silent_server() as dead_url:
        environ = {"FLAKY_URL": f"{flaky_url}/hook", "DEAD_URL": f"{dead_url}/slack",
                   "DING_URL": f"{ding_url}/robot/send?access_token=robot-token", "DING_SECRET": "SECding"}

        def channels():
            return build_channels(mapping.alerts, environ=environ, mailer=OutboxMailer(LocalObjectStore(outbox)),
                                  sender=SENDER, sleep=Sleeps(), clock=lambda: CLOCK_MS / 1000)

        run = run_alerts(store, day, mapping, channels(), now=now)
        assert [(o.rule, o.action) for o in run.outcomes] == [("stale_data", "new")]
        assert sorted((d.channel, d.status, d.attempts) for d in run.outcomes[0].deliveries) == [
            ("dead", "failed", 2), ("ding", "sent", 1), ("finance", "sent", 1), ("flaky", "sent", 2)]
        state = {"alerts": alert_state(store, "2026-05")}
        (record,) = state["alerts"].values()
        assert {d["channel"]: (d["status"], d["attempts"], d["errors"]) for d in record["deliveries"]} == {
            "flaky": ("sent", 2, ["HTTP 500: oops"]),
            "dead": ("failed", 2, ["no answer within 0.5s"] * 2),
            "ding": ("sent", 1, []),
            "finance": ("sent", 1, []),
        }
        assert [p.suffix for p in sorted(outbox.iterdir())] == [".eml", ".html"]  # one mail, to finance

        again = run_alerts(store, day, mapping, channels(), now=now)  # same date: only the failed channel
        assert [(d.channel, d.status) for d in again.outcomes[0].deliveries] == [("dead", "failed")]
        assert (len(flaky.requests), len(ding.requests)) == (2, 1)
        assert len(list(outbox.glob("*.eml"))) == 1
        # the retried delivery carried the same Idempotency-Key as the failed attempt; another channel, another key
        (key,) = {request.headers["Idempotency-Key"] for request in flaky.requests}
        assert len(key) == 32 and ding.requests[0].headers["Idempotency-Key"] != key


def test_missing_environment_variables_are_all_listed():
    settings = parse_config_file(MAPPING).alerts
    with pytest.raises(ConfigError) as error:
        build_channels(settings, environ={"DEAD_URL": "ftp://example.com/x"}, mailer=None, sender=SENDER)
    message = str(error.value)
    for expected in ("environment variable FLAKY_URL is not set", "environment variable DING_URL is not set",
                     "environment variable DING_SECRET is not set", "$DEAD_URL is not an https URL"):
        assert expected in message


def test_a_plain_http_webhook_is_refused_unless_the_channel_allows_it():
    secure = parse_config_file(MAPPING.replace(", allow_insecure: true", "")).alerts
    environ = {"FLAKY_URL": "http://hooks.example.com/x", "DEAD_URL": "https://hooks.slack.example/y",
               "DING_URL": "http://oapi.dingtalk.example/robot/send?access_token=secret-token", "DING_SECRET": "s"}
    with pytest.raises(ConfigError) as error:
        build_channels(secure, environ=environ, mailer=None, sender=SENDER)
    message = str(error.value)
    assert "alert channels: 2 problems" in message
    assert "alerts.channels.flaky: $FLAKY_URL is http://" in message
    assert "alerts.channels.ding: $DING_URL is http://" in message
    assert "use https (allow_insecure: true on the channel for a local test server only)" in message
    assert "secret-token" not in message
    allowed = build_channels(parse_config_file(MAPPING).alerts, environ=environ, mailer=None, sender=SENDER)
    assert set(allowed) == {"owners", "flaky", "dead", "ding", "finance"}
