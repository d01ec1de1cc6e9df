"""Publishing a month: every output under a key named by its hash, then the manifest, then the table copies;
and single documents (the dashboard), each replaced whole (``publish_document``).

The protocol, in the order of its writes (README, "The warehouse"):

1. each output's bytes go to a content-addressed object, ``objects/billing_month=M/<table>/<name>-<sha256>.<ext>``
   (``layout.content_key``), written once: nothing a reader follows points there yet, so a run that dies here
   leaves only unnamed objects behind;
2. the manifest, naming every output's object with its hash and size, replaces the month's manifest in one
   write: the commit point. A reader that follows the manifest (``chargeback.warehouse.read``) sees the
   month before or after it, whole;
3. the table keys that Athena, Spark and people read (``allocations/billing_month=M/allocations.parquet``...),
   one object per partition, are replaced by a store-side copy of their object, each in one write: a reader of
   a table sees one version of a partition, the old or the new. A run that dies here leaves copies that lag
   behind the manifest; the next run (``refresh_copies``, also when nothing else changed) brings them up to
   date;
4. objects that neither this manifest nor the one it replaced names, and that are older than a day (so no run
   still writing can own them), are deleted (``collect_garbage``): the only deletes, under ``objects/``.

A run decides that its month is unchanged only after ``check_published`` found every object the manifest
names, at its size.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chargeback.errors import NotFoundError
from chargeback.memory import release_memory
from chargeback.money import decimal_text
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import SCHEMA_VERSION, Manifest, StoredObject, write_manifest

GARBAGE_AFTER = timedelta(days=1)
"""An object no manifest names is deleted only once it is this old: no run writes for so long (leases expire
in minutes; a function runs 15 at most), so a run still publishing never loses an object to another's sweep."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Text a spreadsheet would run as a formula (starting with = + - @, a tab or CR) gets a leading apostrophe.

    Worked on the column's distinct values (the tables' text columns repeat a few values many times); a column
    with none is handed back as it is.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    distinct = pc.unique(column)
    risky = pc.match_substring_regex(distinct, "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")
    if not pc.any(risky).as_py():
        return column
    safe = pc.if_else(risky, pc.binary_join_element_wise("'", distinct, ""), distinct)
    return pc.take(safe, pc.index_in(column, value_set=distinct))


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue()


def csv_bytes(table: pa.Table) -> bytes:
    """CSV for people (see :func:`write_csv`), as bytes."""
    sink = io.BytesIO()  # its getvalue() hands over the bytes without a copy
    write_csv(table, sink)
    return sink.getvalue()


def write_csv(table: pa.Table, sink: BinaryIO) -> None:
    """CSV for people into ``sink``: exact decimals without trailing zeros, formula-like text neutralised, UTF-8
    with BOM."""

    def text(column: pa.Array, field: pa.Field) -> pa.Array:
        if pa.types.is_decimal(field.type):
            return decimal_text(column)
        if pa.types.is_string(field.type):
            return neutralise_column(column)
        return column

    sink.write(codecs.BOM_UTF8)
    chunked_csv(table, text, sink)


def chunked_csv(table: pa.Table, text: Callable[[pa.Array, pa.Field], pa.Array], sink: BinaryIO,
                rows: int = 65536) -> None:
    """``table`` as CSV into ``sink``, each column turned to text by ``text``, a slice of rows at a time (flat
    memory)."""
    options = pacsv.WriteOptions(quoting_style="needed")
    batches = table.to_batches(max_chunksize=rows)
    if not batches:  # the header alone
        pacsv.write_csv(pa.table({name: pa.array([], pa.string()) for name in table.column_names}), sink, options)
        return
    writer: pacsv.CSVWriter | None = None
    for batch in batches:
        converted = pa.record_batch([text(batch.column(i), f) for i, f in enumerate(table.schema)],
                                    names=table.column_names)
        writer = writer or pacsv.CSVWriter(sink, converted.schema, write_options=options)
        writer.write_batch(converted)
    if writer is not None:
        writer.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Spooled:
    """An output's bytes in a local file, with their SHA-256 and size: a large CSV (the FOCUS export is 47 MB
    at 1M bill rows) goes from the disk to the store (``ObjectStore.write_file``) instead of being held in
    memory beside the next output being made. Publishing removes the file once it is stored."""

    path: Path
    sha256: str
    size: int


def spooled(path: Path) -> Spooled:
    """The local file ``path``, written and closed, as an output: its hash and size taken from the disk."""
    with open(path, "rb") as written:
        digest = hashlib.file_digest(written, "sha256").hexdigest()
    return Spooled(path, digest, path.stat().st_size)


