"""Every usage type Model Studio bills today, as hand-made bill rows through ``chargeback run``: each lands in
the right normalized columns (``io_type``, ``context_tier``, ``batch``, ``thinking``) with exact totals, and an
unknown one is kept raw with ``io_type`` 'other', counted and listed in the run summary and the manifest."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.cli import main
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import UnknownUsageType, read_manifest
from chargeback.warehouse.read import read_lines
from tests.support.v2_bills import v2_key, v2_row, v2_zip

D = Decimal
KEY, WORKSPACE = "2100001", "llm-ws0000000000000a"

# usage type -> (io_type, context_tier, batch, thinking), and each row's payable (distinct, so totals tell
# the rows apart); two rows of the first type, on two days, merge per day only
EXPECTED: dict[str, tuple[str, str, bool, bool]] = {
    "input_token": ("input", "", False, False),
    "output_token": ("output", "", False, False),
    "text_input_token": ("input", "", False, False),
    "audio_input_token": ("input", "", False, False),
    "purein_text_output_token": ("output", "", False, False),
    "multiin_text_output_token": ("output", "", False, False),
    "context_0-256k_input_token": ("input", "0-256k", False, False),
    "context_0-256k_output_token": ("output", "0-256k", False, False),
    "context_32k-128k_input_token_cache_creation_5m": ("cache_write", "32k-128k", False, False),
    "input_token_cache": ("cached_input", "", False, False),
    "text_input_token_cache": ("cached_input", "", False, False),
    "input_token_cache_creation_5m": ("cache_write", "", False, False),
    "input_token_cache_read": ("cached_input", "", False, False),
    "input_token_batch": ("input", "", True, False),
    "output_token_batch": ("output", "", True, False),
    "thinking_output_token": ("output", "", False, True),
    "context_128k-256k_thinking_output_token": ("output", "128k-256k", False, True),
    "images": ("unit", "", False, False),
    "times": ("unit", "", False, False),
    "1080P": ("unit", "", False, False),
    "embedding_dense_token": ("other", "", False, False),  # not one we know: kept raw, never guessed
}
PAYABLE = {usage_type: D(index + 1) / 1000 for index, usage_type in enumerate(EXPECTED)}


def instance(usage_type: str) -> str:
    return f"{KEY};{WORKSPACE};qwen-plus;{usage_type};;0"


@pytest.fixture
def month(tmp_path: Path) -> tuple[LocalObjectStore, str]:
    rows = [v2_row(i + 1, "20260514", instance(u), str(PAYABLE[u])) for i, u in enumerate(EXPECTED)]
    rows.append(v2_row(100, "20260515", instance("input_token"), "0.5"))  # another day: its own line
    rows.append(v2_row(101, "20260515", instance("embedding_dense_token"), "0.25"))
    bills = LocalObjectStore(tmp_path / "bills")
    bills.write_bytes(v2_key("bills", "202605", "20260603170000").removeprefix("bills/"),
                      v2_zip("202605", rows))
    return LocalObjectStore(tmp_path / "wh"), str(tmp_path / "bills")


def test_every_usage_type_lands_in_its_columns_with_exact_totals(
        month: tuple[LocalObjectStore, str], capsys: pytest.CaptureFixture[str]) -> None:
    warehouse, source = month
    code = main(["--log-format", "json", "run", "--source", source, "--warehouse", str(warehouse.root),
                 "--month", "2026-05"])
    out, _ = capsys.readouterr()
    assert code == 0
    lines = read_lines(warehouse, "2026-05")
    assert lines is not None
    assert lines["batch"].dtype == bool and lines["thinking"].dtype == bool
    first_day = lines[lines["billing_date"] == "2026-05-14"]
    assert sorted(first_day["usage_type"]) == sorted(EXPECTED)
    for record in first_day.to_dict("records"):
        expected = EXPECTED[record["usage_type"]]
        assert (record["io_type"], record["context_tier"], record["batch"], record["thinking"]) == expected, \
            record["usage_type"]
        assert record["billed_cost"] == PAYABLE[record["usage_type"]]
        assert record["line_count"] == 1
    assert sum(lines["billed_cost"], D(0)) == sum(PAYABLE.values(), D(0)) + D("0.75")
    by_io = {}
    for record in lines.to_dict("records"):
        by_io[record["io_type"]] = by_io.get(record["io_type"], D(0)) + record["billed_cost"]
    assert by_io == {
        "input": D("0.001") + D("0.003") + D("0.004") + D("0.007") + D("0.014") + D("0.5"),
        "output": D("0.002") + D("0.005") + D("0.006") + D("0.008") + D("0.015") + D("0.016") + D("0.017"),
        "cached_input": D("0.010") + D("0.011") + D("0.013"),
        "cache_write": D("0.009") + D("0.012"),
        "unit": D("0.018") + D("0.019") + D("0.020"),
        "other": D("0.021") + D("0.25"),
    }
    manifest = read_manifest(warehouse, "2026-05")
    assert manifest is not None
    assert manifest.unknown_usage_types == (UnknownUsageType("embedding_dense_token", 2, {"CNY": D("0.271")}),)
    assert ("usage type not recognised, kept raw as io_type 'other': embedding_dense_token (2 rows, 0.271 CNY)"
            in out)


def test_a_month_of_known_usage_types_lists_none(tmp_path: Path) -> None:
    bills = LocalObjectStore(tmp_path / "bills")
    bills.write_bytes(v2_key("bills", "202605", "20260603170000").removeprefix("bills/"),
                      v2_zip("202605", [v2_row(1, "20260514", instance("input_token_batch"), "1")]))
    assert main(["run", "--source", str(tmp_path / "bills"), "--warehouse", str(tmp_path / "wh"),
                 "--month", "2026-05"]) == 0
    manifest = read_manifest(LocalObjectStore(tmp_path / "wh"), "2026-05")
    assert manifest is not None and manifest.unknown_usage_types == ()
