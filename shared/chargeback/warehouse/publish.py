"""Writing to the warehouse: a month's tables first, its manifest last, nothing rewritten that is unchanged;
and single documents (the dashboard), each replaced whole.

A reader that trusts the manifest never sees half a month: the manifest names every output with its hash,
and it is written only after all outputs are in place. A month whose inputs have not changed is not
rewritten at all.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chargeback.errors import NotFoundError
from chargeback.memory import release_memory
from chargeback.money import decimal_text
from chargeback.storage import ObjectStore
from chargeback.warehouse.manifest import Manifest, write_manifest

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


def publish_month(store: ObjectStore, outputs: Iterable[Output], manifest: Manifest,
                  previous: Manifest | None) -> tuple[Manifest, list[str]]:
    """Publish a month: write the ``outputs`` (key, a function making the bytes) whose bytes differ from what
    ``previous`` (the month's published manifest) recorded, then the manifest naming every output's hash.

    Each output is made, written and dropped in turn, so only one is in memory. Returns the manifest as
    written and the keys written, the manifest last.
    """
    published = dict(previous.outputs) if previous else {}
    written: list[str] = []
    hashes: dict[str, str] = {}
    for key, make in outputs:
        data = make()
        release_memory()
        digest = sha256(data)
        hashes[key] = digest
        if published.get(key) != digest or not store.exists(key):
            store.write_bytes(key, data)
            written.append(key)
    manifest = manifest.replace(outputs=hashes)
    written.append(write_manifest(store, manifest))
    return manifest, written


def publish_document(store: ObjectStore, key: str, data: bytes, content_type: str) -> bool:
    """Publish one document that is not part of a month's tables (the dashboard): replaced whole, in one write,
    and only when its bytes changed. Returns whether it was written."""
    try:
        if store.read_bytes(key) == data:
            return False
    except NotFoundError:
        pass
    store.write_bytes(key, data, content_type=content_type)
    return True
