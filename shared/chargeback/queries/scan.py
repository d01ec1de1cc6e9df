"""Reading published months back as Arrow, each month checked against its manifest first.

A month is read only when its manifest says it was published and allocated, and what is read must match
what the manifest recorded: the object's SHA-256 where the whole object is read (the cost summary, and any
table on S3 or OSS), else its row count, and always its billed total per currency. Only the months asked
for are read, and of a table only the columns asked for (from a local folder, the other columns are never
read from disk; from S3 or OSS one GET fetches the month's object, and only the columns asked for are
decoded), in today's types (``chargeback.warehouse.tables``: ``billing_date`` a date, the usage measures
derived for months published before them). A month that is missing, or that does not match its manifest,
is not read: it becomes a :class:`MonthProblem` that says what to run, and the caller decides whether to
answer without it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.columns import COST_DIMENSIONS, USAGE_MEASURES
from chargeback.errors import NotFoundError
from chargeback.money import format_decimal
from chargeback.pricing.catalog import PriceCatalog, load_catalog
from chargeback.queries.summary import COSTS_SCHEMA, NEEDED_COLUMNS, cost_summary
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import Manifest, ManifestError, read_manifest
from chargeback.warehouse.publish import sha256
from chargeback.warehouse.tables import MEASURED_COLUMNS, in_todays_types

# Columns that months published by older versions lack, and how they read there.
DERIVED_COLUMNS: dict[str, str] = {
    "cost_center_path": "cost_center",  # before cost-center hierarchies: a cost center's path is its id
    "payer_account_id": "",  # before schema 2: the payer is unknown
}


@dataclass(frozen=True)
class MonthProblem:
    """Why a month could not be read, and what to run."""

    month: str
    reason: str  # missing | not_allocated | damaged | changed | outdated
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"month": self.month, "reason": self.reason, "message": self.message}


@dataclass
class Scan:
    """The months read (oldest first) with their manifests, and the months that could not be."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    problems: list[MonthProblem] = field(default_factory=list)

    @property
    def months(self) -> list[str]:
        return sorted(self.tables)


