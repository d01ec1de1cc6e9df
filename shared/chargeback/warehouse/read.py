"""Reading published tables back: allocations and lines, with money as Decimal (manifests: ``manifest``).

Everything downstream of allocation (statements, alerts, reconciliation, FOCUS, re-allocation) reads through
here, and so reads what the month's manifest names: the content-addressed object of each output, checked
against the manifest's SHA-256 (months published before schema 3: the table key, checked the same way). A
month whose objects are missing or differ (a run died while publishing under an earlier version, or someone
removed an object) raises MonthNeedsRerunError, which says so and how to repair it; a month republished while
it was being read is read again once, from its new manifest.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.columns import COST_CENTER_PATH, COST_DIMENSIONS, REPORTING_BILLED_COST, REPORTING_CURRENCY
from chargeback.errors import ChargebackError, NotFoundError
from chargeback.money import money_zeros
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import Manifest, read_manifest
from chargeback.warehouse.tables import in_pipeline_types

if TYPE_CHECKING:
    import pandas as pd


class MonthNeedsRerunError(ChargebackError):
    """A published month whose tables are not the ones its manifest names; a rerun of the month repairs it."""

    def __init__(self, store: ObjectStore, month: str, problem: str) -> None:
        self.month = month
        super().__init__(f"month {month} in {store.url} needs a rerun: {problem}. Run 'chargeback run --month "
                         f"{month}' again (the daily job does so by itself) to publish it whole")


def read_output(store: ObjectStore, manifest: Manifest, key: str) -> bytes | None:
    """The bytes of the output ``key`` (a table key, e.g. ``layout.allocations_key(month)``) that ``manifest``
    names, checked against its SHA-256; None when the manifest names no such output."""
    stored = manifest.objects.get(key)
    expected = stored.sha256 if stored else manifest.outputs.get(key)
    source = stored.key if stored else key
    if manifest.objects and stored is None:
        return None
    try:
        data = store.read_bytes(source)
    except NotFoundError:
        if stored is None and expected is None:
            return None  # an early manifest that does not list its outputs, and no such table
        raise MonthNeedsRerunError(store, manifest.month, f"{source}, which its manifest names, is missing") from None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise MonthNeedsRerunError(store, manifest.month, f"{source} is not the {key} its manifest names (its "
                                   "SHA-256 differs: a run stopped while publishing the month)")
    return data


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a DataFrame: decimal columns become Decimal objects, strings stay strings."""
    import pandas as pd  # here, not at the top: ``chargeback run`` reads tables as Arrow and never imports pandas

    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            columns[name] = pd.Series(column.to_pylist(), dtype=object)
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns)


def read_table(store: ObjectStore, month: str, key: str, manifest: Manifest | None = None) -> pa.Table | None:
    """The Parquet output ``key`` of ``month`` as the month's manifest (or ``manifest``) names it; None when the
    month is unpublished or the manifest names no such output."""
    given = manifest is not None
    manifest = manifest or read_manifest(store, month)
    if manifest is None:
        return None
    try:
        data = read_output(store, manifest, key)
    except MonthNeedsRerunError:
        latest = None if given else read_manifest(store, month)
        if latest is None or latest == manifest:
            raise
        data = read_output(store, latest, key)  # republished while we read: follow the new manifest once
    return None if data is None else pq.read_table(io.BytesIO(data))


def _frame(table: pa.Table | None) -> pd.DataFrame | None:
    if table is None:
        return None
    table = in_pipeline_types(table)  # the published DATE and usage measures: as the pipeline holds them
    if "payer_account_id" not in table.column_names and "account_id" in table.column_names:
        # published before schema 2, which added the payer beside the owner: the payer is unknown there
        table = table.add_column(table.column_names.index("account_id") + 1, "payer_account_id",
                                 pa.array([""] * table.num_rows, pa.string()))
    return table_to_frame(_with_schema_3_columns(table))


def _with_schema_3_columns(table: pa.Table) -> pa.Table:
    """A table published before schema 3 with the columns schema 3 added: no batch or thinking mark, no names,
    region, tags, resource group or cost unit, no prepaid plan (the effective cost is the billed cost)."""
    if "billed_cost" not in table.column_names:
        return table
    n = table.num_rows
    zero = money_zeros(n)
    empty = pa.array([""] * n, pa.string())
    added: dict[str, Any] = {"batch": pa.array([False] * n), "thinking": pa.array([False] * n),
                             "account_name": empty, "payer_account_name": empty, "region": empty, "tags": empty,
                             "resource_group": empty, "cost_unit": empty, "commitment_list_cost": zero,
                             "commitment_after_deduction": zero, "commitment_deducted": zero}
    if "cost_center" in table.column_names:  # an allocation table
        added.update(commitment_covered_cost=zero, effective_cost=table.column("billed_cost"))
        # before the hierarchy and the reporting currency: the path is the cost center, the currency the bill's
        added.update({COST_CENTER_PATH: table.column("cost_center"), REPORTING_CURRENCY: table.column("currency"),
                      REPORTING_BILLED_COST: table.column("billed_cost")})
    for name, values in added.items():
        if name not in table.column_names:
            table = table.append_column(name, values)
    return table


def read_allocations(store: ObjectStore, month: str, manifest: Manifest | None = None) -> pd.DataFrame | None:
    """The month's allocation rows (``chargeback.columns.ALLOCATION_COLUMNS``), or None if unpublished.

    ``manifest`` pins the version read (a caller that holds the month's manifest reads the rows it names).
    Money and usage columns hold ``Decimal``; ``share`` is a float for information only; ``billing_date`` is
    ISO text (a DATE in the Parquet) and the published usage measures are left out (they follow from
    ``usage`` and ``usage_unit``: ``chargeback.warehouse.tables``). Months published
    before schema 2 read with an empty ``payer_account_id``, before schema 3 with the columns it added (no
    marks, names, region or prepaid plan; the cost center as its path, the bill's currency and billed cost as
    the reporting ones) at their end.
    """
    return _frame(read_table(store, month, layout.allocations_key(month), manifest))


def read_lines(store: ObjectStore, month: str, manifest: Manifest | None = None) -> pd.DataFrame | None:
    """The month's normalized lines (``chargeback.columns.LINE_COLUMNS``), or None if unpublished."""
    return _frame(read_table(store, month, layout.lines_key(month), manifest))


def read_allocation_sums(store: ObjectStore, month: str, by: tuple[str, ...]) -> pd.DataFrame | None:
    """The month's ``billed_cost`` summed exactly per ``by`` (e.g. cost_center, currency), or None if unpublished.

    Reads the month's cost summary (``costs/``, a few ten thousand rows) when its manifest names one and ``by``
    are among its dimensions, else the allocation table; either checked like every read, only the columns
    needed decoded and summed in Arrow (decimal sums are exact): cheap enough to look back over several months
    for a trend.
    """
    manifest = read_manifest(store, month)
    if manifest is None:
        return None
    data = None
    if set(by) <= set(COST_DIMENSIONS):
        data = read_output(store, manifest, layout.costs_key(month))
    if data is None:
        data = read_output(store, manifest, layout.allocations_key(month))
    if data is None:
        return None
    table = pq.read_table(io.BytesIO(data), columns=[*by, "billed_cost"])
    grouped = table.group_by(list(by), use_threads=False).aggregate([("billed_cost", "sum")])
    return table_to_frame(grouped.select([*by, "billed_cost_sum"]).rename_columns([*by, "billed_cost"]))


__all__ = ["MonthNeedsRerunError", "read_allocation_sums", "read_allocations", "read_lines", "read_output",
           "read_table", "table_to_frame"]
