"""Reconciliation of the real May-2026 export read through the whole pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from chargeback.config.file import load_config_file
from chargeback.jobs.run_month import run_month
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.reconcile import reconcile
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.read import read_lines

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"


def test_real_export_gap_is_fully_explained(tmp_path):
    warehouse = LocalObjectStore(tmp_path / "wh")
    run_month(LocalObjectStore(REAL), warehouse, "2026-05", load_config_file(None), now=datetime(2026, 5, 16, tzinfo=UTC))
    lines = read_lines(warehouse, "2026-05")
    assert lines is not None
    rec = reconcile(lines, load_catalog(), "cn")
    assert rec.source_lines == 156
    assert rec.billed_total == Decimal("57.477867")
    assert rec.list_total == Decimal("68.892267")
    assert rec.explained["promotions_and_discounts"] == Decimal("11.4144")
    assert rec.unexplained == 0 and rec.unexplained_lines == []
    assert rec.free_quota_lines == 106
    assert rec.free_quota_savings == Decimal("43.570964")  # video 41 + qwen3.6-plus tokens 2.570964
    assert rec.price_changes == {} and rec.not_in_catalog == {}
    data = rec.to_dict()
    assert (data["list_total"], data["billed_total"], data["unexplained"]) == ("68.892267", "57.477867", "0")
