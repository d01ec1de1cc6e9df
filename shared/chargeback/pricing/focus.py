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
- Who: ``SubAccountId`` = the workspace, ``ResourceId`` = the instance ID without its free-quota flag,
  ``Tags`` = the cost center and allocation rule as a JSON object.
- ``RegionId``/``RegionName``, ``AvailabilityZone``, the commitment-discount columns and ``ChargeClass`` are
  null: allocation rows carry no region, and Model Studio pay-as-you-go has no commitments or corrections.

``BillingAccountName`` is null unless given (allocation rows carry no account name), ``SubAccountName`` is
the workspace label where one is given, else the workspace ID. Note: focus-validator 1.0.0 still names four
columns by their display names (``InvoiceIssuer``, ``Provider``, ``Publisher``, ``ResourceID``) and one of
its rules reads the 1.0-preview ``ChargeType``; tests/support/focus_validator.py adapts a copy for it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.columns import ALLOCATION_COLUMNS
from chargeback.errors import InputError
from chargeback.money import MONEY_TYPE, format_decimal, to_decimal

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
    "x_workspace_id", "x_api_key_id", "x_model", "x_usage_type", "x_channel", "x_cost_center",
    "x_call_source", "x_fee_type", "x_allocation_rule", "x_discount", "x_coupon",
)
COLUMNS: tuple[str, ...] = (*FOCUS_COLUMNS, *X_COLUMNS)
DECIMAL_COLUMNS = frozenset({
    "BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "ListCost",
    "ListUnitPrice", "PricingQuantity", "x_discount", "x_coupon",
})
DATETIME_COLUMNS = frozenset({"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd",
                              "ChargePeriodStart"})
