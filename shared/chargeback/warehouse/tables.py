"""The published shape of the lines and allocations tables: what analysts, Athena and Spark read.

Inside the pipeline a line's ``billing_date`` is ISO text and its usage is the bill's (``usage`` in
``usage_unit``). Published, ``billing_date`` is a DATE (Arrow date32) and ``chargeback.columns.USAGE_MEASURES``
sit right after ``usage_unit``: ``tokens``, and ``usage_quantity`` in ``usage_unit_normalized`` for the rest
(``chargeback.units`` knows the units; one it does not know leaves all three null, never guessed). This module
converts both ways, and brings tables published by older versions (billing_date as text, no measures) into
today's types, so every month reads alike whatever version published it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.columns import (
    ALLOCATION_AMOUNTS,
    BILLING_DATE,
    LINE_AMOUNTS,
    LINE_COUNT,
    LINE_FLAGS,
    PUBLISHED_ALLOCATION_COLUMNS,
    PUBLISHED_LINE_COLUMNS,
    TOKENS,
    USAGE_MEASURES,
    USAGE_QUANTITY,
    USAGE_UNIT_NORMALIZED,
)
from chargeback.money import MONEY_SCALE, MONEY_TYPE
from chargeback.units import usage_unit
from chargeback.vectors import map_distinct, token_counts

_WIDE = pa.decimal256(40, MONEY_SCALE)
MEASURED_COLUMNS = ("usage", "deducted_usage", "usage_unit")  # what the usage measures follow from


def _type(name: str) -> pa.DataType:
    if name == BILLING_DATE:
        return pa.date32()
    if name in ALLOCATION_AMOUNTS or name == USAGE_QUANTITY:
        return MONEY_TYPE
    if name in (LINE_COUNT, TOKENS):
        return pa.int64()
    if name == "share":
        return pa.float64()
    if name in LINE_FLAGS:
        return pa.bool_()
    return pa.string()


PUBLISHED_LINE_SCHEMA = pa.schema([pa.field(c, _type(c)) for c in PUBLISHED_LINE_COLUMNS])
PUBLISHED_ALLOCATION_SCHEMA = pa.schema([pa.field(c, _type(c)) for c in PUBLISHED_ALLOCATION_COLUMNS])
assert set(LINE_AMOUNTS) <= set(ALLOCATION_AMOUNTS)


def usage_measures(table: pa.Table) -> dict[str, pa.Array | pa.ChunkedArray]:
    """``tokens``, ``usage_quantity`` and ``usage_unit_normalized`` of rows with ``usage``, ``deducted_usage`` and
    ``usage_unit``: the quantity used, free quota included, as whole tokens or in the normalized unit."""
    used = pc.cast(pc.add(pc.cast(table["usage"], _WIDE), pc.cast(table["deducted_usage"], _WIDE)), _WIDE)
    unit = table["usage_unit"]

    def size(text: str) -> str | None:
        found = usage_unit(text)
        return None if found is None or found.quantity == "token" else str(found.size)

    def quantity(text: str) -> str | None:
        found = usage_unit(text)
        return None if found is None or found.quantity == "token" else found.quantity

    sizes = pc.cast(map_distinct(unit, size), pa.decimal256(19, 0))
    counted = pc.multiply(used, sizes)  # null where the unit is a token unit or unknown
    return {TOKENS: token_counts(used, unit),
            USAGE_QUANTITY: pc.cast(counted, MONEY_TYPE),
            USAGE_UNIT_NORMALIZED: map_distinct(unit, quantity)}


def _as_published(table: pa.Table, schema: pa.Schema, measures: Sequence[str] = USAGE_MEASURES) -> pa.Table:
    """``table`` in the published types and order, with those of ``measures`` it lacks derived (when it has
    what they follow from); columns the schema does not know are kept, at the end."""
    if BILLING_DATE in table.column_names and not pa.types.is_date(table.schema.field(BILLING_DATE).type):
        table = table.set_column(table.column_names.index(BILLING_DATE), BILLING_DATE,
                                 pc.cast(table[BILLING_DATE], pa.date32()))
    missing = [m for m in measures if m not in table.column_names]
    if missing and set(MEASURED_COLUMNS) <= set(table.column_names):
        derived = usage_measures(table)
        for name in missing:
            table = table.append_column(name, derived[name])
    names = [f.name for f in schema if f.name in table.column_names]
    names += [n for n in table.column_names if n not in names]
    fields = [schema.field(n) if n in schema.names else table.schema.field(n) for n in names]
    return table.select(names).cast(pa.schema(fields))


def published_lines(lines: pa.Table) -> pa.Table:
    """Normalized lines (``chargeback.bills.normalize.LINE_SCHEMA``) as published (``PUBLISHED_LINE_SCHEMA``)."""
    return _as_published(lines, PUBLISHED_LINE_SCHEMA)


def published_allocations(table: pa.Table) -> pa.Table:
    """Allocation rows (``ALLOCATION_SCHEMA``) as published (``PUBLISHED_ALLOCATION_SCHEMA``)."""
    return _as_published(table, PUBLISHED_ALLOCATION_SCHEMA)


def in_todays_types(table: pa.Table, wanted: Sequence[str] | None = None) -> pa.Table:
    """Any published lines or allocations (or some of their columns), of any version, in today's types:
    ``billing_date`` a date, and the usage measures of ``wanted`` (default: all) derived where the table lacks
    them and has what they follow from (a month published before them)."""
    schema = PUBLISHED_ALLOCATION_SCHEMA if "cost_center" in table.column_names else PUBLISHED_LINE_SCHEMA
    measures = USAGE_MEASURES if wanted is None else [m for m in USAGE_MEASURES if m in wanted]
    return _as_published(table, schema, measures)


def in_pipeline_types(table: pa.Table) -> pa.Table:
    """A published table as the pipeline holds it: ``billing_date`` as ISO text, without the usage measures
    (which follow from ``usage``, ``deducted_usage`` and ``usage_unit``)."""
    table = table.drop_columns([m for m in USAGE_MEASURES if m in table.column_names])
    if BILLING_DATE in table.column_names and pa.types.is_date(table.schema.field(BILLING_DATE).type):
        table = table.set_column(table.column_names.index(BILLING_DATE), BILLING_DATE,
                                 pc.cast(table[BILLING_DATE], pa.string()))
    return table


__all__ = ["MEASURED_COLUMNS", "PUBLISHED_ALLOCATION_SCHEMA", "PUBLISHED_LINE_SCHEMA", "in_pipeline_types",
           "in_todays_types", "published_allocations", "published_lines", "usage_measures"]
