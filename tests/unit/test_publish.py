"""The publish protocol in memory: content-addressed keys, what is (not) written again, lagging copies, the sweep."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from chargeback.errors import ChargebackError
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.publish import (
    GARBAGE_AFTER,
    check_published,
    collect_garbage,
    csv_bytes,
    lagging_copies,
    publish_month,
    sha256,
    spooled,
    write_csv,
)
from tests.support.alert_tables import series
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import manifest_for

MONTH = "2026-05"
NOW = datetime(2026, 6, 4, 2, 30, tzinfo=UTC)
TABLE = layout.allocations_key(MONTH)


def outputs(version: bytes) -> list[tuple[str, object]]:
    return [(TABLE, lambda: b"allocations " + version), (layout.allocations_key(MONTH, "csv"), lambda: b"csv " + version)]


def manifest():  # type: ignore[no-untyped-def]
    return manifest_for(MONTH, series(datetime(2026, 5, 1).date(), ["2"]))


def test_content_keys_lie_outside_every_table_folder() -> None:
    digest = "ab" * 32
    assert layout.content_key(MONTH, TABLE, digest) == (
        f"objects/billing_month=2026-05/allocations/allocations-{digest}.parquet")
    assert layout.content_key(MONTH, "dashboard/billing_month=2026-05/index.html", digest) == (
        f"objects/billing_month=2026-05/dashboard/index-{digest}.html")
    for table in ("allocations/", "lines/", "focus/", "exports/"):
        assert not layout.content_key(MONTH, TABLE, digest).startswith(table)


def test_the_manifest_names_each_object_and_the_table_keys_are_its_copies() -> None:
    store = MemoryObjectStore()
    published, written = publish_month(store, outputs(b"v1"), manifest(), None, now=NOW)
    stored = published.objects[TABLE]
    assert (stored.sha256, stored.size) == (sha256(b"allocations v1"), len(b"allocations v1"))
    assert written == [stored.key, published.objects[layout.allocations_key(MONTH, "csv")].key,
                       layout.manifest_key(MONTH), TABLE, layout.allocations_key(MONTH, "csv")]
    assert store.read_bytes(TABLE) == store.read_bytes(stored.key) == b"allocations v1"
    assert read_manifest(store, MONTH) == published
    assert check_published(store, published) == [] and lagging_copies(store, published) == []
    # the same outputs again: only the manifest is written
    again, written = publish_month(store, outputs(b"v1"), manifest(), published, now=NOW)
    assert written == [layout.manifest_key(MONTH)] and again.objects == published.objects


def test_a_spooled_output_is_published_from_its_file_which_then_goes(tmp_path: Path) -> None:
    table = pa.table({"cost_center": ["=cmd()", "team-a"] * 3, "billed_cost": pa.array(
        [Decimal("1.000000000001")] * 6, pa.decimal128(38, 12))})
    csv_key = layout.allocations_key(MONTH, "csv")

    def spool(name: str) -> object:
        with open(tmp_path / name, "xb") as sink:
            write_csv(table, sink)
        return spooled(tmp_path / name)

    def spooled_outputs(name: str) -> list[tuple[str, object]]:
        return [(TABLE, lambda: b"allocations v1"), (csv_key, lambda: spool(name))]

    store = MemoryObjectStore()
    published, written = publish_month(store, spooled_outputs("first.csv"), manifest(), None, now=NOW)
    stored = published.objects[csv_key]
    assert store.read_bytes(csv_key) == store.read_bytes(stored.key) == csv_bytes(table)  # the same bytes as held
    assert (stored.sha256, stored.size) == (sha256(csv_bytes(table)), len(csv_bytes(table)))
    assert stored.key in written and check_published(store, published) == []
    assert not (tmp_path / "first.csv").exists()  # stored, then removed
    # the same output again: nothing rewritten, and its spooled file is removed all the same
    again, written = publish_month(store, spooled_outputs("second.csv"), manifest(), published, now=NOW)
    assert written == [layout.manifest_key(MONTH)] and again.objects == published.objects
    assert list(tmp_path.iterdir()) == []


def test_a_commit_waits_for_its_fence() -> None:
    class Lost:
        def check(self) -> None:
            raise ChargebackError("this run lost its lease")

    store = MemoryObjectStore()
    first, _ = publish_month(store, outputs(b"v1"), manifest(), None)
    with pytest.raises(ChargebackError, match="lost its lease"):
        publish_month(store, outputs(b"v2"), manifest(), first, fence=Lost())
    assert read_manifest(store, MONTH) == first and store.read_bytes(TABLE) == b"allocations v1"


def test_a_copy_that_lags_or_differs_is_found() -> None:
    store = MemoryObjectStore()
    published, _ = publish_month(store, outputs(b"v1"), manifest(), None)
    store.write_bytes(TABLE, b"allocations v0")  # a run died before it replaced this copy
    assert lagging_copies(store, published) == [TABLE]
    store.delete(published.objects[TABLE].key)
    assert check_published(store, published) == [f"{published.objects[TABLE].key} ({TABLE}) is missing"]


def test_the_sweep_keeps_what_the_last_two_manifests_name_and_anything_young() -> None:
    store = MemoryObjectStore()
    first, _ = publish_month(store, outputs(b"v1"), manifest(), None)
    second, _ = publish_month(store, outputs(b"v2"), manifest(), first)
    orphan_old = layout.content_key(MONTH, TABLE, "0" * 64)
    orphan_young = layout.content_key(MONTH, TABLE, "1" * 64)
    store.write_bytes(orphan_old, b"a run that died a week ago")
    store.write_bytes(orphan_young, b"a run writing right now")
    old = NOW - GARBAGE_AFTER - timedelta(days=6)
    for key in store.objects:
        store.modified[key] = old
    store.modified[orphan_young] = NOW - timedelta(minutes=5)
    third, _ = publish_month(store, outputs(b"v3"), manifest(), second)
    store.modified[third.objects[TABLE].key] = old
    deleted = collect_garbage(store, third, second, NOW)
    kept = {info.key for info in store.list("objects/")}
    assert sorted(deleted) == sorted([orphan_old, *(s.key for s in first.objects.values())])
    assert kept == {orphan_young, *(s.key for m in (second, third) for s in m.objects.values())}


@pytest.mark.parametrize("rows", [0, 1, 70_000])  # none (the header alone), one, and more than one slice
def test_the_export_csv_has_one_bom_then_the_table(rows: int) -> None:
    table = pa.table({"workspace_id": pa.array(["ws-1", "=cmd()"] * (rows // 2) + ["ws-1"] * (rows % 2), pa.string()),
                      "billed_cost": pa.array([Decimal("1.250000000000")] * rows, pa.decimal128(38, 12))})
    data = csv_bytes(table)
    bom = codecs.BOM_UTF8
    assert data.startswith(bom) and not data[len(bom):].startswith(bom)
    read = pacsv.read_csv(pa.py_buffer(data[len(bom):]),
                          convert_options=pacsv.ConvertOptions(column_types={"billed_cost": pa.string()}))
    assert read.column_names == ["workspace_id", "billed_cost"] and read.num_rows == rows
    assert set(read["billed_cost"].to_pylist()) <= {"1.25"}
    written = read["workspace_id"].to_pylist()
    assert "=cmd()" not in written and ("'=cmd()" in written) == (rows >= 2)  # neutralised, never dropped
