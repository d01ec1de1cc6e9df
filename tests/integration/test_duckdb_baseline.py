"""The DuckDB baseline of the benchmark reproduces the generator's expected totals exactly."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chargeback import synth
from chargeback.synth import SynthSpec

pytest.importorskip("duckdb")

ROOT = Path(__file__).parents[2]
BASELINE = ROOT / "bench" / "duckdb_baseline.py"
REAL_BILL = Path("/work/shared/data/real-bills/1000000000000001-20260516105620_consumedetailbillv2.csv")

SPEC = SynthSpec(month="2026-05", rows=4_000, workspaces=3, api_keys=7, seed=5, other_product_rows=15)


def load_baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("duckdb_baseline", BASELINE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def baseline() -> ModuleType:
    return load_baseline()


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> synth.V2Push:
    root = tmp_path_factory.mktemp("bills")
    return synth.write_v2_push(root, SPEC, uid="1000000000000001", files=3)


def nonzero(table: dict[str, Decimal]) -> dict[str, Decimal]:
    return {key: value for key, value in table.items() if value}


def test_baseline_equals_expected_totals_exactly(baseline: ModuleType, push: synth.V2Push) -> None:
    report: dict[str, Any] = baseline.run([push.zip_path.parent], threads=2)
    expected = synth.expected_totals(SPEC)
    assert report["csv_files"] == 3
    assert report["csv_bytes"] == push.csv_bytes
    assert report["rows_model_studio"] == expected["rows_model_studio"]
    for key in ("payable", "list_cost", "discount", "payable_by_workspace", "payable_by_api_key",
                "payable_by_model", "payable_by_channel"):
        assert report[key] == expected[key], key
    assert nonzero(report["payable_by_date"]) == nonzero(expected["payable_by_date"])
    # the other product's rows are left out
    assert expected["other_product_payable"]["CNY"] > 0
    assert report["payable"]["CNY"] == expected["payable"]["CNY"]


def test_baseline_groups_by_date_workspace_key_model_usage_type_channel(
    baseline: ModuleType, push: synth.V2Push, tmp_path: Path
) -> None:
    csv_paths, _ = baseline.extract(baseline.find_inputs([push.zip_path]), tmp_path)
    table = baseline.run_query(csv_paths, threads=1)
    assert table.column_names == [
        "billing_date", "workspace_id", "api_key_id", "model", "usage_type", "channel", "currency",
        "usage", "list_cost", "discount", "billed_cost", "line_count",
    ]
    assert str(table.schema.field("billed_cost").type) == "decimal128(38, 12)"
    keys = list(zip(*(table.column(c).to_pylist() for c in table.column_names[:7]), strict=True))
    assert len(keys) == len(set(keys))
    assert {row for row in table.column("channel").to_pylist()} == {"", "bmp"}


def test_baseline_reads_the_english_header_variant(baseline: ModuleType, tmp_path: Path) -> None:
    spec = SynthSpec(rows=1_500, workspaces=2, api_keys=3, seed=3, header="en")
    path = tmp_path / "english.csv"
    expected = synth.write_csv(path, spec)
    report = baseline.run([path])
    assert report["payable"] == expected["payable"]


def test_baseline_command_line_prints_exact_json(push: synth.V2Push, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(BASELINE), str(push.zip_path.parent), "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=120,
    )
    report = json.loads(done.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == report
    assert Decimal(report["payable"]["CNY"]) == synth.expected_totals(SPEC)["payable"]["CNY"]
    assert report["extract_seconds"] >= 0 and report["query_seconds"] >= 0


@pytest.mark.skipif(not REAL_BILL.exists(), reason="the shared real export is not on this machine")
def test_baseline_on_the_real_export(baseline: ModuleType) -> None:
    """Facts from the export's README: 156 lines, 57.477867 CNY, key 1234567 43.8, console 13.677867."""
    report = baseline.run([REAL_BILL])
    assert report["rows_model_studio"] == 156
    assert report["payable"] == {"CNY": Decimal("57.477867")}
    assert report["payable_by_api_key"] == {"": Decimal("13.677867"), "1234567": Decimal("43.8")}
