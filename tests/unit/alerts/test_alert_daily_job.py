"""How the deployed daily job composes the alerts: channels from the mapping, a JSON-ready result."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from chargeback.alerts.channels import EmailChannel
from chargeback.alerts.job import run_alerts
from chargeback.allocation.mapping import parse_mapping
from chargeback.delivery import OutgoingMail
from chargeback.errors import ConfigError
from chargeback.jobs.daily import DailyResult, MonthOutcome, alert_channels
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import series
from tests.support.warehouse import publish_month

MAPPING = """
cost_centers:
  search: {owners: [lead@example.com], api_keys: ["2100001"], workspaces: [llm-search], budget: {monthly: 10}}
"""


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    def send(self, mail: OutgoingMail) -> str:
        self.sent.append(mail)
        return "memory"


def test_the_daily_job_mails_alerts_to_the_owners_and_returns_json(tmp_path):
    store = LocalObjectStore(tmp_path)
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["20", "1"]))
    mapping = parse_mapping(MAPPING)
    mailer = MemoryMailer()
    channels = alert_channels(mapping, mailer, {})
    assert isinstance(channels["owners"], EmailChannel)
    run = run_alerts(store, date(2026, 5, 3), mapping, channels, now=datetime(2026, 5, 3, 9, tzinfo=UTC))
    assert [m.to for m in mailer.sent] == [("lead@example.com",)] * 3  # 50, 80 and 100% of 10
    result = DailyResult(date(2026, 5, 3), [MonthOutcome("2026-05", "ingested", "open")], run).to_dict()
    assert json.loads(json.dumps(result))["alerts"]["alerts"][0]["deliveries"][0]["status"] == "sent"


def test_webhook_channels_read_the_variables_the_mapping_names():
    mapping = parse_mapping(MAPPING + "alerts:\n  channels: {ding: {type: dingtalk, url_env: DING_URL}}\n")
    with pytest.raises(ConfigError, match="environment variable DING_URL is not set"):
        alert_channels(mapping, MemoryMailer(), {})
    channels = alert_channels(mapping, MemoryMailer(), {"DING_URL": "http://127.0.0.1:9/robot/send?access_token=t"})
    assert type(channels["ding"]).__name__ == "DingTalkChannel"
