"""Writing a month to the warehouse: tables first, the manifest last, nothing rewritten that is unchanged.

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

from chargeback.memory import release_memory
from chargeback.money import decimal_text
from chargeback.storage import ObjectStore
from chargeback.warehouse.manifest import Manifest, write_manifest

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Text a spreadsheet would run as a formula (starting with = + - @, a tab or CR) gets a leading apostrophe.

    Worked on the column's distinct values (the tables' text columns repeat a few values many times).
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    distinct = pc.unique(column)
    risky = pc.match_substring_regex(distinct, "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")
    safe = pc.if_else(risky, pc.binary_join_element_wise("'", distinct, ""), distinct)
    return pc.take(safe, pc.index_in(column, value_set=distinct))


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


def chunked_csv(table: pa.Table, text: Callable[[pa.Array, pa.Field], pa.Array], rows: int = 65536) -> bytes:
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
