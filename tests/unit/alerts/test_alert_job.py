"""The alert job with in-memory channels: de-duplication, re-arming, restatements, retries, dry runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chargeback.alerts.channels import DeliveryResult, EmailChannel, Notification, RetryPolicy
from chargeback.alerts.job import run_alerts
from chargeback.alerts.model import AlertDeliveryError
from chargeback.alerts.state import alert_state
from chargeback.commands.alert import format_table
from chargeback.config.file import parse_config_file
from chargeback.delivery import OutgoingMail
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import row, series
from tests.support.warehouse import publish_month

MAPPING_YAML = """
cost_centers:
  search:
    name: Search team
    owners: [lead@example.com]
    workspaces: [llm-search]
    api_keys: ["2100001"]
    budget: {monthly: 500, thresholds: [100]}
alerts:
  default_channels: [platform]
  channels:
    platform: {type: webhook, url_env: PLATFORM_HOOK_URL}
  anomaly: {dimensions: [cost_center]}
  forecast: {enabled: false}
"""
MAPPING = parse_config_file(MAPPING_YAML)


class MemoryMailer:
    """The delivery.Mailer port, in memory."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    def send(self, mail: OutgoingMail) -> str:
        self.sent.append(mail)
        return f"memory:{len(self.sent)}"


class FakeChannel:
    """A channel that records notifications; ``failures`` failed sends come first."""

    kind = "webhook"

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> DeliveryResult:
        if self.failures:
            self.failures -= 1
            return DeliveryResult(self.name, self.kind, "failed", 3, ("HTTP 500",) * 3)
        self.sent.append(notification)
        return DeliveryResult(self.name, self.kind, "sent", 1)


@pytest.fixture
def store(tmp_path):
    return LocalObjectStore(tmp_path / "warehouse")


@pytest.fixture
def mailer():
    return MemoryMailer()


def channels(mailer: MemoryMailer, platform: FakeChannel | None = None):
    owners = EmailChannel("owners", mailer, "alerts@example.com", policy=RetryPolicy(), sleep=lambda s: None)
    return {"owners": owners, "platform": platform or FakeChannel("platform")}


def now(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def spiky_may(spike: str = "190") -> list[dict]:
    # 14 steady days, a spike on 05-15, a partial 05-16: spend 14 x 10 + spike + 1
    steady = series(date(2026, 5, 1), ["10"] * 14)
    return [*steady, row(date(2026, 5, 15), spike), row(date(2026, 5, 16), "1")]


def actions(run) -> list[tuple[str, str, str]]:
    return sorted((o.action, o.rule, o.period) for o in run.outcomes)


def test_the_same_date_twice_sends_nothing_the_second_time(store, mailer):
    publish_month(store, "2026-05", spiky_may("400"))  # 541 > 500 and a spike
    day = date(2026, 5, 17)
    first = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert actions(first) == [("new", "anomaly", "2026-05-15"), ("new", "budget_actual", "2026-05")]
    # one digest for the owner lists both alerts, the most severe first
    assert [m.to for m in mailer.sent] == [("lead@example.com",)]
    assert mailer.sent[0].subject.startswith(
        "[chargeback] 2 alerts for 2026-05-17: Budget 100% reached: Search team spent CNY 541.00")
    assert len(mailer.sent[0].headers["X-Chargeback-Alert"].split(", ")) == 2
    second = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert actions(second) == [("quiet", "anomaly", "2026-05-15"), ("quiet", "budget_actual", "2026-05")]
    assert len(mailer.sent) == 1
    assert second.sent == []
    assert "Nothing new to send." in format_table(second)


def test_every_delivery_attempt_is_recorded_in_the_warehouse_state(store, mailer):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["600", "1"]))
    day = date(2026, 5, 3)
    run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    state = {"alerts": alert_state(store, "2026-05")}
    (record,) = [r for r in state["alerts"].values() if r["rule"] == "budget_actual"]
    assert record["status"] == "firing"
    assert record["value"] == "601.000000000000"
    assert record["deliveries"] == [{
        "sequence": 1, "reason": "new", "channel": "owners", "kind": "email",
        "recipients": ["lead@example.com"], "status": "sent", "attempts": 1, "errors": [],
        "at": "2026-05-03T09:00:00+00:00"}]


