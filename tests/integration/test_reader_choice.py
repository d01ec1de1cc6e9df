"""Which reader reads a CSV: one under ``reader.SCAN_FROM_BYTES`` goes to the exact reader, a larger one to the
fast path (polars), and the month's tables are the same byte for byte whichever read it.

The suite's conftest lets the fast path read every UTF-8 CSV (its bills are small); these tests set the
threshold themselves, the first to the one a deployment runs with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargeback.bills import exact, reader
from chargeback.storage import LocalObjectStore
from tests.support.real_bills import BILLED, MONTH, REAL, publish_real_export

DEFAULT = reader.SCAN_FROM_BYTES  # read at import, before any test changes it
FAST, EXACT = reader.scan_groups, exact.read_groups
TABLES = ("lines", "allocations", "focus")


def _run(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, threshold: int) -> tuple[dict, list[str]]:
    """Run the real export's month with ``threshold``; (what it published, the readers called in order)."""
    calls: list[str] = []

    def scanned(part, *args, **kwargs):
        calls.append(f"fast:{Path(part.path).name}")
        return FAST(part, *args, **kwargs)

    def read_exactly(source, *args, **kwargs):
        calls.append(f"exact:{source.name}")
        return EXACT(source, *args, **kwargs)

    monkeypatch.setattr(reader, "SCAN_FROM_BYTES", threshold)
    monkeypatch.setattr(reader, "scan_groups", scanned)
    monkeypatch.setattr(exact, "read_groups", read_exactly)
    warehouse = tmp_path / name
    publish_real_export(LocalObjectStore(warehouse))
    manifest = json.loads((warehouse / f"manifests/billing_month={MONTH}/manifest.json").read_text())
    published = {table: (warehouse / f"{table}/billing_month={MONTH}/{table}.parquet").read_bytes()
                 for table in TABLES}
    published["totals"] = manifest["totals"]
    published["counts"] = manifest["counts"]
    return published, calls


def test_small_csvs_go_to_the_exact_reader_and_give_the_fast_paths_tables(tmp_path, monkeypatch):
    sizes = sorted(p.stat().st_size for p in REAL.glob("*.csv"))
    assert sizes[-1] < DEFAULT  # the real export's CSVs are small (24 and 240 kB)
    by_default, default_calls = _run(tmp_path, "default", monkeypatch, DEFAULT)
    all_fast, fast_calls = _run(tmp_path, "fast", monkeypatch, 0)
    assert default_calls and all(call.startswith("exact:") for call in default_calls)
    assert fast_calls and all(call.startswith("fast:") for call in fast_calls)
    assert by_default["totals"] == all_fast["totals"] == {"CNY": BILLED}
    assert by_default == all_fast


def test_a_csv_as_large_as_the_threshold_goes_to_the_fast_path(tmp_path, monkeypatch):
    small, large = sorted(REAL.glob("*.csv"), key=lambda p: p.stat().st_size)
    published, calls = _run(tmp_path, "split", monkeypatch, large.stat().st_size)
    assert {call.split(":", 1)[1] for call in calls if call.startswith("fast:")} == {large.name}
    assert {call.split(":", 1)[1] for call in calls if call.startswith("exact:")} == {small.name}
    all_fast, _ = _run(tmp_path, "fast", monkeypatch, 0)
    assert published == all_fast