def digest_of(made: bytes | Spooled) -> str:
    """The SHA-256 of an output's bytes, held or spooled."""
    return made.sha256 if isinstance(made, Spooled) else sha256(made)


Output = tuple[str, Callable[[], bytes | Spooled]]
"""An output: its table key and a function making its bytes (held, or spooled to a local file)."""


class Fence(Protocol):
    """What a publish checks before its commit: that it still holds the month (``chargeback.once.Lease``)."""

    def check(self) -> None: ...


def publish_month(store: ObjectStore, outputs: Iterable[Output], manifest: Manifest, previous: Manifest | None,
                  *, fence: Fence | None = None, now: datetime | None = None) -> tuple[Manifest, list[str]]:
    """Publish a month: the ``outputs`` to their content-addressed objects, then ``manifest`` naming them (the
    commit), then the table copies; ``previous`` is the month's published manifest, whose objects are kept.

    Each output's bytes are taken in turn (the caller may be making them ahead, in parallel) and dropped once
    written (a spooled output's file is removed); an object the previous manifest already names, and that is
    in place, is not written again. ``fence`` is checked right before the commit; ``now`` (aware) dates the
    sweep of old unnamed objects (no sweep without it). Returns the manifest as written and the keys written,
    in order.
    """
    month = manifest.month
    named = {ref.key: ref for ref in previous.objects.values()} if previous else {}
    written: list[str] = []
    hashes: dict[str, str] = {}
    objects: dict[str, StoredObject] = {}
    for key, make in outputs:
        made = make()
        release_memory()
        digest = digest_of(made)
        size = made.size if isinstance(made, Spooled) else len(made)
        stored = StoredObject(layout.content_key(month, key, digest), digest, size)
        if named.get(stored.key) != stored or not _in_place(store, stored):
            if isinstance(made, Spooled):
                store.write_file(stored.key, made.path)
            else:
                store.write_bytes(stored.key, made)
            written.append(stored.key)
        if isinstance(made, Spooled):
            made.path.unlink(missing_ok=True)
        del made
        hashes[key], objects[key] = digest, stored
    if fence is not None:
        fence.check()
    manifest = manifest.replace(schema_version=SCHEMA_VERSION, outputs=hashes, objects=objects)
    written.append(write_manifest(store, manifest))
    written += refresh_copies(store, manifest)
    if now is not None:
        collect_garbage(store, manifest, previous, now)
    return manifest, written


def _in_place(store: ObjectStore, stored: StoredObject) -> bool:
    info = store.stat(stored.key)
    return info is not None and info.size == stored.size


def check_published(store: ObjectStore, manifest: Manifest) -> list[str]:
    """What is wrong with the published month, or [] when every object ``manifest`` names is there at its size
    (content-addressed and written once, an object in place is the one named). A manifest of schema 1 or 2
    names no objects: its month must be published again."""
    if not manifest.objects:
        return ["its manifest names no content-addressed outputs (an earlier version published it)"]
    problems = []
    for key, stored in manifest.objects.items():
        info = store.stat(stored.key)
        if info is None:
            problems.append(f"{stored.key} ({key}) is missing")
        elif info.size != stored.size:
            problems.append(f"{stored.key} ({key}) holds {info.size} bytes, not {stored.size}")
    return problems


def lagging_copies(store: ObjectStore, manifest: Manifest) -> list[str]:
    """The table keys that do not hold the object ``manifest`` names for them (a table key whose size and ETag
    are its object's holds it: the store-side copy keeps the ETag)."""
    lagging = []
    for key, stored in manifest.objects.items():
        source, current = store.stat(stored.key), store.stat(key)
        if source is None or current is None or (current.size, current.etag) != (source.size, source.etag):
            lagging.append(key)
    return lagging


def refresh_copies(store: ObjectStore, manifest: Manifest) -> list[str]:
    """Bring each table key up to date with the object ``manifest`` names for it (a store-side copy, each in one
    write); returns the keys copied."""
    copied = lagging_copies(store, manifest)
    for key in copied:
        store.copy(manifest.objects[key].key, key)
    return copied


def collect_garbage(store: ObjectStore, manifest: Manifest, previous: Manifest | None, now: datetime) -> list[str]:
    """Delete the month's objects that neither ``manifest`` nor ``previous`` names and that are older than
    ``GARBAGE_AFTER`` (left by runs that died, or by versions two publishes old); returns the keys deleted."""
    keep = {stored.key for m in (manifest, previous) if m is not None for stored in m.objects.values()}
    deleted = []
    for info in store.list(layout.objects_prefix(manifest.month)):
        if info.key in keep or info.unreadable or info.modified is None or now - info.modified < GARBAGE_AFTER:
            continue
        store.delete(info.key)
        deleted.append(info.key)
    return deleted


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