def test_a_new_month_re_arms_the_budget(store, mailer):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["600"]), status="final")
    publish_month(store, "2026-06", series(date(2026, 6, 1), ["300", "300", "1"]))
    june = date(2026, 6, 10)
    run = run_alerts(store, june, MAPPING, channels(mailer), now=now(june))
    assert ("new", "budget_actual", "2026-06") in actions(run)
    assert ("new", "budget_actual", "2026-05") not in actions(run)  # May is final and past the grace days
    assert alert_state(store, "2026-06")
    assert not alert_state(store, "2026-05")
    # May fired in May; June fires again because it is a new period
    may_store = LocalObjectStore(store.root.parent / "may")
    publish_month(may_store, "2026-05", series(date(2026, 5, 1), ["600", "1"]))
    first = run_alerts(may_store, date(2026, 5, 3), MAPPING, channels(mailer), now=now(date(2026, 5, 3)))
    assert ("new", "budget_actual", "2026-05") in actions(first)
    publish_month(may_store, "2026-06", series(date(2026, 6, 1), ["600", "1"]))
    again = run_alerts(may_store, date(2026, 6, 3), MAPPING, channels(mailer), now=now(date(2026, 6, 3)))
    assert ("new", "budget_actual", "2026-06") in actions(again)
    assert ("quiet", "budget_actual", "2026-05") in actions(again)  # in the grace days: evaluated, quiet


def test_a_restated_anomaly_day_re_fires_once_then_stays_quiet(store, mailer):
    platform = FakeChannel("platform")
    publish_month(store, "2026-05", spiky_may("190"))
    day = date(2026, 5, 17)
    run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day))
    publish_month(store, "2026-05", spiky_may("320"))  # the bill restates 05-15
    restated = run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day))
    assert actions(restated) == [("restated", "anomaly", "2026-05-15")]
    outcome = restated.outcomes[0]
    assert (outcome.sequence, outcome.previous_value) == (2, Decimal("190.000000000000"))
    mail = mailer.sent[-1]
    assert mail.headers["X-Chargeback-Alert"].endswith("/2")
    assert "Restated: the bill data changed; the number is now CNY 320.00 (was CNY 190.00" in mail.text
    assert run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day)).sent == []


def test_a_small_restatement_within_tolerance_stays_quiet(store, mailer):
    publish_month(store, "2026-05", spiky_may("190"))
    day = date(2026, 5, 17)
    run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    publish_month(store, "2026-05", spiky_may("191"))  # +0.5%, under the 1% tolerance
    assert actions(run_alerts(store, day, MAPPING, channels(mailer), now=now(day))) == [
        ("quiet", "anomaly", "2026-05-15")]


def test_an_anomaly_restated_away_is_cleared_and_fires_again_if_it_returns(store, mailer):
    publish_month(store, "2026-05", spiky_may("190"))
    day = date(2026, 5, 17)
    run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    publish_month(store, "2026-05", spiky_may("10"))
    cleared = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert actions(cleared) == [("cleared", "anomaly", "2026-05-15")]
    assert "No longer holds after restated data; cleared." in format_table(cleared)
    sent_before = len(mailer.sent)
    assert run_alerts(store, day, MAPPING, channels(mailer), now=now(day)).outcomes == ()
    publish_month(store, "2026-05", spiky_may("190"))
    back = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert actions(back) == [("restated", "anomaly", "2026-05-15")]
    assert len(mailer.sent) == sent_before + 1