class _Unreadable(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _manifest(store: ObjectStore, month: str) -> Manifest:
    try:
        manifest = read_manifest(store, month)
    except ManifestError as exc:
        raise _Unreadable("damaged", f"{exc}") from None
    if manifest is None:
        raise _Unreadable("missing", f"month {month} is not in the warehouse: run 'chargeback run --month {month}'")
    if not manifest.allocated:
        raise _Unreadable("not_allocated", f"month {month} was ingested but not allocated: run "
                                           f"'chargeback allocate --month {month}'")
    return manifest


def _rerun(month: str) -> str:
    return f"run 'chargeback run --month {month} --force' to publish it again"


def _missing(where: str, month: str) -> _Unreadable:
    return _Unreadable("damaged", f"{where} is named by the manifest of {month} but missing; {_rerun(month)}")


def _where(store: ObjectStore, key: str) -> str:
    return f"{store.url.rstrip('/')}/{key}"


def _wanted(columns: Sequence[str], present: Sequence[str]) -> list[str]:
    """The file's columns needed for ``columns``: those it has, and the sources of the derived ones."""
    wanted = [c for c in present if c in columns]
    if any(m in columns and m not in present for m in USAGE_MEASURES):  # derived from the usage (older months)
        wanted += [c for c in MEASURED_COLUMNS if c in present and c not in wanted]
    for name, source in DERIVED_COLUMNS.items():
        if name in columns and name not in present and source in present and source not in wanted:
            wanted.append(source)
    return wanted


def _derived(table: pa.Table, columns: Sequence[str], manifest: Manifest, where: str) -> pa.Table:
    """``table`` as ``columns``, deriving what older months lack; a column that cannot be derived means the
    month was published by an older version."""
    for name in columns:
        if name not in table.column_names and name in DERIVED_COLUMNS:
            source = DERIVED_COLUMNS[name]
            column = (table.column(source) if source else pa.array([""] * table.num_rows, pa.string()))
            table = table.append_column(name, column)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise _Unreadable("outdated", f"{where} was published by an older version, without {', '.join(missing)}; "
                                      f"{_rerun(manifest.month)}")
    return table.select(list(columns))


def _recorded(store: ObjectStore, manifest: Manifest, key: str) -> str:
    recorded = manifest.outputs.get(key)
    if recorded is None:
        raise _Unreadable("damaged", f"{_where(store, key)}: the manifest of {manifest.month} does not name it; "
                                     f"{_rerun(manifest.month)}")
    return recorded


@contextlib.contextmanager
def _opened(source: Any, where: str, month: str) -> Iterator[pq.ParquetFile]:
    """A Parquet file (a path or a buffer) opened once, its footer read; what goes wrong reading it (there or in
    the block) is an ``_Unreadable`` that names it.

    ``ParquetFile``, not ``read_table``: one file needs none of the dataset layer, whose import (with the pandas
    it brings) is most of a ``costs`` command's start-up.
    """
    try:
        with pq.ParquetFile(source) as parquet:
            yield parquet
    except FileNotFoundError:
        raise _missing(where, month) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise _Unreadable("damaged", f"{where} is not a readable Parquet file ({exc}); {_rerun(month)}") from None


def _columns(parquet: pq.ParquetFile, columns: Sequence[str] | None = None) -> pa.Table:
    """The file's ``columns`` (all by default); the others are not decoded."""
    # one thread: pyarrow's thread pools sometimes abort the interpreter as it exits (apache/arrow#34314)
    return parquet.read(columns=None if columns is None else list(columns), use_threads=False)


def _read_whole(store: ObjectStore, manifest: Manifest, key: str) -> pa.Table:
    """One published object, read whole and checked against the manifest's SHA-256."""
    with _opened(io.BytesIO(_checked_bytes(store, manifest, key)), _where(store, key), manifest.month) as parquet:
        return _columns(parquet)


def _checked_bytes(store: ObjectStore, manifest: Manifest, key: str) -> bytes:
    """The bytes of one published object, checked against the manifest's SHA-256."""
    recorded = _recorded(store, manifest, key)
    try:
        data = store.read_bytes(key)
    except NotFoundError:
        raise _missing(_where(store, key), manifest.month) from None
    if sha256(data) != recorded:
        raise _Unreadable("changed", f"{_where(store, key)} differs from what the manifest of {manifest.month} "
                                     "recorded (a run may be publishing the month now: try again; if it "
                                     f"persists, {_rerun(manifest.month)})")
    return data


def _read_columns(path: Path, manifest: Manifest, where: str, columns: Sequence[str],
                  expected_rows: int) -> pa.Table:
    """Only ``columns`` of a local Parquet file (the others are not read from disk), its row count checked."""
    with _opened(path, where, manifest.month) as parquet:
        if parquet.metadata.num_rows != expected_rows:
            raise _Unreadable("changed", f"{where} has {parquet.metadata.num_rows} rows, its manifest "
                                         f"{expected_rows} (a run may be publishing the month now: try again; if it "
                                         f"persists, {_rerun(manifest.month)})")
        return _columns(parquet, _wanted(columns, parquet.schema_arrow.names))


def billed_totals(table: pa.Table) -> dict[str, Decimal]:
    """Billed cost per currency, exact (currencies that total 0 left out)."""
    grouped = table.group_by("currency", use_threads=False).aggregate([("billed_cost", "sum")])
    return {c: v for c, v in zip(grouped["currency"].to_pylist(), grouped["billed_cost_sum"].to_pylist(),
                                 strict=True) if v}


def _check_totals(table: pa.Table, manifest: Manifest, where: str) -> None:
    found, expected = billed_totals(table), {c: v for c, v in manifest.totals.items() if v}
    if found != expected:
        raise _Unreadable("changed", f"{where} totals {_amounts(found)}, the manifest of {manifest.month} "
                                     f"{_amounts(expected)}; {_rerun(manifest.month)}")


def _amounts(totals: dict[str, Decimal]) -> str:
    return ", ".join(f"{format_decimal(v)} {c}" for c, v in sorted(totals.items())) or "nothing"


def _published(store: ObjectStore, manifest: Manifest, key: str, rows: int, columns: Sequence[str]) -> pa.Table:
    """``columns`` of the published table ``key`` (lines or allocations) of ``rows`` rows, in today's types."""
    where = _where(store, key)
    local = getattr(store, "local_path", None)
    if local is not None:
        _recorded(store, manifest, key)
        try:
            path = local(key)
        except NotFoundError:
            raise _missing(where, manifest.month) from None
        table = _read_columns(path, manifest, where, [*columns, "currency", "billed_cost"], rows)
    else:
        table = _read_whole(store, manifest, key)
    _check_totals(table, manifest, where)
    return _derived(in_todays_types(table, columns), columns, manifest, where)


def _allocations(store: ObjectStore, manifest: Manifest, columns: Sequence[str]) -> pa.Table:
    return _published(store, manifest, layout.allocations_key(manifest.month), manifest.counts.allocation_rows,
                      columns)


def _scan(store: ObjectStore, months: Sequence[str], read: Callable[[Manifest], pa.Table]) -> Scan:
    scan = Scan()
    for month in months:
        try:
            manifest = _manifest(store, month)
            scan.tables[month] = read(manifest)
            scan.manifests[month] = manifest
        except _Unreadable as problem:
            scan.problems.append(MonthProblem(month, problem.reason, str(problem)))
    return scan


def scan_allocations(store: ObjectStore, months: Sequence[str], columns: Sequence[str],
                     reduce: Callable[[pa.Table], pa.Table] | None = None) -> Scan:
    """The ``columns`` of each month's allocations, checked against its manifest; with ``reduce``, what it
    makes of each month's table (e.g. its sums), kept instead of the table: one month is held at a time, not
    a year of a million rows a month."""
    def read(manifest: Manifest) -> pa.Table:
        table = _allocations(store, manifest, columns)
        return table if reduce is None else reduce(table)

    return _scan(store, months, read)


def scan_lines(store: ObjectStore, months: Sequence[str], columns: Sequence[str]) -> Scan:
    """The ``columns`` of each month's normalized lines, checked against its manifest like the allocations."""
    return _scan(store, months, lambda manifest: _published(
        store, manifest, layout.lines_key(manifest.month), manifest.counts.lines, columns))


SUMMARY_COLUMNS: tuple[str, ...] = (*COSTS_SCHEMA.names, "cost_center_path")
"""The columns a month's cost summary reads as (``scan_cost_summaries``)."""


def _summary(store: ObjectStore, manifest: Manifest, key: str, columns: Sequence[str]) -> pa.Table | None:
    """``columns`` of the month's published cost summary (its whole object checked against the manifest), or
    None for a summary published before one of today's columns existed. Only the columns asked for are decoded:
    a question by model over a year reads a tenth of the summaries' columns."""
    where = _where(store, key)
    with _opened(io.BytesIO(_checked_bytes(store, manifest, key)), where, manifest.month) as parquet:
        present = parquet.schema_arrow.names
        checked = [*dict.fromkeys([*_wanted(columns, present), "currency", "billed_cost"])]
        table = _columns(parquet, [c for c in present if c in checked])
    _check_totals(table, manifest, where)
    if not set(COSTS_SCHEMA.names) <= set(present):
        return None  # an older summary, without columns added since: sum the allocations
    return _derived(table, columns, manifest, where)


def scan_cost_summaries(store: ObjectStore, months: Sequence[str],
                        catalog: Callable[[], PriceCatalog] = load_catalog,
                        columns: Sequence[str] = SUMMARY_COLUMNS) -> Scan:
    """Each month's cost summary (``columns``, of :data:`SUMMARY_COLUMNS`), checked against its manifest.

    A month published before the summary existed (or before one of its columns did) is summed from its
    allocations here, with the price catalog ``catalog()`` gives valuing its free quota (loaded only then).
    """
    unknown = [c for c in columns if c not in SUMMARY_COLUMNS]
    if unknown:
        raise ValueError(f"not columns of the cost summary: {', '.join(unknown)}")
    scan = Scan()
    for month in months:
        try:
            manifest = _manifest(store, month)
            key = layout.costs_key(month)
            table = _summary(store, manifest, key, columns) if key in manifest.outputs else None
            if table is None:
                needed = [*dict.fromkeys([*NEEDED_COLUMNS, *COST_DIMENSIONS])]
                table = cost_summary(_allocations(store, manifest, needed), catalog())
                table = _derived(table, columns, manifest, _where(store, layout.allocations_key(month)))
            scan.tables[month] = table
            scan.manifests[month] = manifest
        except _Unreadable as problem:
            scan.problems.append(MonthProblem(month, problem.reason, str(problem)))
    return scan


def concat(scan: Scan) -> pa.Table | None:
    """The months' tables as one (columns in the first month's order), or None when no month was read."""
    tables = [scan.tables[m] for m in scan.months]
    if not tables:
        return None
    names = tables[0].column_names
    return pa.concat_tables([t.select(names) for t in tables], promote_options="permissive")


__all__ = ["SUMMARY_COLUMNS", "MonthProblem", "Scan", "billed_totals", "concat", "scan_allocations",
           "scan_cost_summaries", "scan_lines"]
