"""Allocation rows as a FinOps FOCUS 1.0 cost and usage dataset, Model Studio dimensions as ``x_`` columns.

Column IDs are those of the FOCUS 1.0 specification (bill-formats.md section 7). How each is filled:

- Costs: ``BilledCost`` = the payable amount; ``EffectiveCost`` = ``BilledCost`` (pay-as-you-go has no
  commitment to amortise); ``ListCost`` = the bill's list cost, ``ListUnitPrice`` its list unit price;
  ``ContractedCost`` = ``ListCost`` and ``ContractedUnitPrice`` = ``ListUnitPrice``, because the bill shows no
  negotiated discount and the spec keeps promotions and other discounts out of contracted prices (they show
  as ListCost > BilledCost; ``x_discount`` and ``x_coupon`` carry them). Free-quota rows cost 0 everywhere.
- Quantities: ``PricingQuantity`` = billed usage (after free quota), ``ConsumedQuantity`` = usage before
  deduction, both in the bill's unit (``1000 Tokens``, ``Images``, ``Seconds``).
- Periods: a charge covers its billing date, a billing period its month; the bill's days are UTC+8 and FOCUS
  datetimes are UTC, so 2026-05-14 is ``2026-05-13T16:00:00Z`` to ``2026-05-14T16:00:00Z`` (end exclusive).
- Who: ``BillingAccountId`` = the account that pays (``payer_account_id``: the management account of a
  consolidated bill), ``x_account_id`` = the account that owns the resource (``account_id``: a member
  account), ``SubAccountId`` = the workspace, ``ResourceId`` = the instance ID without its free-quota flag,
  ``Tags`` = the cost center and allocation rule as a JSON object.
- ``RegionId``/``RegionName``, ``AvailabilityZone``, the commitment-discount columns and ``ChargeClass`` are
  null: allocation rows carry no region, and Model Studio pay-as-you-go has no commitments or corrections.

``BillingAccountName`` is null unless given (allocation rows carry no account name), ``SubAccountName`` is
the workspace label where one is given, else the workspace ID. Note: focus-validator 1.0.0 still names four
columns by their display names (``InvoiceIssuer``, ``Provider``, ``Publisher``, ``ResourceID``) and one of
its rules reads the 1.0-preview ``ChargeType``; tests/support/focus_validator.py adapts a copy for it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chargeback.billtime import BILL_UTC_OFFSET, bill_midnight
from chargeback.columns import ALLOCATION_COLUMNS
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import MONEY_TYPE, decimal_text, to_decimal
from chargeback.months import first_day, next_month
from chargeback.units import focus_unit
from chargeback.vectors import map_distinct
from chargeback.warehouse.publish import chunked_csv, neutralise_column

if TYPE_CHECKING:  # pandas only for the DataFrame fronts, imported where they run: `run` never loads it
    import pandas as pd

FOCUS_VERSION = "1.0"
FOCUS_COLUMNS: tuple[str, ...] = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
)
X_COLUMNS: tuple[str, ...] = (
    "x_account_id", "x_workspace_id", "x_api_key_id", "x_model", "x_usage_type", "x_channel", "x_cost_center",
    "x_call_source", "x_fee_type", "x_allocation_rule", "x_discount", "x_coupon",
)
COLUMNS: tuple[str, ...] = (*FOCUS_COLUMNS, *X_COLUMNS)
DECIMAL_COLUMNS = frozenset({
    "BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "ListCost",
    "ListUnitPrice", "PricingQuantity", "x_discount", "x_coupon",
})
MONEY_COLUMNS = frozenset({"usage", "usage_before_deduction", "deducted_usage", "list_cost", "discount", "coupon",
                           "billed_cost"})
DATETIME_COLUMNS = frozenset({"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd",
                              "ChargePeriodStart"})
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

def _month_edge(edge: int, month: str) -> datetime:
    """The start (edge 0) or end (edge 1, exclusive) of a billing month, in UTC."""
    return bill_midnight(first_day(month if edge == 0 else next_month(month))).astimezone(UTC)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def to_focus(allocations: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """FOCUS 1.0 rows (:data:`COLUMNS`) of allocation rows held in a DataFrame; the input is not changed.

    A DataFrame front to :func:`focus_table` (``options`` are its keyword arguments): money as ``Decimal``,
    datetimes as UTC, the rest as text.
    """
    import pandas as pd

    missing = [c for c in ALLOCATION_COLUMNS if c not in allocations.columns and c != "share"]
    if missing:
        raise InputError(f"the allocation rows lack column(s) {', '.join(missing)}", field="allocations")
    columns = {}
    for name in ALLOCATION_COLUMNS:
        values = allocations[name].tolist() if name in allocations.columns else [1.0] * len(allocations)
        try:
            if name in MONEY_COLUMNS:
                columns[name] = pa.array([to_decimal(v) for v in values], MONEY_TYPE)
            elif name in ("share", "line_count"):
                columns[name] = pa.array(values, pa.float64() if name == "share" else pa.int64())
            else:
                columns[name] = pa.array([_text(v) for v in values], pa.string())
        except (ValueError, TypeError, ArithmeticError, pa.ArrowInvalid) as exc:
            raise InputError(f"allocation column {name}: {exc}", field="allocations") from None
    table = focus_table(pa.table(columns), **options)
    frame: dict[str, pd.Series] = {}
    for name in COLUMNS:
        column = table[name]
        if name in DECIMAL_COLUMNS:
            frame[name] = pd.Series(column.to_pylist(), dtype=object)
        elif name in DATETIME_COLUMNS:
            frame[name] = pd.Series(column.to_pandas(), dtype="datetime64[s, UTC]")
        else:
            frame[name] = pd.Series(column.to_pylist(), dtype="str")
    return pd.DataFrame(frame, columns=list(COLUMNS))


def focus_table(
    allocations: pa.Table,
    *,
    provider: str = "Alibaba Cloud",
    publisher: str | None = None,
    invoice_issuer: str = "Alibaba Cloud",
    billing_account_name: str | None = None,
    sub_account_names: Mapping[str, str] | None = None,
    service_name: str = "Model Studio",
) -> pa.Table:
    """FOCUS 1.0 rows (:data:`COLUMNS`), one per allocation row (``ALLOCATION_SCHEMA``), vectorized.

    ``invoice_issuer`` is the bill's 服务主体 (e.g. the operating company of the site); ``sub_account_names``
    maps workspace IDs to names (the mapping file's ``workspace_labels``).
    """
    n = allocations.num_rows
    names = dict(sub_account_names or {})
    col = allocations.column

    def const(value: str | None) -> pa.Array:
        return pa.nulls(n, pa.string()) if value is None else pa.array([value] * n, pa.string())

    def or_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.if_else(pc.equal(column, ""), None, column)

    try:
        day = pc.strptime(col("billing_date"), format="%Y-%m-%d", unit="s")
    except pa.ArrowInvalid as exc:
        raise InputError(f"billing_date: {exc}", field="allocations") from None
    offset = pa.scalar(BILL_UTC_OFFSET, pa.duration("s"))
    charge_start = pc.assume_timezone(pc.subtract(day, offset), "UTC")
    charge_end = pc.assume_timezone(pc.add(pc.subtract(day, offset), pa.scalar(timedelta(days=1), pa.duration("s"))),
                                    "UTC")
    stamp = pa.timestamp("s", tz="UTC")
    period = [map_distinct(col("billing_month"), partial(_month_edge, edge), stamp)
              for edge in (0, 1)]
    workspace, api_key, model = col("workspace_id"), col("api_key_id"), col("model")
    usage_type, channel, fee_type = col("usage_type"), col("channel"), col("fee_type")
    free = pc.equal(fee_type, FREE_QUOTA)
    unit = map_distinct(col("usage_unit"), focus_unit)
    commodity, item = col("commodity_code"), col("billing_item")
    sku = pc.if_else(pc.and_(pc.not_equal(commodity, ""), pc.not_equal(item, "")),
                     pc.binary_join_element_wise(commodity, item, "/"),
                     or_null(pc.binary_join_element_wise(commodity, item, "")))
    has_model = pc.not_equal(model, "")
    has_workspace = pc.not_equal(workspace, "")
    description = pc.binary_join_element_wise(model, usage_type, " ")
    price_text = pc.utf8_trim_whitespace(col("list_unit_price"))
    try:
        list_price = pc.cast(pc.if_else(pc.equal(price_text, ""), None, price_text), MONEY_TYPE)
    except pa.ArrowInvalid as exc:
        raise InputError(f"list_unit_price: {exc}", field="allocations") from None
    tags_key = pc.binary_join_element_wise(col("cost_center"), col("allocation_rule"), "\x00")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "AvailabilityZone": const(None),
        "BilledCost": col("billed_cost"),
        "BillingAccountId": col("payer_account_id"),
        "BillingAccountName": const(billing_account_name),
        "BillingCurrency": col("currency"),
        "BillingPeriodEnd": period[1],
        "BillingPeriodStart": period[0],
        "ChargeCategory": const("Usage"),
        "ChargeClass": const(None),
        "ChargeDescription": pc.if_else(free, pc.binary_join_element_wise(description, ", free quota", ""),
                                        description),
        "ChargeFrequency": const("Usage-Based"),
        "ChargePeriodEnd": charge_end,
        "ChargePeriodStart": charge_start,
        "CommitmentDiscountCategory": const(None),
        "CommitmentDiscountId": const(None),
        "CommitmentDiscountName": const(None),
        "CommitmentDiscountStatus": const(None),
        "CommitmentDiscountType": const(None),
        "ConsumedQuantity": col("usage_before_deduction"),
        "ConsumedUnit": unit,
        "ContractedCost": col("list_cost"),
        "ContractedUnitPrice": list_price,
        "EffectiveCost": col("billed_cost"),
        "InvoiceIssuerName": const(invoice_issuer),
        "ListCost": col("list_cost"),
        "ListUnitPrice": list_price,
        "PricingCategory": pc.if_else(free, "Other", "Standard"),
        "PricingQuantity": col("usage"),
        "PricingUnit": unit,
        "ProviderName": const(provider),
        "PublisherName": const(publisher or provider),
        "RegionId": const(None),
        "RegionName": const(None),
        "ResourceId": pc.if_else(has_workspace, pc.binary_join_element_wise(
            api_key, workspace, model, usage_type, channel, ";"), None),
        "ResourceName": or_null(model),
        "ResourceType": pc.if_else(has_model, "Model Studio model", None),
        "ServiceCategory": const("AI and Machine Learning"),
        "ServiceName": const(service_name),
        "SkuId": sku,
        "SkuPriceId": pc.if_else(pc.and_(pc.is_valid(sku), has_model),
                                 pc.binary_join_element_wise(sku, model, usage_type, "/"), None),
        "SubAccountId": or_null(workspace),
        "SubAccountName": or_null(map_distinct(workspace, lambda w: names.get(w, w))),
        "Tags": map_distinct(tags_key, _tags),
        "x_account_id": col("account_id"),
        "x_workspace_id": workspace,
        "x_api_key_id": api_key,
        "x_model": model,
        "x_usage_type": usage_type,
        "x_channel": channel,
        "x_cost_center": col("cost_center"),
        "x_call_source": col("call_source"),
        "x_fee_type": fee_type,
        "x_allocation_rule": col("allocation_rule"),
        "x_discount": col("discount"),
        "x_coupon": col("coupon"),
    }
    table = pa.table({name: columns[name] for name in COLUMNS})
    return table.replace_schema_metadata({"focus_version": FOCUS_VERSION})


def _tags(key: str) -> str:
    cost_center, rule = key.split("\x00", 1)
    return json.dumps({"cost_center": cost_center, "allocation_rule": rule}, ensure_ascii=False, sort_keys=True)


def _csv_text(column: pa.Array, field: pa.Field) -> pa.Array:
    if field.name in DECIMAL_COLUMNS:
        return decimal_text(column)
    if field.name in DATETIME_COLUMNS:  # a month holds a few dozen distinct times: format each once
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        distinct = pc.unique(column)
        return pc.take(pc.strftime(distinct, format=TIME_FORMAT), pc.index_in(column, value_set=distinct))
    return neutralise_column(column)


def focus_table_csv_bytes(table: pa.Table) -> bytes:
    """UTF-8 CSV without BOM: decimals exact and plain, datetimes ``YYYY-MM-DDTHH:MM:SSZ``, nulls empty.

    Text a spreadsheet would run as a formula gets a leading apostrophe, as in every CSV we write.
    """
    return chunked_csv(table, _csv_text)


def focus_files(allocations: pa.Table, *, rows: int = 8192, **options: Any) -> tuple[bytes, bytes]:
    """(Parquet, CSV) of the FOCUS view of ``allocations``, made a slice of rows at a time (flat memory)."""
    parquet_sink, csv_sink = io.BytesIO(), io.BytesIO()  # getvalue() hands over the bytes without a copy
    parquet: pq.ParquetWriter | None = None
    text: pacsv.CSVWriter | None = None
    text_rows = rows * 8  # the text conversion has a cost per call: larger slices, same bytes
    for start in range(0, max(allocations.num_rows, 1), text_rows):
        focus = focus_table(allocations.slice(start, text_rows), **options)
        parquet = parquet or pq.ParquetWriter(parquet_sink, focus.schema, compression="zstd",
                                              coerce_timestamps="ms")
        for offset in range(0, max(focus.num_rows, 1), rows):  # one row group per ``rows``, as always
            parquet.write_table(focus.slice(offset, rows))
        converted = pa.table([_csv_text(focus.column(i), f) for i, f in enumerate(focus.schema)],
                             names=focus.column_names)
        text = text or pacsv.CSVWriter(csv_sink, converted.schema,
                                       write_options=pacsv.WriteOptions(quoting_style="needed"))
        text.write_table(converted)
    for writer in (parquet, text):
        if writer is not None:
            writer.close()
    return parquet_sink.getvalue(), csv_sink.getvalue()


def focus_table_parquet_bytes(table: pa.Table) -> bytes:
    """Parquet: decimals as decimal128(38, 12), datetimes as UTC timestamps, the rest as strings."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", coerce_timestamps="ms")
    return sink.getvalue()


