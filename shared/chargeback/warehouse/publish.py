"""Writing a month to the warehouse: tables first, the manifest last, nothing rewritten that is unchanged.

A reader that trusts the manifest never sees half a month: the manifest names every output with its hash,
and it is written only after all outputs are in place. A month whose inputs have not changed is not
rewritten at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chargeback.memory import release_memory
from chargeback.money import decimal_text
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Text a spreadsheet would run as a formula (starting with = + - @, a tab or CR) gets a leading apostrophe."""
    risky = pc.match_substring_regex(column, "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue()


def csv_bytes(table: pa.Table) -> bytes:
    """CSV for people: exact decimals without trailing zeros, formula-like text neutralised, UTF-8 with BOM."""

    def text(column: pa.Array, field: pa.Field) -> pa.Array:
        if pa.types.is_decimal(field.type):
            return decimal_text(column)
        if pa.types.is_string(field.type):
            return neutralise_column(column)
        return column

    return "\ufeff".encode() + chunked_csv(table, text)


def chunked_csv(table: pa.Table, text: Callable[[pa.Array, pa.Field], pa.Array], rows: int = 8192) -> bytes:
    """``table`` as CSV, each column turned to text by ``text``, a slice of rows at a time (flat memory)."""
    options = pacsv.WriteOptions(quoting_style="needed")
    sink = io.BytesIO()  # its getvalue() hands over the bytes without a copy
    batches = table.to_batches(max_chunksize=rows)
    if not batches:  # the header alone
        pacsv.write_csv(pa.table({name: pa.array([], pa.string()) for name in table.column_names}), sink, options)
        return sink.getvalue()
    writer: pacsv.CSVWriter | None = None
    for batch in batches:
        converted = pa.record_batch([text(batch.column(i), f) for i, f in enumerate(table.schema)],
                                    names=table.column_names)
        writer = writer or pacsv.CSVWriter(sink, converted.schema, write_options=options)
        writer.write_batch(converted)
    if writer is not None:
        writer.close()
    return sink.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Output = tuple[str, Callable[[], bytes]]


def publish_month(store: ObjectStore, month: str, outputs: Iterable[Output], manifest: dict[str, Any]) -> list[str]:
    """Write the ``outputs`` (key, a function making the bytes) that differ from what is published, then the
    manifest. Each output is made, written and dropped in turn, so only one is in memory. Returns keys written."""
    previous = _previous_outputs(store, month)
    written: list[str] = []
    hashes: dict[str, str] = {}
    for key, make in outputs:
        data = make()
        release_memory()
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
