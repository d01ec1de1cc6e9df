"""The configuration through ``chargeback`` itself: bad files end in exit 2 with a clear message (never a
traceback), nothing is read or written first, the run summary warns about a mapping that does not fit the
bill, and the command line honours the environment and the file exactly as the functions do."""

from __future__ import annotations

import json
from email import message_from_bytes
from pathlib import Path

import pytest

from chargeback.cli import main
from chargeback.config.environment import Settings
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import read_manifest
from tests.support.allocations import MONTH, publish_sample
from tests.support.v2_bills import v2_key, v2_row, v2_zip

SEARCH = "2100001;llm-ws0000000000000a;qwen-plus;input_token;;0"
MAY = [v2_row(1, "20260514", SEARCH, "12.5"), v2_row(2, "20260520", SEARCH, "7.25")]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.env_names() | {"OSS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"}:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bills(tmp_path: Path) -> Path:
    LocalObjectStore(tmp_path / "bills").write_bytes(
        v2_key("bills", "202605", "20260603170000").removeprefix("bills/"), v2_zip("202605", MAY))
    return tmp_path / "bills"


def chargeback(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-format", "text", *argv])
    out, err = capsys.readouterr()
    return code, out, err


LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True))


@pytest.mark.parametrize(("text", "expected"), [
    ('cost_centers:\n  a: {api_keys: [{id: "1", from: 2026-13-45}]}\n',
     "line 2: cost_centers.a.api_keys[0].from: '2026-13-45' is not a real date (write YYYY-MM-DD)"),
    ("cost_centers: " + "[" * 10_000 + "]" * 10_000, "line 1: the YAML is nested more than 50 levels deep"),
    (LAUGHS, "line 1: the YAML expands to more than 100,000 values"),
    ("cost_centers:\n  a: {api_keys: [0123456]}\n  a: {}\n",
     '2 problems:\n  line 2, cost_centers.a.api_keys[0]: YAML reads 0123456 as the number 42798: write it in quotes '
     '("0123456")'),
    ("cost_centers:\n  a: {}\n  a: {owners: [x@example.com]}\n",
     "line 3: cost_centers.a: 'a' is defined twice (lines 2 and 3): keep one"),
])
def test_a_bad_file_exits_2_before_any_bill_is_read(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     bills: Path, text: str, expected: str) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(text)
    code, out, err = chargeback(capsys, "run", "--source", str(bills), "--warehouse", str(tmp_path / "wh"),
                                "--month", "2026-05", "--mapping", str(mapping))
    assert code == 2
    assert f"error: {mapping}{', ' if expected.startswith('line') else ': '}{expected}" in err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "wh").exists()


def test_the_run_summary_warns_about_a_mapping_that_does_not_fit_the_bill(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, bills: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('cost_centers:\n  search:\n    api_keys: ["2100009", {id: "2100008", until: 2026-04-30}]\n'
                       "    workspaces: [llm-ws00000000000zzz]\n")
    code, out, _ = chargeback(capsys, "run", "--source", str(bills), "--warehouse", str(tmp_path / "wh"),
                              "--month", "2026-05", "--mapping", str(mapping))
    assert code == 0
    warnings = [line.strip() for line in out.splitlines() if line.strip().startswith("warning:")]
    assert warnings == [
        "warning: API key '2100009' of cost center 'search' does not appear in the 2026-05 bill: check the ID in "
        "the mapping",
        "warning: workspace 'llm-ws00000000000zzz' of cost center 'search' does not appear in the 2026-05 bill: "
        "check the ID in the mapping",
        "warning: all of 2026-05's cost (19.75 CNY) is unallocated: no API key or workspace of the mapping "
        "matches the bill",
    ]  # 2100008 was assigned only until April: not expected in May's bill
    manifest = read_manifest(LocalObjectStore(tmp_path / "wh"), "2026-05")
    assert manifest is not None and [f"warning: {w}" for w in manifest.warnings] == warnings
    # an unchanged rerun reads nothing, and still says so
    code, out, _ = chargeback(capsys, "run", "--source", str(bills), "--warehouse", str(tmp_path / "wh"),
                              "--month", "2026-05", "--mapping", str(mapping))
    assert "unchanged since the last run" in out and out.count("warning:") == 3

    mapping.write_text('cost_centers:\n  search: {api_keys: ["2100001"]}\n')
    code, out, _ = chargeback(capsys, "run", "--source", str(bills), "--warehouse", str(tmp_path / "wh"),
                              "--month", "2026-05", "--mapping", str(mapping))
    assert code == 0 and "warning:" not in out


def test_report_honours_the_environment_like_the_monthly_job(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = LocalObjectStore(tmp_path / "wh")
    publish_sample(warehouse)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('cost_centers:\n  search: {owners: [lead@search.example.com], workspaces: [llm-search]}\n'
                       'delivery: {sender: "File <file@example.com>", finance_cc: [finance@example.com]}\n')
    monkeypatch.setenv("CHARGEBACK_SENDER", "billing@example.com")
    code, _, err = chargeback(capsys, "report", "--warehouse", str(tmp_path / "wh"), "--month", MONTH,
                              "--mapping", str(mapping), "--only", "search")
    assert code == 0, err
    [eml] = [info.key for info in warehouse.list("outbox/") if info.key.endswith(".eml")]
    message = message_from_bytes(warehouse.read_bytes(eml))
    # finance gets the finance statement, not a copy of the team's
    assert (message["From"], message["To"], message["Cc"]) == ("billing@example.com", "lead@search.example.com",
                                                               None)


def test_plain_http_endpoints_are_refused_for_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://s3.internal.example:9000")
    code, _, err = chargeback(capsys, "reconcile", "--warehouse", str(tmp_path), "--month", MONTH)
    assert code == 2
    assert "AWS_ENDPOINT_URL: 'http://s3.internal.example:9000' is not https" in err
    monkeypatch.setenv("CHARGEBACK_ALLOW_INSECURE", "true")
    code, _, err = chargeback(capsys, "reconcile", "--warehouse", str(tmp_path), "--month", MONTH)
    assert code == 2 and "is not in" in err  # past the check: the month is simply not there


def test_estimate_prices_on_the_file_s_site_unless_site_is_given(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("pricing: {site: cn}\n")
    argv = ["estimate", "--model", "qwen-plus", "--text", "Nice to meet you.", "--on", "2026-05-01", "--json"]
    by_file = json.loads(chargeback(capsys, *argv, "--mapping", str(mapping))[1])
    by_option = json.loads(chargeback(capsys, *argv, "--mapping", str(mapping), "--site", "intl")[1])
    by_default = json.loads(chargeback(capsys, *argv)[1])
    assert (by_file["currency"], by_option["currency"], by_default["currency"]) == ("CNY", "USD", "USD")