def _as_table(focus: pd.DataFrame) -> pa.Table:
    import pandas as pd

    arrays = {}
    for name in focus.columns:
        values = focus[name].tolist()
        if name in DECIMAL_COLUMNS:
            arrays[name] = pa.array(values, MONEY_TYPE)
        elif name in DATETIME_COLUMNS:
            stamps = [None if v is pd.NaT else pd.Timestamp(v).to_pydatetime() for v in values]
            arrays[name] = pa.array(stamps, pa.timestamp("s", tz="UTC"))
        else:
            arrays[name] = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v)
                                     for v in values], pa.string())
    return pa.table(arrays).replace_schema_metadata({"focus_version": FOCUS_VERSION})


def focus_csv_bytes(focus: pd.DataFrame) -> bytes:
    """The CSV of a FOCUS DataFrame (see :func:`focus_table_csv_bytes`)."""
    return focus_table_csv_bytes(_as_table(focus))


def focus_parquet_bytes(focus: pd.DataFrame) -> bytes:
    """The Parquet of a FOCUS DataFrame (see :func:`focus_table_parquet_bytes`)."""
    return focus_table_parquet_bytes(_as_table(focus))


def write_focus(focus: pd.DataFrame, directory: str) -> dict[str, bytes]:
    """``{directory}/focus.parquet`` and ``{directory}/focus.csv`` as bytes, for the caller to store.

    ``directory`` is a key prefix such as ``focus/billing_month=2026-05`` (``warehouse.layout.partition``).
    """
    prefix = directory.rstrip("/")
    return {
        f"{prefix}/focus.parquet": focus_parquet_bytes(focus),
        f"{prefix}/focus.csv": focus_csv_bytes(focus),
    }


__all__ = ["COLUMNS", "FOCUS_COLUMNS", "X_COLUMNS", "focus_csv_bytes", "focus_parquet_bytes", "to_focus",
           "write_focus"]
