"""Hand-made warehouse months for the alert tests: allocation tables and manifests written like the pipeline.

``day_rows`` builds a daily series for one subject; ``write_month`` publishes rows as
``allocations/billing_month=YYYY-MM/allocations.parquet`` (+ ``lines``) and the manifest, last.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.columns import ALLOCATION_COLUMNS, LINE_AMOUNTS, LINE_COLUMNS
from chargeback.money import MONEY_TYPE
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from tests.support.allocations import ROW_DEFAULTS

DEFAULTS: dict[str, Any] = {
    **ROW_DEFAULTS,  # the statements' hand-made rows, plus the line columns the alert tables also write
    "product_code": "sfm",
    "instance_id": "",
    "free_quota_stop": "0",
    "price_unit": "元/千tokens",
    "region": "cn-beijing",
}


def row(day: date | str, cost: str | Decimal | int, **fields: Any) -> dict[str, Any]:
    """One allocation row for ``day`` costing ``cost``; other fields default to DEFAULTS."""
    billing_date = day if isinstance(day, str) else day.isoformat()
    values = dict(DEFAULTS)
    values.update(billing_date=billing_date, billing_month=billing_date[:7], billed_cost=Decimal(str(cost)),
                  list_cost=Decimal(str(cost)), usage=Decimal(0), usage_before_deduction=Decimal(0),
                  deducted_usage=Decimal(0), discount=Decimal(0), coupon=Decimal(0))
    for key, value in fields.items():
        values[key] = Decimal(str(value)) if key in LINE_AMOUNTS else value
    return values


def series(start: date, costs: Iterable[str | int | Decimal], **fields: Any) -> list[dict[str, Any]]:
    """One row per day from ``start``; a cost of None skips the day."""
    rows = []
    for i, cost in enumerate(costs):
        if cost is not None:
            rows.append(row(start + timedelta(days=i), cost, **fields))
    return rows


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    arrays = {}
    for name in columns:
        values = [r.get(name, DEFAULTS.get(name, "")) for r in rows]
        if name in LINE_AMOUNTS:
            arrays[name] = pa.array(values, type=MONEY_TYPE)
        elif name == "share":
            arrays[name] = pa.array(values, type=pa.float64())
        elif name == "line_count":
            arrays[name] = pa.array(values, type=pa.int64())
        else:
            arrays[name] = pa.array([str(v) for v in values], type=pa.string())
    return pa.table(arrays)


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def write_month(store: ObjectStore, month: str, rows: list[dict[str, Any]], *, status: str = "open",
                newest_source_time: str | None = None, free_quota: list[dict[str, Any]] | None = None,
                with_lines: bool = True) -> None:
    """Publish ``rows`` as the month's allocations (and lines), then the manifest."""
    mine = [r for r in rows if r["billing_month"] == month]
    store.write_bytes(layout.allocations_key(month), _parquet(_table(mine, ALLOCATION_COLUMNS)))
    if with_lines:
        store.write_bytes(layout.lines_key(month), _parquet(_table(mine, LINE_COLUMNS)))
    totals: dict[str, str] = {}
    for r in mine:
        totals[r["currency"]] = str(Decimal(totals.get(r["currency"], "0")) + r["billed_cost"])
    last = max((r["billing_date"] for r in mine), default=f"{month}-01")
    manifest: dict[str, Any] = {
        "month": month,
        "status": status,
        "totals": totals or {"CNY": "0"},
        "newest_source_time": newest_source_time or f"{last}T10:00:00+08:00",
        "ingested_at": f"{last}T11:00:00+08:00",
        "sources": [f"bills/{month.replace('-', '')}/x.zip"],
    }
    if free_quota is not None:
        manifest["free_quota"] = free_quota
    store.write_bytes(layout.manifest_key(month), json.dumps(manifest).encode())


def write_months(store: ObjectStore, rows: list[dict[str, Any]], **options: Any) -> None:
    """Publish every month the rows touch, with the same options."""
    for month in sorted({r["billing_month"] for r in rows}):
        write_month(store, month, rows, **options)
