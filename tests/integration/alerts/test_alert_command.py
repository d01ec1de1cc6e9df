"""``chargeback alert`` on real files: a warehouse folder, a mapping file, an outbox folder."""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from email import message_from_bytes

import pytest

from chargeback.alerts.model import AlertDeliveryError
from chargeback.alerts.state import alert_state
from chargeback.commands import alert
from chargeback.errors import ConfigError
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import row, series
from tests.support.smtp import free_port
from tests.support.warehouse import publish_month
from tests.support.webhook_servers import Recorder, http_server

MAPPING = """
cost_centers:
  search:
    name: Search team
    owners: [lead@example.com]
    workspaces: [llm-search]
    api_keys: ["2100001"]
    budget: {monthly: 500, thresholds: [50, 80, 100]}
alerts:
  sender: chargeback@example.com
  default_channels: [platform]
  channels:
    platform: {type: webhook, url_env: CHARGEBACK_TEST_PLATFORM_URL, allow_insecure: true}  # a local server
  forecast: {enabled: false}
  stale_after_hours: 100000
  delivery: {backoff_seconds: 0}
"""


def chargeback_alert(*argv: str) -> int:
    """The subcommand as ``chargeback`` wires it (register + handler)."""
    parser = argparse.ArgumentParser(prog="chargeback")
    alert.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["alert", *argv])
    result: int = args.handler(args)
    return result


@pytest.fixture
def setup(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse"
    steady = series(date(2026, 5, 1), ["20"] * 14)
    publish_month(LocalObjectStore(warehouse), "2026-05",
                [*steady, row(date(2026, 5, 15), "300", model="qwen-max"), row(date(2026, 5, 16), "1")])
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    platform = Recorder([(200, b"{}")])
    with http_server(platform) as url:
        monkeypatch.setenv("CHARGEBACK_TEST_PLATFORM_URL", f"{url}/hook")
        yield warehouse, mapping, tmp_path / "outbox", platform


def test_the_command_sends_to_the_outbox_prints_a_table_and_is_quiet_the_second_time(setup, capsys):
    warehouse, mapping, outbox, platform = setup
    args = ["--warehouse", str(warehouse), "--date", "2026-05-17", "--mapping", str(mapping),
            "--outbox", str(outbox), "--format", "table"]
    assert chargeback_alert(*args) == 0
    table = capsys.readouterr().out
    assert "budget_actual  cost center Search team  100%" in table
    assert "anomaly" in table and "Top contributors: qwen-max · key 2100001 · input · api" in table
    assert re.search(r"superseded\s+budget_actual\s+cost center Search team\s+50%", table)
    mails = sorted(outbox.glob("*.eml"))
    # one digest to the owner: budget 100% (50 and 80% superseded) and the anomalies of the cost center,
    # workspace and key
    assert len(mails) == 1
    message = message_from_bytes(mails[0].read_bytes())
    assert message["From"] == "chargeback@example.com"
    assert message["To"] == "lead@example.com"
    assert len(message["X-Chargeback-Alert"].split(",")) == 4  # a long header is folded
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}
    assert chargeback_alert(*args) == 0
    assert "Nothing new to send." in capsys.readouterr().out
    assert len(list(outbox.glob("*.eml"))) == 1
    # a model's anomaly has no owning cost center: it goes to the default channel
    assert [(r.body["rule"], r.body["subject"]["id"]) for r in platform.requests] == [
        ("anomaly", "qwen-max")]


def test_a_dry_run_needs_no_secrets_and_writes_nothing(setup, capsys, monkeypatch):
    warehouse, mapping, outbox, _ = setup
    monkeypatch.delenv("CHARGEBACK_TEST_PLATFORM_URL")
    assert chargeback_alert("--warehouse", warehouse.as_uri(), "--date", "2026-05-17",
                            "--mapping", str(mapping), "--dry-run", "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dry_run"] is True
    assert {a["rule"] for a in summary["alerts"]} == {"budget_actual", "anomaly"}
    assert not (warehouse / "state").exists()
    assert not outbox.exists()


def test_a_failed_delivery_fails_the_command_after_recording_it(setup, capsys):
    warehouse, mapping, _, _ = setup
    # no --outbox: the owners' e-mail goes through the configured backend, here a mail server that is down;
    # the failure is recorded and reported, exit code 1 via the CLI
    mapping.write_text(MAPPING + f"delivery: {{backend: smtp, smtp: {{host: 127.0.0.1, port: {free_port()}, "
                                 "security: none, timeout: 2}}\n")
    with pytest.raises(AlertDeliveryError, match="owners ") as error:
        chargeback_alert("--warehouse", str(warehouse), "--date", "2026-05-17", "--mapping", str(mapping),
                         "--format", "json")
    assert error.value.exit_code == 1
    summary = json.loads(capsys.readouterr().out)
    assert {d["status"] for a in summary["alerts"] for d in a["deliveries"] if d["channel"] == "owners"} == {
        "failed"}
    recorded = alert_state(LocalObjectStore(warehouse), "2026-05")
    assert {d["status"] for r in recorded.values() for d in r["deliveries"] if d["channel"] == "owners"} == {"failed"}


def test_without_outbox_alerts_go_through_the_configured_backend(setup, capsys):
    warehouse, mapping, _, _ = setup
    assert chargeback_alert("--warehouse", str(warehouse), "--date", "2026-05-17", "--mapping", str(mapping),
                            "--format", "json") == 0
    mails = sorted((warehouse / "outbox").glob("*.eml"))  # the default backend: outbox/ in the warehouse
    assert len(mails) == 1  # the owner's digest
    assert {message_from_bytes(m.read_bytes())["From"] for m in mails} == {"chargeback@example.com"}


def test_missing_channel_variables_fail_before_anything_is_evaluated(setup, monkeypatch):
    warehouse, mapping, outbox, _ = setup
    monkeypatch.delenv("CHARGEBACK_TEST_PLATFORM_URL")
    with pytest.raises(ConfigError, match="environment variable CHARGEBACK_TEST_PLATFORM_URL is not set"):
        chargeback_alert("--warehouse", str(warehouse), "--date", "2026-05-17", "--mapping", str(mapping),
                         "--outbox", str(outbox))
    assert not (warehouse / "state").exists()


def test_a_bad_date_is_a_usage_error(setup, capsys):
    warehouse, _, _, _ = setup
    with pytest.raises(SystemExit) as error:
        chargeback_alert("--warehouse", str(warehouse), "--date", "2026-13-01")
    assert error.value.code == 2
    assert "'2026-13-01' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
