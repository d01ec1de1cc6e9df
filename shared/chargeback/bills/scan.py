"""The scan-and-aggregate stage: polars reads a bill CSV and sums it to raw groups, in bounded memory.

Why polars: measured on the benchmark's 1M-row month (1.4 GB of v2 CSV, 61 columns, JSON cells), its
streaming engine, with 2 MiB read chunks and the amounts cast to exact decimals, scans and groups in about
half the CPU time of the hand-written pyarrow reader it replaces and in less than DuckDB's (``bench/README.md``),
in about 200 MB whatever the file's size.

One query per CSV, every column read as text and addressed by position (a duplicated column that nothing
reads does no harm): the billing date cut to its day, the amounts cast to exact ``Decimal(38, 18)`` (strict:
a cell that is not a number stops the query), the rows grouped by the raw text of every field the lines keep
(:data:`~chargeback.bills.headers.TEXT_FIELDS`), amounts summed, rows counted. When the month has more than one
CSV (where bill lines can overlap), the same pass writes the hashes of the month's bill-line IDs
(``账单明细ID``); given the lines another input supersedes, it drops them. The query's two outputs share one
scan (polars multiplexes the scan to both sinks). The free-quota usage details, which name the grants, are
read by a second pass over the CSV's first rows only (:func:`_with_details`).

It declines (:class:`ScanDeclined`), and the exact reader (:mod:`chargeback.bills.exact`) reads the CSV and
decides, wherever polars' reading could differ from the exact reader's:

- any error polars raises (a row with too many fields, a stray quote, bytes that are not UTF-8, a cell that
  is not a number);
- a row whose rightmost read field is empty: a short row or a blank line, which polars pads with empty cells;
- a row with a field after the last column: polars is given one column more than the header has (named by its
  position, as every column is), which holds that field; the exact reader refuses such a row and names its
  line, as it does in a GBK bill. An empty surplus field (a row ending in a comma) reads as the padding does,
  so it goes unseen here while the exact reader refuses it: the one row shape on which the readers differ;
- an amount of 14 characters or more, or a group whose sums carry digits past the 12th decimal: polars rounds
  at the scale it casts to, the exact reader refuses to round (so amounts are cast at 18 decimals and the
  sums checked, and an amount long enough to carry more than 18 is declined outright);
- a group whose amounts do not add up: list cost less discount, coupon and subscription deduction is the
  payable on every real bill. A stray comma shifts the fields after it, the payable (the last column of a v2
  bill) among them, and the shift breaks this sum (a payable ``6,4`` written without quotes reads as 6), so
  the exact reader then reads the file and names the row.

Both readers produce the same groups, so nothing after them can tell which one read a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

# Read when polars plans its first scan: 2 MiB read chunks (polars' default is far larger) keep the scan near
# 200 MB and, measured here, make it faster too. The environment may override it.
os.environ.setdefault("POLARS_CSV_CHUNK_SIZE", str(2 << 20))

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from chargeback.bills.headers import AMOUNT_FIELDS, TEXT_FIELDS, HeaderMap
from chargeback.fee_types import BILL_FREE_QUOTA
from chargeback.money import MONEY_SCALE, MONEY_TYPE
from chargeback.scratch import scratch_dir

MONEY = pl.Decimal(38, MONEY_SCALE)
WIDE = pl.Decimal(38, 18)  # the scale amounts are read at; a sum with digits past MONEY_SCALE is declined
SUM_FIELDS = (*AMOUNT_FIELDS, "line_count")
DETAIL = "usage_detail"  # a group's first free-quota usage detail: it names the grant
_LONG_AMOUNT = 14  # '.1234567890123' (13 decimals) has 14 characters: anything shorter is exact at 18 decimals
_ID_SEED, _CONTENT_SEED = 12, 13
_ROW = "_row"  # a row's index in the CSV (from 0, the header not counted)
_SAMPLED_BY = ("instance_id", "billing_month", "product_code")  # one free-quota detail is read for each


class ScanDeclined(Exception):
    """The fast path cannot vouch for its reading of this CSV: the exact reader reads it instead."""


@dataclass(frozen=True)
class CsvPart:
    """A local file holding rows of one CSV: the CSV itself (with its header row) or a piece of it (without)."""

    path: str
    has_header: bool


@dataclass
class Groups:
    """One CSV summed to raw groups, and what the month's de-duplication needs of it."""

    table: pl.DataFrame  # TEXT_FIELDS, SUM_FIELDS, DETAIL
    superseded_rows: int = 0  # month rows dropped because another input supersedes their line
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))  # line-ID hashes, month rows
    contents: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))  # content hashes, same order

    @property
    def rows(self) -> int:
        return int(self.table["line_count"].sum()) + self.superseded_rows


