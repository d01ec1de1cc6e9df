"""How the deployed daily job composes the alerts: channels from the mapping, a JSON-ready result."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chargeback.alerts.channels import EmailChannel
from chargeback.alerts.job import run_alerts
from chargeback.config.environment import Settings
from chargeback.errors import ConfigError
from chargeback.jobs.daily import DailyResult, MonthOutcome
from chargeback.runtime.clients import Clients
from chargeback.runtime.entry import compose
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import series
from tests.support.warehouse import publish_month

MAPPING = """
cost_centers:
  search: {owners: [lead@example.com], api_keys: ["2100001"], workspaces: [llm-search], budget: {monthly: 10}}
delivery: {sender: "Chargeback <billing@example.com>"}
"""


def environment(tmp_path: Path, mapping: str, **extra: str) -> dict[str, str]:
    (tmp_path / "mapping.yaml").write_text(mapping)
    return {"CHARGEBACK_SOURCE_URL": str(tmp_path / "bills"), "CHARGEBACK_WAREHOUSE_URL": str(tmp_path / "wh"),
            "CHARGEBACK_MAPPING_URL": str(tmp_path / "mapping.yaml"), **extra}


def test_the_daily_job_mails_alerts_to_the_owners_and_returns_json(tmp_path):
    env = environment(tmp_path, MAPPING)
    context = compose("daily", Settings.from_env(env), Clients(), env)
    assert isinstance(context.channels["owners"], EmailChannel)
    publish_month(context.warehouse, "2026-05", series(date(2026, 5, 1), ["20", "1"]))
    run = run_alerts(context.warehouse, date(2026, 5, 3), context.config, context.channels,
                     now=datetime(2026, 5, 3, 9, tzinfo=UTC))
    outbox = LocalObjectStore(tmp_path / "wh")
    mails = [info.key for info in outbox.list("outbox/") if info.key.endswith(".eml")]
    assert len(mails) == 1  # 100% of 10 (50 and 80% are superseded), to the owners, from the statements' sender
    for key in mails:
        text = outbox.read_bytes(key).decode()
        assert "To: lead@example.com" in text and "From: Chargeback <billing@example.com>" in text
    result = DailyResult(date(2026, 5, 3), [MonthOutcome("2026-05", "ingested", "open")], run).to_dict()
    alerts = json.loads(json.dumps(result))["alerts"]["alerts"]
    assert [(a["action"], a["threshold"]) for a in alerts if a["rule"] == "budget_actual"] == [
        ("superseded", "50"), ("superseded", "80"), ("new", "100")]
    assert [d["status"] for a in alerts for d in a["deliveries"]] == ["sent"]


def test_webhook_channels_read_the_variables_the_mapping_names(tmp_path):
    mapping = MAPPING + "alerts:\n  channels: {ding: {type: dingtalk, url_env: DING_URL}}\n"
    env = environment(tmp_path, mapping)
    with pytest.raises(ConfigError, match="environment variable DING_URL is not set"):
        compose("daily", Settings.from_env(env), Clients(), env)
    env["DING_URL"] = "https://oapi.dingtalk.example/robot/send?access_token=t"
    context = compose("daily", Settings.from_env(env), Clients(), env)
    assert type(context.channels["ding"]).__name__ == "DingTalkChannel"
    assert compose("monthly", Settings.from_env(env), Clients(), env).channels == {}  # statements only


def test_disabled_alerts_need_no_channel_variables(tmp_path):
    mapping = MAPPING + "alerts:\n  enabled: false\n  channels: {ding: {type: dingtalk, url_env: DING_URL}}\n"
    env = environment(tmp_path, mapping)
    assert compose("daily", Settings.from_env(env), Clients(), env).channels == {}
