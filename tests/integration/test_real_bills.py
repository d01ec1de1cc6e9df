"""The real, anonymised Model Studio export must give the totals its README states, exactly."""

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from chargeback.cli import main

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"


def test_real_export_totals(tmp_path, capsys):
    assert main(["run", "--source", str(REAL), "--warehouse", str(tmp_path), "--month", "2026-05"]) == 0
    manifest = json.loads((tmp_path / "manifests/billing_month=2026-05/manifest.json").read_text())
    assert manifest["counts"]["model_studio_rows"] == 156
    assert manifest["counts"]["duplicate_rows"] == 14
    assert manifest["totals"] == {"CNY": "57.477867"}
    table = pq.read_table(tmp_path / "allocations/billing_month=2026-05/allocations.parquet").to_pylist()
    assert sum(r["line_count"] for r in table) == 156
    assert sum(r["billed_cost"] for r in table) == Decimal("57.477867")
    by_key: dict[str, Decimal] = {}
    for row in table:
        by_key[row["api_key_id"]] = by_key.get(row["api_key_id"], Decimal(0)) + row["billed_cost"]
    assert by_key == {"1234567": Decimal("43.8"), "": Decimal("13.677867")}
    console = {r["call_source"] for r in table if r["api_key_id"] == ""}
    assert console == {"console"}
    free = [r for r in table if r["fee_type"] == "free_quota"]
    assert sum(r["line_count"] for r in free) == 106
    assert all(r["billed_cost"] == 0 for r in free)
    assert sum(r["usage_before_deduction"] for r in free) > 0
    promo = [r for r in table if r["discount"] != 0]
    assert sum(r["line_count"] for r in promo) == 7
    assert {r["model"].rsplit("-", 1)[0] for r in promo} == {"happyhorse-1.0", "happyhorse-1.0-video"}
    assert sum(r["discount"] for r in promo) == Decimal("11.4144")
    assert sum(r["list_cost"] for r in table) == Decimal("68.892267")
    assert all(r["list_cost"] - r["discount"] - r["coupon"] == r["billed_cost"] for r in table)
    printed = capsys.readouterr().out
    assert "billed total 57.477867 CNY" in printed


def test_real_export_source_folder_is_the_shared_copy():
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-bills"
    if shared.is_dir():  # the tests keep a byte-identical copy of the shared export
        for shipped in REAL.glob("*.csv"):
            assert shipped.read_bytes() == (shared / shipped.name).read_bytes()
    assert len(list(REAL.glob("*.csv"))) == 2
