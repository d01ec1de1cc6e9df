"""Small vectorized helpers over Arrow columns that more than one part of the pipeline needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.units import tokens_per_unit

if TYPE_CHECKING:  # polars is imported where it runs: commands that never group (``--help``) skip it
    import polars as pl


def map_distinct(column: pa.ChunkedArray | pa.Array, convert: Callable[[Any], Any],
                 type_: pa.DataType | None = None) -> pa.Array:
    """``convert`` applied to each distinct value of ``column`` only, spread back over every row.

    For the per-value Python work (parsing an instance ID, a date, a label) on columns with few distinct values.
    """
    distinct = pc.unique(column)
    results = pa.array([convert(value) for value in distinct.to_pylist()], type_ or pa.string())
    return pc.take(results, pc.index_in(column, value_set=distinct))


def map_distinct_fields(column: pa.ChunkedArray | pa.Array, convert: Callable[[Any], Mapping[str, Any]],
                        types: Mapping[str, pa.DataType]) -> dict[str, pa.Array]:
    """Several columns from one: ``convert`` gives each distinct value of ``column`` a record, and each field
    named in ``types`` is spread back over every row as a column of its type. The distinct values are found
    and placed once for all the fields (parsing an instance ID into its eleven parts, say)."""
    distinct = pc.unique(column)
    records = [convert(value) for value in distinct.to_pylist()]
    positions = pc.index_in(column, value_set=distinct)
    return {name: pc.take(pa.array([r[name] for r in records], type_), positions) for name, type_ in types.items()}


def sum_by(table: pa.Table, keys: Sequence[str], sums: Sequence[str]) -> pa.Table:
    """``table`` summed by ``keys``: one row per distinct tuple of keys, in the order of first appearance, with
    the keys, then the ``sums`` (non-null columns; decimals stay exact), each of the input's type.

    polars groups: on the month's lines (40,921 rows, 30 text keys) it takes about a quarter of the time of
    Arrow's single-threaded ``group_by``, conversion both ways included.
    """
    import polars as pl  # here, not at the top: commands that never group (``--help``, ``report``) skip it

    frame = pl.from_arrow(table.select([*keys, *sums]))
    assert isinstance(frame, pl.DataFrame)
    grouped = frame.group_by(list(keys), maintain_order=True).agg([pl.col(name).sum() for name in sums])
    return from_polars(grouped).cast(pa.schema([table.schema.field(name) for name in (*keys, *sums)]))


def from_polars(frame: pl.DataFrame) -> pa.Table:
    """A polars DataFrame as an Arrow table, text as ``string``, column by column (one chunk each).

    Each text column leaves polars as ``large_string`` (polars' oldest Arrow form) and becomes ``string`` by a
    new offsets buffer over the same characters. Measured on the 1M-row month's groups (40,921 rows, 30
    columns): a quarter of the time and of the new memory of ``DataFrame.to_arrow``, whose text views Arrow
    copies character by character into ``string``.
    """
    import polars as pl

    columns = {}
    for name in frame.columns:
        column = frame[name].to_arrow(compat_level=pl.CompatLevel.oldest())
        columns[name] = pc.cast(column, pa.string()) if pa.types.is_large_string(column.type) else column
    return pa.table(columns)


def token_counts(usage: pa.ChunkedArray | pa.Array, unit: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """Whole tokens of each row's ``usage`` (decimal) in its bill ``unit`` ('千tokens' x 1000), half to even;
    null where the unit does not count tokens (images, seconds, characters, or a unit ``chargeback.units``
    does not know)."""
    def size(text: str) -> int | None:
        tokens = tokens_per_unit(text)
        return None if tokens is None else int(tokens)

    sizes = map_distinct(unit, size, pa.int64())
    try:  # a usage of up to 27 digits times a unit of up to 10 fits decimal128, twice as fast as decimal256
        product = pc.multiply(pc.cast(usage, pa.decimal128(27, usage.type.scale)),
                              pc.cast(pc.cast(sizes, pa.int32()), pa.decimal128(10, 0)))
    except pa.ArrowInvalid:  # a usage (or unit) too large for that: 76 digits
        wide = pa.decimal256(50, usage.type.scale)
        product = pc.multiply(pc.cast(usage, wide), pc.cast(sizes, pa.decimal256(19, 0)))
    return pc.cast(pc.round(product, 0), pa.int64())
