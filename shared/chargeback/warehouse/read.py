"""Reading published tables back: allocations and lines, with money as Decimal (manifests: ``manifest``).

Everything downstream of allocation (statements, alerts, reconciliation, FOCUS) reads through here.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.errors import NotFoundError
from chargeback.money import MONEY_TYPE
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


def _read_parquet(store: ObjectStore, key: str) -> pd.DataFrame | None:
    try:
        data = store.read_bytes(key)
    except NotFoundError:
        return None
    table = pq.read_table(io.BytesIO(data))
    if "payer_account_id" not in table.column_names and "account_id" in table.column_names:
        # published before schema 2, which added the payer beside the owner: the payer is unknown there
        table = table.add_column(table.column_names.index("account_id") + 1, "payer_account_id",
                                 pa.array([""] * table.num_rows, pa.string()))
    return table_to_frame(_with_schema_3_columns(table))


def _with_schema_3_columns(table: pa.Table) -> pa.Table:
    """A table published before schema 3 with the columns schema 3 added: no batch or thinking mark, no names or
    region, no prepaid plan (the effective cost is the billed cost)."""
    if "billed_cost" not in table.column_names or "commitment_deducted" in table.column_names:
        return table
    n = table.num_rows
    zero = pa.array([Decimal(0)] * n, MONEY_TYPE)
    added: dict[str, Any] = {"batch": pa.array([False] * n), "thinking": pa.array([False] * n),
                             "account_name": pa.array([""] * n), "payer_account_name": pa.array([""] * n),
                             "region": pa.array([""] * n), "commitment_list_cost": zero,
                             "commitment_after_deduction": zero, "commitment_deducted": zero}
    if "cost_center" in table.column_names:  # an allocation table
        added.update(commitment_covered_cost=zero, effective_cost=table.column("billed_cost"))
    for name, values in added.items():
        if name not in table.column_names:
            table = table.append_column(name, values)
    return table


def read_allocations(store: ObjectStore, month: str) -> pd.DataFrame | None:
    """The month's allocation rows (``chargeback.columns.ALLOCATION_COLUMNS``), or None if unpublished.

    Money and usage columns hold ``Decimal``; ``share`` is a float for information only. Months published
    before schema 2 read with an empty ``payer_account_id``, before schema 3 with the columns it added (no
    marks, names, region or prepaid plan) at their end.
    """
    if read_manifest(store, month) is None:
        return None
    return _read_parquet(store, layout.allocations_key(month))


def read_lines(store: ObjectStore, month: str) -> pd.DataFrame | None:
    """The month's normalized lines (``chargeback.columns.LINE_COLUMNS``), or None if unpublished."""
    if read_manifest(store, month) is None:
        return None
    return _read_parquet(store, layout.lines_key(month))


__all__ = ["read_allocations", "read_lines", "table_to_frame"]
