"""The exact reader: pyarrow, block by block, every error with its physical line; and the line finder.

It reads what the fast path (:mod:`chargeback.bills.scan`) declines: files in GBK, short or malformed rows,
blank lines, amounts polars would round. It produces the same groups as the fast path (the same fields, the
same sums), so a bill reads alike whichever reader took it, or it raises InputError naming the file, the
physical line and the field: a row with the wrong number of fields, a cell that is not a number with at most
12 decimals, text that is neither UTF-8 nor the file's encoding, a row longer than
:data:`~chargeback.bills.sources.MAX_ROW_BYTES`.

Line numbers are physical lines of the file, the header being line 1: a row's record number is turned into its
line by counting the newlines before it, outside and inside quotes (:class:`LineFinder`), so a quoted
newline in an earlier row does not shift the number. :func:`locate` finds the first row whose field holds a
given value, for the checks that run on the groups (a date that does not parse, a currency that is no ISO
4217 code).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from chargeback.bills.headers import AMOUNT_FIELDS, TEXT_FIELDS, HeaderMap
from chargeback.bills.scan import (
    DETAIL,
    MONEY,
    Groups,
    content_hash,
    empty_groups,
    hash_series,
    id_hash,
    in_month,
    merge_groups,
)
from chargeback.bills.sources import MAX_ROW_BYTES, RowTooLongError
from chargeback.errors import InputError
from chargeback.fee_types import BILL_FREE_QUOTA
from chargeback.money import MONEY_TYPE

BLOCK_SIZE = 4 << 20
Opener = Callable[[], BinaryIO]  # a fresh stream of the CSV's bytes, from its first byte


@dataclass(frozen=True)
class CsvSource:
    """One CSV (a file, or a zip member) that can be read again from its start, and how to name it."""

    name: str
    open: Opener
    encoding: str = "utf-8"


# ---------------------------------------------------------------------------------------------------------
# lines


class LineFinder:
    """Physical lines of a CSV's records and byte offsets, by one pass over its bytes (numpy, 8 MiB at a time).

    Record 0 is the header; data row ``i`` (0-based) is record ``i + 1``. Blank lines are not records (both
    readers skip them). A newline inside quotes ends no record but still counts as a line.
    """

    def __init__(self, source: CsvSource) -> None:
        self.source = source

    def _ends(self) -> Iterator[tuple[int, int]]:
        """(byte offset, physical line) of every record's end, in order."""
        carry, offset, newlines, previous_end, previous_byte = 0, 0, 0, -1, 10
        with self.source.open() as stream:
            while block := stream.read(8 << 20):
                data = np.frombuffer(block, dtype=np.uint8)
                quotes = np.flatnonzero(data == 34)
                breaks = np.flatnonzero(data == 10)
                before = np.searchsorted(quotes, breaks)
                ends = breaks[((carry + before) & 1) == 0]
                lines = newlines + np.searchsorted(breaks, ends) + 1  # the line each end is on
                for end, line in zip(ends.tolist(), lines.tolist(), strict=True):
                    start = previous_end + 1
                    length = offset + end - start
                    last = data[end - 1] if end > 0 else previous_byte
                    previous_end = offset + end
                    if length == 0 or (length == 1 and last == 13):
                        continue  # a blank line
                    yield offset + end, line
                carry = (carry + quotes.size) & 1
                newlines += breaks.size
                previous_byte = int(data[-1])
                offset += len(block)
        if previous_end + 1 < offset:  # a last row without a newline
            yield offset, newlines + 1

    def line_of_row(self, row: int) -> int:
        """The physical line data row ``row`` (0-based) starts on."""
        last = 1
        for index, (_, end_line) in enumerate(self._ends()):  # end 0 is the header's: row i starts after end i
            last = end_line
            if index == row:
                break
        return last + 1

    def line_of_offset(self, position: int) -> int:
        """The physical line of byte offset ``position``."""
        count = 1
        with self.source.open() as stream:
            read = 0
            while block := stream.read(8 << 20):
                if read + len(block) > position:
                    return count + block.count(b"\n", 0, position - read)
                count += block.count(b"\n")
                read += len(block)
        return count