def test_a_failed_channel_is_retried_alone_by_the_next_run_then_given_up(store, mailer):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["1"]), newest_source_time="2026-05-01T00:00:00Z")
    day = date(2026, 5, 10)
    platform = FakeChannel("platform", failures=10)
    first = run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day))
    assert actions(first) == [("new", "stale_data", "2026-05-01T00:00:00+00:00")]
    assert [(d.channel, d.status, d.attempts) for _, d in first.failed] == [("platform", "failed", 3)]
    with pytest.raises(AlertDeliveryError, match=r"1 alert deliveries failed .* platform \(HTTP 500\)"):
        first.raise_for_failures()
    second = run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day))
    assert actions(second) == [("retry", "stale_data", "2026-05-01T00:00:00+00:00")]
    third = run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day))
    assert actions(third) == [("retry", "stale_data", "2026-05-01T00:00:00+00:00")]
    gave_up = run_alerts(store, day, MAPPING, channels(mailer, platform), now=now(day))  # max_runs 3
    assert actions(gave_up) == [("quiet", "stale_data", "2026-05-01T00:00:00+00:00")]
    state = {"alerts": alert_state(store, "2026-05")}
    (record,) = state["alerts"].values()
    assert [d["status"] for d in record["deliveries"]] == ["failed"] * 3


def test_a_retry_sends_only_to_the_channel_that_failed(store, mailer):
    mapping = parse_config_file("""
cost_centers:
  search: {owners: [lead@example.com], workspaces: [llm-search], api_keys: ["2100001"],
           channels: [owners, platform],
           budget: {monthly: 100, thresholds: [100]}}
alerts:
  channels: {platform: {type: webhook, url_env: PLATFORM_HOOK_URL}}
""")
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["150", "1"]))
    day = date(2026, 5, 3)
    platform = FakeChannel("platform", failures=1)
    run_alerts(store, day, mapping, channels(mailer, platform), now=now(day))
    assert len(mailer.sent) == 1 and platform.sent == []
    retry = run_alerts(store, day, mapping, channels(mailer, platform), now=now(day))
    assert [(d.channel, d.status) for _, d in retry.sent] == [("platform", "sent")]
    assert len(mailer.sent) == 1  # the owners already had it
    assert platform.sent[0].reason == "retry"


def test_a_dry_run_sends_and_stores_nothing(store, mailer):
    publish_month(store, "2026-05", spiky_may("400"))
    day = date(2026, 5, 17)
    run = run_alerts(store, day, MAPPING, {}, now=now(day), dry_run=True)
    assert actions(run) == [("new", "anomaly", "2026-05-15"), ("new", "budget_actual", "2026-05")]
    assert [r.channel for r in run.outcomes[0].planned] == ["owners"]
    assert not alert_state(store, "2026-05")
    table = format_table(run, width=120)
    assert "dry run: nothing sent, no state written" in table
    assert "would send" in table


def test_an_alert_whose_channel_is_missing_is_undelivered_never_recorded_and_goes_out_later(store, mailer):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["600", "1"]))
    day = date(2026, 5, 3)
    run = run_alerts(store, day, MAPPING, {}, now=now(day))
    assert [(o.action, o.rule) for o in run.undelivered] == [("undelivered", "budget_actual")]
    assert run.failed == [] and run.sent == []
    assert alert_state(store, "2026-05") == {}  # nothing recorded as sent
    assert run.undelivered_lines() == [
        "undelivered: budget_actual for cost center Search team (2026-05): no channel; name a channel in the "
        "cost center's channels or alerts.default_channels (it goes out once one exists)"]
    with pytest.raises(AlertDeliveryError, match="1 alerts have no channel to go to \\(rules: budget_actual\\)"):
        run.raise_for_failures()
    later = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert [(o.action, o.rule) for o in later.outcomes] == [("new", "budget_actual")]
    assert [m.to for m in mailer.sent] == [("lead@example.com",)]


