"""Alerts people act on: one budget alert per subject naming the highest threshold crossed, digests in the
reader's language, nothing recorded for an alert without a channel."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from chargeback.alerts.channels import EmailChannel, RetryPolicy
from chargeback.alerts.job import run_alerts
from chargeback.alerts.state import alert_state
from chargeback.alerts.words import phrase
from chargeback.config.file import parse_config_file
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import series
from tests.support.warehouse import publish_month
from tests.unit.alerts.test_alert_job import FakeChannel, MemoryMailer

MAPPING = """
cost_centers:
  search:
    name: Search team
    owners: [lead@example.com]
    workspaces: [llm-search]
    api_keys: ["2100001"]
    budget: {monthly: 500, thresholds: [50, 80, 100]}
  labs:
    name: Labs
    owners: [labs@example.com]
    locale: zh
    api_keys: ["2300001"]
    budget: {monthly: 100}
alerts:
  default_channels: [platform]
  channels:
    platform: {type: webhook, url_env: PLATFORM_HOOK_URL}
  budgets:
    - {workspace: llm-search, monthly: 400, thresholds: [50, 80, 100], channels: [platform]}
  anomaly: {enabled: false}
  forecast: {enabled: false}
  stale_after_hours: 100000
"""


def channels(mailer: MemoryMailer, platform: FakeChannel):
    owners = EmailChannel("owners", mailer, "alerts@example.com", policy=RetryPolicy(), sleep=lambda s: None)
    return {"owners": owners, "platform": platform}


def spend(store, *days: tuple[int, str, str]) -> None:
    rows = []
    for day, amount, key in days:
        rows += series(date(2026, 5, day), [amount], api_key_id=key,
                       cost_center="labs" if key == "2300001" else "search",
                       workspace_id="llm-search" if key == "2100001" else "llm-labs")
    publish_month(store, "2026-05", rows)


def test_past_100_percent_exactly_one_budget_alert_per_subject_goes_out_naming_100(tmp_path):
    store = LocalObjectStore(tmp_path)
    spend(store, (1, "600", "2100001"), (2, "1", "2100001"), (1, "150", "2300001"), (2, "1", "2300001"))
    mapping = parse_config_file(MAPPING)
    mailer, platform = MemoryMailer(), FakeChannel("platform")
    run = run_alerts(store, date(2026, 5, 3), mapping, channels(mailer, platform), now=datetime(2026, 5, 3, tzinfo=UTC))
    delivered = sorted((o.alert.subject.ref, o.alert.threshold) for o in run.outcomes
                       if o.rule == "budget_actual" and o.deliveries)
    assert delivered == [("cost_center:labs", "100"), ("cost_center:search", "100"), ("workspace:llm-search", "100")]
    superseded = sorted((o.alert.subject.ref, o.alert.threshold) for o in run.outcomes if o.action == "superseded")
    assert superseded == [("cost_center:labs", "50"), ("cost_center:labs", "80"), ("cost_center:search", "50"),
                          ("cost_center:search", "80"), ("workspace:llm-search", "50"), ("workspace:llm-search", "80")]
    assert [n.title for n in platform.sent] == [
        "Budget 100% reached: llm-search spent CNY 601.00 of CNY 400.00 in 2026-05"]
    assert sorted(m.subject for m in mailer.sent) == [
        "[chargeback] Budget 100% reached: Search team spent CNY 601.00 of CNY 500.00 in 2026-05",
        "[chargeback] 预算已达 100%：Labs 在 2026-05 已花费 CNY 151.00，预算 CNY 100.00"]
    state = alert_state(store, "2026-05")
    assert sorted((r["subject"], r["threshold"], r["status"]) for r in state.values()) == [
        ("cost_center:labs", "100", "firing"), ("cost_center:labs", "50", "superseded"),
        ("cost_center:labs", "80", "superseded"), ("cost_center:search", "100", "firing"),
        ("cost_center:search", "50", "superseded"), ("cost_center:search", "80", "superseded"),
        ("workspace:llm-search", "100", "firing"), ("workspace:llm-search", "50", "superseded"),
        ("workspace:llm-search", "80", "superseded")]
    # the next run sends nothing: the superseded ones are never sent later either
    again = run_alerts(store, date(2026, 5, 3), mapping, channels(mailer, platform),
                       now=datetime(2026, 5, 3, tzinfo=UTC))
    assert {o.action for o in again.outcomes} == {"quiet"}
    assert (len(mailer.sent), len(platform.sent)) == (2, 1)


def test_thresholds_crossed_on_different_days_go_out_one_by_one(tmp_path):
    store = LocalObjectStore(tmp_path)
    mapping = parse_config_file(MAPPING)
    mailer, platform = MemoryMailer(), FakeChannel("platform")
    spend(store, (1, "260", "2100001"), (2, "1", "2100001"))
    run_alerts(store, date(2026, 5, 3), mapping, channels(mailer, platform), now=datetime(2026, 5, 3, tzinfo=UTC))
    spend(store, (1, "260", "2100001"), (2, "1", "2100001"), (3, "240", "2100001"), (4, "1", "2100001"))
    run = run_alerts(store, date(2026, 5, 5), mapping, channels(mailer, platform), now=datetime(2026, 5, 5, tzinfo=UTC))
    fired = sorted((o.alert.subject.ref, o.alert.threshold, o.action) for o in run.outcomes
                   if o.rule == "budget_actual" and o.action != "quiet")
    assert fired == [("cost_center:search", "100", "new"), ("cost_center:search", "80", "superseded"),
                     ("workspace:llm-search", "100", "new"), ("workspace:llm-search", "80", "superseded")]


def test_the_digest_is_html_and_text_in_the_readers_language(tmp_path):
    store = LocalObjectStore(tmp_path)
    spend(store, (1, "150", "2300001"), (2, "1", "2300001"))
    mailer = MemoryMailer()
    run_alerts(store, date(2026, 5, 3), parse_config_file(MAPPING), channels(mailer, FakeChannel("platform")),
               now=datetime(2026, 5, 3, tzinfo=UTC))
    (mail,) = mailer.sent
    assert mail.headers["Content-Language"] == "zh-CN"
    assert "2026-05 截至目前花费 CNY 151.00，占月预算 CNY 100.00 的 151%（阈值 100%）。" in mail.text
    assert mail.html is not None and "预算已达 100%：Labs" in mail.html and "<!--[if mso]>" in mail.html


def test_a_phrase_is_its_english_text_and_speaks_chinese_on_request():
    text = phrase("budget.title", threshold="80", name="Search", actual="CNY 400.00", budget="CNY 500.00",
                  month="2026-05")
    assert text == "Budget 80% reached: Search spent CNY 400.00 of CNY 500.00 in 2026-05"
    assert text.in_locale("zh") == "预算已达 80%：Search 在 2026-05 已花费 CNY 400.00，预算 CNY 500.00"
    assert json.loads(json.dumps({"title": text})) == {"title": str(text)}
