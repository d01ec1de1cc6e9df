"""Writing a month to the warehouse: tables first, the manifest last, nothing rewritten that is unchanged.

A reader that trusts the manifest never sees half a month: the manifest names every output with its hash,
and it is written only after all outputs are in place. A month whose inputs have not changed is not
rewritten at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.money import format_decimal
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue()


def csv_bytes(table: pa.Table) -> bytes:
    """CSV for people: exact decimals without trailing zeros, formula-like text neutralised, UTF-8 with BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    types = [f.type for f in table.schema]
    for row in table.to_pylist():
        writer.writerow([_cell(v, t) for v, t in zip(row.values(), types, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: Any, type_: pa.DataType) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, str):
        return neutralise_cell(value)
    return str(value)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish_month(
    store: ObjectStore, month: str, outputs: Iterable[tuple[str, bytes]], manifest: dict[str, Any]
) -> list[str]:
    """Write ``outputs`` (key, bytes) that differ from what is published, then the manifest. Returns keys written."""
    previous = _previous_outputs(store, month)
    written: list[str] = []
    hashes: dict[str, str] = {}
    for key, data in outputs:
        digest = sha256(data)
        hashes[key] = digest
        if previous.get(key) != digest or not store.exists(key):
            store.write_bytes(key, data)
            written.append(key)
    manifest = {**manifest, "outputs": hashes}
    store.write_bytes(layout.manifest_key(month), manifest_bytes(manifest), content_type="application/json")
    written.append(layout.manifest_key(month))
    return written


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _previous_outputs(store: ObjectStore, month: str) -> dict[str, str]:
    from chargeback.warehouse.read import read_manifest

    manifest = read_manifest(store, month)
    return dict(manifest.get("outputs", {})) if manifest else {}
