"""Reading published tables back: allocations and lines, with money as Decimal (manifests: ``manifest``).

Everything downstream of allocation (statements, alerts, reconciliation, FOCUS) reads through here.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.columns import COST_CENTER_PATH, REPORTING_BILLED_COST, REPORTING_CURRENCY
from chargeback.errors import NotFoundError
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import read_manifest


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a DataFrame: decimal columns become Decimal objects, strings stay strings."""
    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            columns[name] = pd.Series(column.to_pylist(), dtype=object)
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns)


def _read_parquet(store: ObjectStore, key: str, *, allocations: bool = False) -> pd.DataFrame | None:
    try:
        data = store.read_bytes(key)
    except NotFoundError:
        return None
    table = pq.read_table(io.BytesIO(data))
    if allocations:
        table = _with_derived_columns(table)
    if "payer_account_id" not in table.column_names and "account_id" in table.column_names:
        # published before schema 2, which added the payer beside the owner: the payer is unknown there
        table = table.add_column(table.column_names.index("account_id") + 1, "payer_account_id",
                                 pa.array([""] * table.num_rows, pa.string()))
    return table_to_frame(table)


# Allocation columns added after the first published months, each with what it meant before it existed:
# no hierarchy (the path is the cost center) and no reporting currency (the bill's own).
_DERIVED_BEFORE = ((COST_CENTER_PATH, "cost_center"), (REPORTING_CURRENCY, "currency"),
                   (REPORTING_BILLED_COST, "billed_cost"))


def _with_derived_columns(table: pa.Table) -> pa.Table:
    for name, source in _DERIVED_BEFORE:
        if name not in table.column_names:
            table = table.append_column(name, table[source])
    return table


def read_allocations(store: ObjectStore, month: str) -> pd.DataFrame | None:
    """The month's allocation rows (``chargeback.columns.ALLOCATION_COLUMNS``), or None if unpublished.

    Money and usage columns hold ``Decimal``; ``share`` is a float for information only. Months published
    before schema 2 read with an empty ``payer_account_id``; months published before the hierarchy and the
    reporting currency read with the cost center as its path and the bill's currency and billed cost.
    """
    if read_manifest(store, month) is None:
        return None
    return _read_parquet(store, layout.allocations_key(month), allocations=True)


def read_lines(store: ObjectStore, month: str) -> pd.DataFrame | None:
    """The month's normalized lines (``chargeback.columns.LINE_COLUMNS``), or None if unpublished."""
    if read_manifest(store, month) is None:
        return None
    return _read_parquet(store, layout.lines_key(month))


__all__ = ["read_allocations", "read_lines", "table_to_frame"]