def empty_groups() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {f: pl.String() for f in TEXT_FIELDS}
    schema.update({f: MONEY for f in AMOUNT_FIELDS})
    schema.update({"line_count": pl.Int64(), DETAIL: pl.String()})
    return pl.DataFrame(schema=schema)


def id_hash(ids: pl.Expr) -> pl.Expr:
    """The line-ID hash both readers use (polars' hash of the text, seeded)."""
    return ids.hash(seed=_ID_SEED)


def hash_series(hashes: np.ndarray) -> pl.Series:
    """Line-ID hashes (``uint64``) as a polars Series, sharing their memory. Wrapped as an Arrow buffer: handing
    polars or Arrow the NumPy array itself imports ``numpy.ma``, 20 ms of a small month's run."""
    values = np.ascontiguousarray(hashes, dtype=np.uint64)
    series = pl.from_arrow(pa.Array.from_buffers(pa.uint64(), values.size, [None, pa.py_buffer(values)]))
    assert isinstance(series, pl.Series)
    return series


def content_hash(raw: dict[str, pl.Expr]) -> pl.Expr:
    """A hash of a row's fields as the bill writes them (``raw``: field -> its text; a field the bill lacks is
    empty): two copies of a line with equal hashes say the same. Both readers hash the same text alike."""
    fields = [raw.get(name, pl.lit("")).alias(name) for name in (*TEXT_FIELDS, *AMOUNT_FIELDS)]
    return pl.struct(fields).hash(seed=_CONTENT_SEED)


def in_month(month_forms: Iterable[str]) -> pl.Expr:
    return pl.col("billing_month").is_in(list(month_forms))


def _rows(lazy: pl.LazyFrame, header: HeaderMap) -> pl.LazyFrame:
    """The CSV's rows as the fields the lines keep, amounts at 18 decimals, plus the checks' columns."""
    col = {f: pl.col(f"c{p}") for f, p in header.positions.items()}
    exprs: list[pl.Expr] = []
    for name in TEXT_FIELDS:
        value = col.get(name, pl.lit(""))
        exprs.append((value.str.slice(0, 10) if name == "billing_date" else value).alias(name))
    read = [name for name in AMOUNT_FIELDS if name in col]
    exprs += [pl.when(col[name] != "").then(col[name]).cast(WIDE).alias(name) for name in read]
    exprs += [pl.lit(None, WIDE).alias(name) for name in AMOUNT_FIELDS if name not in col]
    rightmost = col[max(header.positions, key=header.positions.__getitem__)]
    long_amount = pl.any_horizontal([col[name].str.len_bytes() >= _LONG_AMOUNT for name in read])
    surplus = pl.col(f"c{header.width}").fill_null("") != ""  # the first field past the last column, if any
    exprs += [(rightmost == "").alias("_short"), long_amount.alias("_long"), surplus.alias("_surplus")]
    exprs.append(pl.col(_ROW))
    if "line_id" in col:
        exprs.append(id_hash(col["line_id"]).alias("_id"))
        exprs.append(content_hash(col).alias("_content"))  # computed only when a sink asks for it
    return lazy.select(exprs)