def first_undecodable(source: CsvSource) -> tuple[int, str] | None:
    """(byte offset, the bytes) of the first text that is not in the source's encoding, or None."""
    decoder = codecs.getincrementaldecoder(source.encoding)()
    offset = 0
    with source.open() as stream:
        while block := stream.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset + exc.start - len(decoder.getstate()[0]), block[exc.start:exc.end].hex(" ")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset + exc.start, "(a character cut off at the end)"
    return None


# ---------------------------------------------------------------------------------------------------------
# reading


@contextmanager
def _reader(source: CsvSource, header: HeaderMap, fields: list[str], block_size: int, invalid: list[InvalidRow]
            ) -> Iterator[pacsv.CSVStreamingReader]:
    names = [f"c{i}" for i in range(header.width)]
    wanted = [f"c{header.positions[f]}" for f in fields]

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(InvalidRow(row.number, row.expected_columns, row.actual_columns, row.text or ""))
        return "error"

    stream: IO[bytes] = source.open()
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=block_size,
                                           encoding=source.encoding, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(include_columns=sorted(set(wanted), key=wanted.index),
                                                 column_types={c: pa.string() for c in wanted},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        yield reader
    finally:
        stream.close()


@dataclass(frozen=True)
class InvalidRow:
    number: int | None  # pyarrow's row number: the record number, the header being 1
    expected: int
    actual: int
    text: str


def _batches(source: CsvSource, header: HeaderMap, fields: list[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first data row, batch) of the CSV's fields, InputError with the physical line for what cannot be read."""
    for block_size in (BLOCK_SIZE, MAX_ROW_BYTES):
        row = 0
        invalid: list[InvalidRow] = []
        try:
            with _reader(source, header, fields, block_size, invalid) as reader:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    except pa.ArrowInvalid as exc:
                        if "straddling" in str(exc) or "straddle" in str(exc):
                            raise _Straddling from None
                        raise _unreadable(source, header, row, invalid, exc) from None
                    yield row, batch
                    row += batch.num_rows
        except _Straddling:
            if block_size == MAX_ROW_BYTES:
                line = LineFinder(source).line_of_row(row)
                raise RowTooLongError(f"a row longer than {MAX_ROW_BYTES >> 20} MiB: not a bill, or a damaged "
                                      "file", source=source.name, line=line) from None
        except pa.ArrowInvalid as exc:  # opening: the first block
            if "straddl" in str(exc) and block_size != MAX_ROW_BYTES:
                continue
            raise _unreadable(source, header, 0, invalid, exc) from None


class _Straddling(Exception):
    """A row longer than the block: read again with larger blocks."""


def _unreadable(source: CsvSource, header: HeaderMap, row: int, invalid: list[InvalidRow],
                exc: pa.ArrowInvalid) -> InputError:
    finder = LineFinder(source)
    if invalid:
        bad = invalid[0]
        line = finder.line_of_row(bad.number - 2) if bad.number else finder.line_of_row(row)
        if bad.actual < bad.expected:
            what = f"the row has {bad.actual} fields where the header has {bad.expected}"
            if bad.actual <= 1 and '"' in bad.text:
                what += " (a quote that is never closed swallows the rows after it)"
        else:
            what = f"the row has {bad.actual} fields where the header has {bad.expected} (a stray comma or quote?)"
        return InputError(what, source=source.name, line=line)
    text = str(exc)
    if "UTF8" in text or "utf8" in text.lower() or "decode" in text.lower():
        found = first_undecodable(source)
        if found is not None:
            return InputError(f"bytes {found[1]} are not {source.encoding} text", source=source.name,
                              line=finder.line_of_offset(found[0]))
    return InputError(f"not a readable CSV ({text.splitlines()[0]})", source=source.name,
                      line=finder.line_of_row(row))


def _amount(column: pa.Array, field: str, header: str, source: CsvSource, first_row: int) -> pa.Array:
    """Exact decimals of a block's amount cells (empty: null); InputError naming the first bad cell's line."""
    cells = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    try:
        return pc.cast(cells, MONEY_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = cells.to_pylist()
        index = next(i for i, value in enumerate(values) if value is not None and not _exact(value))
        raise InputError(f"{values[index]!r} is not a number with at most 12 decimals", source=source.name,
                         line=LineFinder(source).line_of_row(first_row + index), field=header) from None


def _exact(text: str) -> bool:
    try:
        pc.cast(pa.array([text]), MONEY_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def read_groups(source: CsvSource, header: HeaderMap, month_forms: tuple[str, ...], *,
                collect_ids: bool = False, contents: bool = False, superseded: np.ndarray | None = None) -> Groups:
    """The CSV summed to the same raw groups as :func:`~chargeback.bills.scan.scan_groups` gives."""
    fields = sorted(header.positions, key=header.positions.__getitem__)
    column = {f: f"c{header.positions[f]}" for f in fields}
    has_ids = "line_id" in column
    exclude = hash_series(superseded) if superseded is not None else None
    result = Groups(empty_groups())
    partials: list[pl.DataFrame] = []
    ids: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    month = in_month(month_forms)
    for first_row, batch in _batches(source, header, fields):
        n = batch.num_rows
        data: dict[str, pa.Array] = {}
        for name in TEXT_FIELDS:
            data[name] = batch.column(column[name]) if name in column else pa.array([""] * n, pa.string())
        data["billing_date"] = pc.utf8_slice_codeunits(data["billing_date"], 0, 10)
        for name in AMOUNT_FIELDS:
            data[name] = (_amount(batch.column(column[name]), name, header.columns[name], source, first_row)
                          if name in column else pa.nulls(n, MONEY_TYPE))
        if "usage_detail" in column and "fee_type" in column:
            free = pc.equal(batch.column(column["fee_type"]), BILL_FREE_QUOTA)
            data[DETAIL] = pc.if_else(free, batch.column(column["usage_detail"]), pa.scalar(None, pa.string()))
        else:
            data[DETAIL] = pa.nulls(n, pa.string())
        frame = pl.from_arrow(pa.table(data))
        assert isinstance(frame, pl.DataFrame)
        if has_ids:
            raw = pl.from_arrow(batch)
            assert isinstance(raw, pl.DataFrame)
            frame = frame.with_columns(raw.select(
                id_hash(pl.col(column["line_id"])).alias("_id"),
                content_hash({f: pl.col(c) for f, c in column.items()}).alias("_content")))
            if exclude is not None:
                drop = frame.select(month & pl.col("_id").is_in(exclude.implode())).to_series()
                result.superseded_rows += int(drop.sum())
                frame = frame.filter(~drop)
            if collect_ids:
                kept = frame.filter(month)
                ids.append(kept["_id"].to_numpy())
                if contents:
                    hashes.append(kept["_content"].to_numpy())
            frame = frame.drop("_id", "_content")
        frame = frame.with_columns([pl.col(a).cast(MONEY) for a in AMOUNT_FIELDS])
        partials.append(frame.group_by(list(TEXT_FIELDS), maintain_order=True).agg(
            [pl.col(a).sum() for a in AMOUNT_FIELDS]
            + [pl.len().cast(pl.Int64).alias("line_count"), pl.col(DETAIL).drop_nulls().first()]))
        if len(partials) >= 16:
            partials = [merge_groups(partials)]
    result.table = merge_groups(partials).with_columns([pl.col(a).fill_null(0) for a in AMOUNT_FIELDS])
    if ids:
        result.ids = np.concatenate(ids)
    if hashes:
        result.contents = np.concatenate(hashes)
    return result


def locate(source: CsvSource, header: HeaderMap, field: str, matches: Callable[[pa.Array], pa.Array]) -> int | None:
    """The physical line of the first row whose ``field`` (raw text) ``matches`` (a vectorized predicate)."""
    for first_row, batch in _batches(source, header, [field]):
        hits = matches(batch.column(f"c{header.positions[field]}"))
        index = pc.index(hits, True).as_py()
        if index is not None and index >= 0:
            return LineFinder(source).line_of_row(first_row + index)
    return None


__all__ = ["CsvSource", "LineFinder", "first_undecodable", "locate", "read_groups"]