UNITS: dict[str, str] = {
    "千tokens": "1000 Tokens", "1k tokens": "1000 Tokens", "1000 tokens": "1000 Tokens",
    "张": "Images", "image": "Images", "images": "Images",
    "秒": "Seconds", "second": "Seconds", "seconds": "Seconds",
}
CHINA_TIME = timedelta(hours=8)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _unit(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    return UNITS.get(text.lower(), UNITS.get(text, text))


def _utc_midnight(day: date, offset: timedelta) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - offset


def _month_bounds(month: str, offset: timedelta) -> tuple[datetime, datetime]:
    year, mon = int(month[:4]), int(month[5:7])
    start = date(year, mon, 1)
    end = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return _utc_midnight(start, offset), _utc_midnight(end, offset)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def to_focus(
    allocations: pd.DataFrame,
    *,
    provider: str = "Alibaba Cloud",
    publisher: str | None = None,
    invoice_issuer: str = "Alibaba Cloud",
    billing_account_name: str | None = None,
    sub_account_names: Mapping[str, str] | None = None,
    service_name: str = "Model Studio",
    bill_utc_offset: timedelta = CHINA_TIME,
) -> pd.DataFrame:
    """FOCUS 1.0 rows (:data:`COLUMNS`), one per allocation row; the input frame is not changed.

    ``invoice_issuer`` is the bill's 服务主体 (e.g. the operating company of the site); ``sub_account_names``
    maps workspace IDs to names (the mapping file's ``workspace_labels``).
    """
    missing = [c for c in ALLOCATION_COLUMNS if c not in allocations.columns and c != "share"]
    if missing:
        raise InputError(f"the allocation rows lack column(s) {', '.join(missing)}", field="allocations")
    names = dict(sub_account_names or {})
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(allocations.to_dict("records")):
        try:
            day = date.fromisoformat(_text(record["billing_date"]))
            month = _text(record["billing_month"]) or day.isoformat()[:7]
            period_start, period_end = _month_bounds(month, bill_utc_offset)
            amounts = {a: to_decimal(record[a]) for a in ("usage", "usage_before_deduction", "list_cost",
                                                          "discount", "coupon", "billed_cost")}
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InputError(f"allocation row {index}: {exc}", field="allocations") from None
        price_text = _text(record["list_unit_price"]).strip()
        list_price = Decimal(price_text) if price_text else None
        workspace, api_key = _text(record["workspace_id"]), _text(record["api_key_id"])
        model, usage_type = _text(record["model"]), _text(record["usage_type"])
        channel = _text(record["channel"])
        fee_type = _text(record["fee_type"])
        cost_center, rule = _text(record["cost_center"]), _text(record["allocation_rule"])
        unit = _unit(_text(record["usage_unit"]))
        sku_parts = (_text(record["commodity_code"]), _text(record["billing_item"]))
        sku = "/".join(p for p in sku_parts if p) or None
        free = fee_type == "free_quota"
        rows.append({
            "AvailabilityZone": None,
            "BilledCost": amounts["billed_cost"],
            "BillingAccountId": _text(record["account_id"]),
            "BillingAccountName": billing_account_name,
            "BillingCurrency": _text(record["currency"]),
            "BillingPeriodEnd": period_end,
            "BillingPeriodStart": period_start,
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeDescription": f"{model} {usage_type}" + (", free quota" if free else ""),
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": _utc_midnight(day + timedelta(days=1), bill_utc_offset),
            "ChargePeriodStart": _utc_midnight(day, bill_utc_offset),
            "CommitmentDiscountCategory": None,
            "CommitmentDiscountId": None,
            "CommitmentDiscountName": None,
            "CommitmentDiscountStatus": None,
            "CommitmentDiscountType": None,
            "ConsumedQuantity": amounts["usage_before_deduction"],
            "ConsumedUnit": unit,
            "ContractedCost": amounts["list_cost"],
            "ContractedUnitPrice": list_price,
            "EffectiveCost": amounts["billed_cost"],
            "InvoiceIssuerName": invoice_issuer,
            "ListCost": amounts["list_cost"],
            "ListUnitPrice": list_price,
            "PricingCategory": "Other" if free else "Standard",
            "PricingQuantity": amounts["usage"],
            "PricingUnit": unit,
            "ProviderName": provider,
            "PublisherName": publisher or provider,
            "RegionId": None,
            "RegionName": None,
            "ResourceId": f"{api_key};{workspace};{model};{usage_type};{channel}" if workspace else None,
            "ResourceName": model or None,
            "ResourceType": "Model Studio model" if model else None,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": service_name,
            "SkuId": sku,
            "SkuPriceId": f"{sku}/{model}/{usage_type}" if sku and model else None,
            "SubAccountId": workspace or None,
            "SubAccountName": names.get(workspace, workspace) or None,
            "Tags": json.dumps({"cost_center": cost_center, "allocation_rule": rule}, ensure_ascii=False,
                               sort_keys=True),
            "x_workspace_id": workspace,
            "x_api_key_id": api_key,
            "x_model": model,
            "x_usage_type": usage_type,
            "x_channel": channel,
            "x_cost_center": cost_center,
            "x_call_source": _text(record["call_source"]),
            "x_fee_type": fee_type,
            "x_allocation_rule": rule,
            "x_discount": amounts["discount"],
            "x_coupon": amounts["coupon"],
        })
    return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name in COLUMNS:
        values = [row[name] for row in rows]
        if name in DECIMAL_COLUMNS:
            columns[name] = pd.Series(values, dtype=object)
        elif name in DATETIME_COLUMNS:
            columns[name] = pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[s, UTC]")
        else:
            columns[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(columns, columns=list(COLUMNS))


def _cell(value: Any, name: str) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if name in DECIMAL_COLUMNS:
        return format_decimal(value)
    if name in DATETIME_COLUMNS:
        return pd.Timestamp(value).tz_convert("UTC").strftime(TIME_FORMAT)
    return str(value)


def focus_csv_bytes(focus: pd.DataFrame) -> bytes:
    """UTF-8 CSV without BOM: decimals exact and plain, datetimes ``YYYY-MM-DDTHH:MM:SSZ``, nulls empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(focus.columns)
    writer.writerow(names)
    for row in focus.itertuples(index=False, name=None):
        writer.writerow([_cell(v, n) for v, n in zip(row, names, strict=True)])
    return out.getvalue().encode("utf-8")


def focus_parquet_bytes(focus: pd.DataFrame) -> bytes:
    """Parquet: decimals as decimal128(38, 12), datetimes as UTC timestamps, the rest as strings."""
    arrays = {}
    for name in focus.columns:
        values = focus[name].tolist()
        if name in DECIMAL_COLUMNS:
            arrays[name] = pa.array(values, MONEY_TYPE)
        elif name in DATETIME_COLUMNS:
            stamps = [None if v is pd.NaT else pd.Timestamp(v).to_pydatetime() for v in values]
            arrays[name] = pa.array(stamps, pa.timestamp("ms", tz="UTC"))  # Parquet has no seconds unit
        else:
            arrays[name] = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v)
                                     for v in values], pa.string())
    table = pa.table(arrays).replace_schema_metadata({"focus_version": FOCUS_VERSION})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


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