def _grouped(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.group_by(list(TEXT_FIELDS)).agg(
        [pl.col(a).sum() for a in AMOUNT_FIELDS]
        + [pl.len().cast(pl.Int64).alias("line_count"), pl.col(_ROW).min(),
           pl.col("_short").sum().alias("_short"), pl.col("_long").sum().alias("_long"),
           pl.col("_surplus").sum().alias("_surplus")])


def merge_groups(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Groups of one or more inputs merged: sums added, the first free-quota detail kept."""
    parts = [p for p in parts if p.height]
    if not parts:
        return empty_groups()
    if len(parts) == 1:
        return parts[0]
    return pl.concat(parts).group_by(list(TEXT_FIELDS), maintain_order=True).agg(
        [pl.col(a).sum() for a in SUM_FIELDS] + [pl.col(DETAIL).drop_nulls().first()])


def _scan(part: CsvPart, header: HeaderMap, rows: int | None = None) -> pl.LazyFrame:
    """The CSV's (first ``rows``) rows, every field as text named by position (``c0``, ...), one column more
    than the header has (a row's first field past the last column, empty in a row without one), and its row
    index."""
    schema = {f"c{i}": pl.String() for i in range(header.width + 1)}
    return pl.scan_csv(part.path, has_header=False, skip_rows=1 if part.has_header else 0, schema=schema,
                       missing_columns="insert", infer_schema=False, empty_string_is_null=False,
                       raise_if_empty=False, encoding="utf8", n_rows=rows, row_index_name=_ROW)


class DetailsRead:
    """The instances (in a billing month, of a product) whose free-quota usage detail an earlier piece of the
    same CSV has read: a later piece reads none for them, so a zip member cut into pieces reads the first
    rows of the member once, as a plain CSV is read, not the first rows of every piece."""

    def __init__(self) -> None:
        self.keys = pl.DataFrame(schema=dict.fromkeys(_SAMPLED_BY, pl.String))

    def unread(self, first: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``first`` (one an instance) whose detail no earlier piece read; they count as read."""
        first = first.join(self.keys, on=list(_SAMPLED_BY), how="anti")  # the scan reads no nulls
        self.keys = pl.concat([self.keys, first.select(_SAMPLED_BY)])
        return first


def _with_details(grouped: pl.DataFrame, part: CsvPart, header: HeaderMap, read: DetailsRead) -> pl.DataFrame:
    """The groups with a free-quota usage detail (``DETAIL``), read in a second pass that stops at the last row
    it needs: the group holding the first free-quota row of an instance (in a billing month, of a product) gets
    that row's detail, every other group null; an instance whose detail an earlier piece of the CSV read
    (``read``) gets none here. One sample an instance is what the grants need (their model, total, unit and
    validity, :func:`~chargeback.pricing.free_quota.month_grants`).

    The detail is a third of a bill's bytes, and only free-quota rows' details are kept: read beside every
    row, it cost the first pass about a quarter of its time (0.3 to 0.4 s per 1M-row CSV, measured). Free
    quota is used up first, so its rows come early in a month, and in months without free quota (or in a CSV
    that starts after it ran out) this pass reads nothing.
    """
    col = {f: pl.col(f"c{p}") for f, p in header.positions.items()}
    first = grouped.filter(pl.col("fee_type") == BILL_FREE_QUOTA).group_by(_SAMPLED_BY).agg(pl.col(_ROW).min())
    rows = read.unread(first)[_ROW]
    if not rows.len() or "usage_detail" not in col:
        return grouped.with_columns(pl.lit(None, pl.String).alias(DETAIL)).drop(_ROW)
    details = (_scan(part, header, int(rows.max()) + 1)  # type: ignore[arg-type]
               .select(pl.col(_ROW), col["usage_detail"].alias(DETAIL)).filter(pl.col(_ROW).is_in(rows.implode()))
               .collect(engine="streaming"))
    return grouped.join(details, on=_ROW, how="left").drop(_ROW)


def _narrow(table: pl.DataFrame) -> pl.DataFrame:
    """Sums from 18 to 12 decimals; ScanDeclined when a sum has digits past the 12th (an amount polars rounds)."""
    narrowed = {}
    for name in AMOUNT_FIELDS:
        try:
            narrowed[name] = pl.from_arrow(pc.cast(table[name].to_arrow(), MONEY_TYPE))  # Arrow refuses to round
        except pa.ArrowInvalid:
            raise ScanDeclined(f"{name}: an amount with more than {MONEY_SCALE} decimals") from None
    return table.with_columns([pl.Series(name, values).fill_null(0) for name, values in narrowed.items()])


def scan_groups(part: CsvPart, header: HeaderMap, month_forms: tuple[str, ...], *,
                collect_ids: bool = False, contents: bool = False,
                superseded: np.ndarray | None = None, details: DetailsRead | None = None) -> Groups:
    """Sum one CSV (or a piece of it) to raw groups. ScanDeclined when the exact reader must read it.

    ``details`` is shared by the pieces of one CSV, taken in order (:func:`_with_details`); ``collect_ids``
    hashes the bill-line IDs of the month's rows (and, with ``contents``, their content);
    ``superseded`` (line-ID hashes) drops the month's rows of lines another input supersedes.
    """
    has_ids = "line_id" in header.positions
    month = in_month(month_forms)
    try:
        rows = _rows(_scan(part, header), header)
        result = Groups(empty_groups())
        if superseded is not None and has_ids:
            drop = month & pl.col("_id").is_in(hash_series(superseded).implode())
            dropped = rows.select(drop.sum()).collect(engine="streaming").item()
            result.superseded_rows = int(dropped or 0)
            rows = rows.filter(~drop)
        with scratch_dir("scan-") as tmp:
            grouped_path, ids_path = tmp / "groups.arrow", tmp / "ids.arrow"
            sinks = [_grouped(rows).sink_ipc(grouped_path, lazy=True)]
            if collect_ids and has_ids:
                kept = [pl.col("_id")] + ([pl.col("_content")] if contents else [])
                sinks.append(rows.filter(month).select(kept).sink_ipc(ids_path, lazy=True))
            pl.collect_all(sinks, engine="streaming")
            grouped = pl.read_ipc(grouped_path)
            if grouped["_short"].sum():
                raise ScanDeclined("a row whose last read field is empty (a short row, or a blank line)")
            if grouped["_long"].sum():
                raise ScanDeclined("an amount of 14 characters or more")
            if grouped["_surplus"].sum():
                raise ScanDeclined("a row with a field after the last column")
            grouped = _with_details(grouped, part, header, details or DetailsRead())
            if collect_ids and has_ids:
                hashes = pl.read_ipc(ids_path)
                result.ids = hashes["_id"].to_numpy()
                if contents:
                    result.contents = hashes["_content"].to_numpy()
    except pl.exceptions.PolarsError as exc:
        raise ScanDeclined(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    result.table = _narrow(grouped.drop("_short", "_long", "_surplus"))
    _check_sums(result.table, header)
    return result


def _check_sums(table: pl.DataFrame, header: HeaderMap) -> None:
    """ScanDeclined when some group's list cost less its deductions is not its payable (see the module doc)."""
    if "list_cost" not in header.positions:
        return
    deductions = [pl.col(a) for a in ("discount", "coupon", "commitment_deducted") if a in header.positions]
    gap = pl.col("list_cost") - pl.sum_horizontal(deductions) - pl.col("billed_cost") if deductions else \
        pl.col("list_cost") - pl.col("billed_cost")
    if table.select((gap != 0).any()).item():
        raise ScanDeclined("a group whose list cost less its deductions is not its payable")


__all__ = ["DETAIL", "MONEY", "SUM_FIELDS", "CsvPart", "Groups", "ScanDeclined", "content_hash", "empty_groups",
           "hash_series", "id_hash", "in_month", "merge_groups", "scan_groups"]