def test_the_table_says_what_fired_and_why(store, mailer):
    publish_month(store, "2026-05", spiky_may("400"))
    day = date(2026, 5, 17)
    table = format_table(run_alerts(store, day, MAPPING, channels(mailer), now=now(day)), width=120)
    assert table.splitlines()[:4] == [
        "Alerts for 2026-05-17",
        "  Data through 2026-05-16 (newest billing date; 1 day behind 2026-05-17); "
        "complete through 2026-05-15.",
        "ACTION  RULE           SUBJECT                  THRESHOLD  PERIOD      VALUE       SENT TO",
        "------  -------------  -----------------------  ---------  ----------  ----------  -------",
    ]
    assert ("new     anomaly        cost center Search team             2026-05-15  CNY 400.00  "
            "owners ok") in table
    assert "* Budget 100% reached: Search team spent CNY 541.00 of CNY 500.00 in 2026-05" in table
    assert table.rstrip().endswith("2 to act on, 0 superseded by a higher threshold, 0 already sent (quiet); "
                                   "deliveries: 2 sent, 0 failed, 0 undelivered.")


def test_the_table_explains_only_the_highest_threshold_crossed(store, mailer):
    """A budget past 50, 80 and 100% at once sends the 100% alert; the table lists the lower two as superseded,
    and "Why:" explains only the one that went out (the lower ones would repeat its figures)."""
    mapping = parse_config_file(MAPPING_YAML.replace("thresholds: [100]", "thresholds: [50, 80, 100]"))
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["600", "1"]))
    day = date(2026, 5, 3)
    table = format_table(run_alerts(store, day, mapping, channels(mailer), now=now(day)), width=120)
    rows = [line.split()[0] for line in table.split("Why:")[0].splitlines() if "budget_actual" in line]
    assert rows == ["superseded", "superseded", "new"]
    why = [line for line in table.split("Why:")[1].splitlines() if line.startswith("* ")]
    assert why == ["* Budget 100% reached: Search team spent CNY 601.00 of CNY 500.00 in 2026-05"]
    assert "1 to act on, 2 superseded by a higher threshold" in table


def test_disabled_alerts_do_nothing(store, mailer):
    mapping = parse_config_file("alerts: {enabled: false}\n")
    run = run_alerts(store, date(2026, 5, 3), mapping, channels(mailer), now=now(date(2026, 5, 3)))
    assert run.outcomes == ()
    assert run.notes == ("Alerts are disabled in the mapping (alerts.enabled: false).",)


class DiesAfterTheServerAccepts(MemoryMailer):
    """Takes the first message, then the run dies before it can record the delivery."""

    def send(self, mail: OutgoingMail) -> str:
        reference = super().send(mail)
        if len(self.sent) == 1:
            raise KeyboardInterrupt("killed after the mail server accepted the message")
        return reference


def test_a_run_that_dies_after_a_delivery_is_followed_by_one_resend_with_the_same_key(store):
    publish_month(store, "2026-05", spiky_may("400"))
    day = date(2026, 5, 17)
    mailer = DiesAfterTheServerAccepts()
    with pytest.raises(KeyboardInterrupt):
        run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    again = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert sorted((o.action, o.rule) for o in again.outcomes) == [("new", "anomaly"), ("new", "budget_actual")]
    # both alerts go to the owners in one digest; the run died after the server accepted it, so the next run sent
    # it once more: the same digest of the same alerts and sequences, with the same Message-ID
    ids = [m.headers["Message-ID"] for m in mailer.sent]
    assert len(ids) == 2 and ids[0] == ids[1] and ids[0].startswith("<alert-digest.")
    assert mailer.sent[0].headers["X-Chargeback-Alert"] == mailer.sent[1].headers["X-Chargeback-Alert"]
    for record in alert_state(store, "2026-05").values():  # each recorded as delivered once
        assert [(d["channel"], d["status"]) for d in record["deliveries"]] == [("owners", "sent")]
    third = run_alerts(store, day, MAPPING, channels(mailer), now=now(day))
    assert {o.action for o in third.outcomes} == {"quiet"} and len(mailer.sent) == 2
