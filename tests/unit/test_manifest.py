"""The typed manifest: one module writes and reads it; schema-1 documents still read; damage is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.billtime import BILL_TIME_ZONE
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import (
    SCHEMA_VERSION,
    AccountBill,
    Manifest,
    ManifestError,
    manifest_from_bytes,
    manifest_to_bytes,
    read_manifest,
    write_manifest,
)
from tests.support.alert_tables import series
from tests.support.warehouse import Grant, manifest_for

SCHEMA_1 = Path(__file__).parents[1] / "data" / "manifests" / "schema1_real_export.json"


def test_a_schema_1_manifest_of_the_real_export_still_reads():
    manifest = manifest_from_bytes(SCHEMA_1.read_bytes())
    assert (manifest.month, manifest.status, manifest.family, manifest.schema_version) == (
        "2026-05", "open", "console", SCHEMA_VERSION)
    assert manifest.totals == {"CNY": Decimal("57.477867")}
    assert manifest.counts.model_studio_rows == 156 and manifest.counts.duplicate_rows == 14
    assert [s.members[0].rows for s in manifest.sources] == [14, 156]
    assert manifest.accounts == ()  # schema 1 did not record them
    # naive times of schema 1 came from export names and the bill's JSON: China time
    assert manifest.newest_source_time == datetime(2026, 5, 16, 10, 56, 20, tzinfo=BILL_TIME_ZONE)
    qwen = next(g for g in manifest.free_quota if g.model == "qwen3.6-plus")
    assert (qwen.total, qwen.used, qwen.unit) == (Decimal(1000000), Decimal(326982), "tokens")
    assert qwen.valid_from == datetime(2026, 4, 1, 16, tzinfo=UTC)


def test_a_manifest_round_trips_exactly():
    rows = series(datetime(2026, 5, 1).date(), ["1.5", "0.0000001"]) + series(
        datetime(2026, 5, 3).date(), ["0"], model="qwen3.6-plus", fee_type="free_quota", deducted_usage="2.5")
    manifest = manifest_for("2026-05", rows, grants=[
        Grant("qwen3.6-plus", "1000000 ", "tokens", "2026-04-02 00:00:00", "2026-07-02 00:00:00")])
    manifest = manifest.replace(accounts=(AccountBill("1001", "2684201000001", "v2", "open", ("a.zip",),
                                                      {"CNY": Decimal("1.5000001")}),))
    data = manifest_to_bytes(manifest)
    assert manifest_from_bytes(data) == manifest
    document = json.loads(data)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["totals"] == {"CNY": "1.5000001"}  # exact, plain, as text
    assert document["free_quota"][0]["used"] == "2500" and document["free_quota"][0]["valid_from"].endswith("+08:00")


def test_reading_and_writing_through_a_store(tmp_path):
    store = LocalObjectStore(tmp_path)
    assert read_manifest(store, "2026-05") is None
    manifest = manifest_for("2026-05", series(datetime(2026, 5, 1).date(), ["2"]), status="final")
    assert write_manifest(store, manifest) == "manifests/billing_month=2026-05/manifest.json"
    assert read_manifest(store, "2026-05") == manifest


def _document(**changes: object) -> bytes:
    document = json.loads(manifest_to_bytes(manifest_for("2026-05", series(datetime(2026, 5, 1).date(), ["2"]))))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "not a readable JSON document"),
    (b"[]", "not a manifest (expected a JSON object)"),
    (_document(schema_version=4), "field 'schema_version': schema version 4 is not one this version"),
    (_document(totals={"CNY": "12,5"}), "field 'totals.CNY': '12,5' is not an exact amount"),
    (_document(totals={"CNY": 1.5}), "field 'totals.CNY': 1.5 is not an exact amount"),
    (_document(status="closed"), "field 'status': 'closed' is not one of 'open', 'final'"),
    (_document(counts={"rows_read": "7"}), "field 'counts.rows_read': '7' is not a whole number"),
    (_document(ingested_at="yesterday"), "field 'ingested_at': 'yesterday' is not an ISO 8601 time"),
    (_document(shipped_by="me"), "field 'shipped_by': unknown field"),
    (_document(month="2026-5"), "month '2026-5' is not YYYY-MM"),
])
def test_a_damaged_or_unknown_manifest_is_named_with_its_field(data, message):
    with pytest.raises(ManifestError) as error:
        manifest_from_bytes(data, source="wh/manifests/billing_month=2026-05/manifest.json")
    assert str(error.value).startswith("wh/manifests/billing_month=2026-05/manifest.json")
    assert message in str(error.value)


def test_a_missing_field_is_named():
    document = json.loads(_document())
    del document["fingerprint"]
    with pytest.raises(ManifestError, match="field 'fingerprint': missing"):
        manifest_from_bytes(json.dumps(document).encode())


def test_times_must_carry_their_offset():
    with pytest.raises(ValueError, match="ingested_at must carry its offset"):
        Manifest(month="2026-05", status="open", fingerprint="x", ingested_at=datetime(2026, 5, 1))
