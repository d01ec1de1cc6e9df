"""The whole month run with bills and warehouse on each backend: OSS (oss2 + emulator), S3 (moto), local."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import xxhash

from chargeback.config.file import load_config_file
from chargeback.jobs.run_month import run_month
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.read import read_allocations
from tests.support.bills import v2_csv, v2_row, zip_of

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"
PUSH = "bills/202605/20260603170000/1000000000000001_2688801000001_consumeDetailBillV2_202605.zip"


def test_real_export_from_each_backend_into_each_backend(backend):
    source = backend.store(prefix="source")
    for path in sorted(REAL.glob("*.csv")):
        source.write_bytes(f"exports/{path.name}", path.read_bytes())
    warehouse = backend.store(prefix="warehouse")
    summary = run_month(source, warehouse, "2026-05", load_config_file(None), now=datetime(2026, 5, 20, tzinfo=UTC))
    assert summary.totals == {"CNY": Decimal("57.477867")}
    frame = read_allocations(warehouse, "2026-05")
    assert frame is not None
    by_key = frame.groupby("api_key_id")["billed_cost"].apply(lambda s: sum(s, Decimal(0))).to_dict()
    assert by_key == {"": Decimal("13.677867"), "1234567": Decimal("43.8")}
    manifest = read_manifest(warehouse, "2026-05")
    assert manifest is not None
    assert manifest.counts.model_studio_rows == 156
    assert [s.key for s in manifest.sources] == [f"exports/{p.name}" for p in sorted(REAL.glob("*.csv"))]
    rerun = run_month(source, warehouse, "2026-05", load_config_file(None), now=datetime(2026, 5, 21, tzinfo=UTC))
    assert not rerun.changed


def test_v2_zip_push_read_from_the_store(backend):
    source = backend.store(prefix="source")
    source.write_bytes(PUSH, zip_of({
        "a.csv": v2_csv([v2_row("2100001;llm-ws0000000000000a;qwen-plus;input_token;;0", "0.0043292")]),
        "b.csv": v2_csv([v2_row(";llm-ws0000000000000a;qwen-plus;output_token;bmp;0", "1.25")]),
    }))
    warehouse = backend.store(prefix="warehouse")
    summary = run_month(source, warehouse, "2026-05", load_config_file(None),
                        now=datetime(2026, 6, 3, 18, tzinfo=UTC))
    assert summary.status == "final"
    assert summary.totals == {"CNY": Decimal("1.2543292")}
    # the content hash is of the bytes as fetched: the zip itself
    fetched = xxhash.xxh3_128(source.read_bytes(PUSH)).hexdigest()
    assert read_manifest(warehouse, "2026-05").sources[0].content_hash == f"xxh3-128:{fetched}"
