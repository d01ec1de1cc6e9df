"""The function handlers with realistic events, on local stores: failures raise and are logged once."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from functions.daily import handler as daily
from functions.monthly import handler as monthly

from chargeback.config.environment import Settings
from chargeback.errors import ConfigError, InputError
from chargeback.runtime import entry

LAMBDA_CONTEXT = SimpleNamespace(aws_request_id="0f7a1a4e-3c55-4b64-9f0c-1f2d7c1b9a10",
                                 function_name="chargeback-daily")
FC_CONTEXT = SimpleNamespace(
    request_id="1-6655f2a1-0c3f1e2d4b5a",
    credentials=SimpleNamespace(access_key_id="STS.NTest", access_key_secret="sts-secret",
                                security_token="CAIStoken"),
    function=SimpleNamespace(name="chargeback-daily"), region="cn-hangzhou",
)


def fc_timer(payload: dict[str, object], when: str = "2026-06-05T03:30:00Z") -> bytes:
    return json.dumps({"triggerTime": when, "triggerName": "timer", "payload": json.dumps(payload)}).encode()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A function environment on local folders; tests add to it through ``set_env``."""
    for name in Settings.env_names():
        monkeypatch.delenv(name, raising=False)
    values = {"CHARGEBACK_SOURCE_URL": str(tmp_path / "bills"),
              "CHARGEBACK_WAREHOUSE_URL": (tmp_path / "warehouse").as_uri()}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def error_lines(text: str) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry["level"] == "ERROR"]


def test_bad_setting_fails_at_start_naming_it(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CHARGEBACK_FINAL_DAY", "thirty")
    monkeypatch.setenv("CHARGEBACK_DELIVERY", "fax")
    event = {"job": "daily", "scheduled_time": "2026-06-02T02:30:00Z"}
    with pytest.raises(ConfigError) as caught:
        daily.lambda_handler(event, LAMBDA_CONTEXT)
    assert "CHARGEBACK_FINAL_DAY: 'thirty' is not a whole number" in str(caught.value)
    assert "CHARGEBACK_DELIVERY: 'fax' is not one of outbox, smtp, ses" in str(caught.value)
    [logged] = error_lines(capsys.readouterr().err)
    assert logged["job"] == "daily"
    assert logged["error"] == "ConfigError"
    assert logged["request_id"] == LAMBDA_CONTEXT.aws_request_id
    assert "CHARGEBACK_FINAL_DAY" in str(logged["message"])


def test_missing_required_setting_on_fc(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CHARGEBACK_WAREHOUSE_URL")
    with pytest.raises(ConfigError, match="CHARGEBACK_WAREHOUSE_URL: required"):
        monthly.handler(fc_timer({"job": "monthly"}), FC_CONTEXT)
    [logged] = error_lines(capsys.readouterr().err)
    assert (logged["job"], logged["error"], logged["request_id"]) == ("monthly", "ConfigError",
                                                                      FC_CONTEXT.request_id)


def test_failing_job_raises(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("cost_centers:\n  search: {owners: [not-an-address]}\n")
    monkeypatch.setenv("CHARGEBACK_MAPPING_URL", str(mapping))
    with pytest.raises(ConfigError, match=r"cost_centers\.search\.owners"):
        daily.handler(fc_timer({"job": "daily"}), FC_CONTEXT)
    [logged] = error_lines(capsys.readouterr().err)
    assert logged["error"] == "ConfigError"
    assert "Traceback" in str(logged["exception"])


def test_event_for_another_job_is_refused(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="the event asks for job 'daily' but this function runs 'monthly'"):
        monthly.lambda_handler({"job": "daily"}, LAMBDA_CONTEXT)
    assert len(error_lines(capsys.readouterr().err)) == 1


def test_bad_payload_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(InputError, match="unknown keys"):
        daily.handler(fc_timer({"job": "daily", "month": "2026-05"}), FC_CONTEXT)


def test_monthly_waits_for_the_final_bill(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # 2026-06-05 03:30 UTC is the 5th in Shanghai: before CHARGEBACK_FINAL_DAY (6), May is not final yet
    result = monthly.lambda_handler({"job": "monthly", "scheduled_time": "2026-06-05T03:30:00Z"},
                                    LAMBDA_CONTEXT)
    assert result == {"job": "monthly", "day": "2026-06-05",
                      "months": [{"month": "2026-05", "action": "waiting", "kind": "", "statements": 0}]}
    err = capsys.readouterr().err
    assert error_lines(err) == []
    started = [json.loads(line) for line in err.splitlines() if "job starts" in line]
    assert started[0]["settings"]["CHARGEBACK_FINAL_DAY"] == "6"


def test_monthly_raises_when_the_month_is_missing_after_the_final_day(env: dict[str, str]) -> None:
    with pytest.raises(InputError, match="day 7 is past CHARGEBACK_FINAL_DAY=6"):
        monthly.handler(fc_timer({"job": "monthly"}, when="2026-06-07T03:30:00Z"), FC_CONTEXT)


def test_monthly_backfill_of_a_month_never_ingested(env: dict[str, str]) -> None:
    with pytest.raises(InputError, match="month 2026-03 is not in file://"):
        monthly.handler(fc_timer({"job": "monthly", "months": ["2026-03"]}), FC_CONTEXT)


def test_settings_are_read_once_per_warm_container(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    entry._settings.cache_clear()
    event = {"job": "monthly", "scheduled_time": "2026-06-05T03:30:00Z"}
    monthly.lambda_handler(event, LAMBDA_CONTEXT)
    monthly.lambda_handler(event, LAMBDA_CONTEXT)
    assert (entry._settings.cache_info().misses, entry._settings.cache_info().hits) == (1, 1)
    monkeypatch.setenv("CHARGEBACK_FINAL_DAY", "4")  # a changed environment is read again: day 5 is now late
    with pytest.raises(InputError, match="day 5 is past CHARGEBACK_FINAL_DAY=4"):
        monthly.lambda_handler(event, LAMBDA_CONTEXT)
    assert entry._settings.cache_info().misses == 2
