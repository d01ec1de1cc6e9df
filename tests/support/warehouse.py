"""Hand-made published months, written through the product's own code: the one warehouse writer of the tests.

``publish_month(store, month, rows)`` takes allocation rows (dicts with ``ALLOCATION_COLUMNS``; the line
columns an allocation row lacks get defaults), makes the month's lines, allocation and cost-summary tables
with the product's schemas and writers, builds its :class:`~chargeback.warehouse.manifest.Manifest` (free-quota use
through ``pricing.free_quota.month_grants``) and publishes them with ``warehouse.publish.publish_month``: the
layout, bytes and order (manifest last) of a real run. The row builders live beside their tests' data
(``tests.support.allocations``, ``tests.support.alert_tables``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from chargeback import __version__
from chargeback.allocation.allocate import ALLOCATION_SCHEMA, to_table
from chargeback.allocation.prepaid import PREPAID_COLUMNS, add_prepaid_costs
from chargeback.bills.normalize import LINE_SCHEMA
from chargeback.billtime import in_bill_time
from chargeback.columns import LINE_AMOUNTS, LINE_COLUMNS
from chargeback.config.prepaid import PrepaidSettings
from chargeback.fee_types import FREE_QUOTA
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.free_quota import month_grants
from chargeback.queries.summary import cost_summary
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import Counts, Manifest, Source
from chargeback.warehouse.publish import csv_bytes, parquet_bytes
from chargeback.warehouse.publish import publish_month as publish
from chargeback.warehouse.tables import published_allocations, published_lines

LINE_DEFAULTS: dict[str, Any] = {
    "product_code": "sfm", "instance_id": "", "free_quota_stop": "0", "price_unit": "元/千tokens",
    "region": "cn-beijing", "payer_account_id": "", "tags": "", "resource_group": "", "cost_unit": "",
    "share": 1.0, "line_count": 1, "batch": False, "thinking": False, "account_name": "", "payer_account_name": "",
}


@dataclass(frozen=True)
class Grant:
    """A free quota as the bill's usage-detail JSON names it; what a month used follows from its rows."""

    model: str
    total: str  # as the bill writes it, e.g. '1000000 '
    unit: str  # 'tokens', 'second', '张'
    valid_from: str  # 'YYYY-MM-DD HH:MM:SS', China time
    valid_until: str

    def usage_detail(self) -> str:
        """One row's 用量详情 cell naming this grant (bill-formats.md 3.5)."""
        item = {"免费额度类型": self.model, "免费额度总量": f"{self.total.strip()} {self.unit}",
                "免费额度抵扣用量": f"0 {self.unit}", "免费额度生效时间": self.valid_from,
                "免费额度失效时间": self.valid_until}
        return json.dumps({"资源包抵扣详情": json.dumps([item], ensure_ascii=False)}, ensure_ascii=False)


def _complete(row: Mapping[str, Any]) -> dict[str, Any]:
    values = {**LINE_DEFAULTS, **row}
    if not values["instance_id"]:  # the instance ID the bill would carry: it names the line's free-quota grant
        values["instance_id"] = ";".join(str(values[c]) for c in (
            "api_key_id", "workspace_id", "model", "usage_type", "channel", "free_quota_stop"))
    for column in LINE_AMOUNTS:
        values[column] = Decimal(str(values.get(column, "0")))
    if "cost_center" in values:  # an allocation row: no hierarchy and the bill's currency unless it says so
        values.setdefault("cost_center_path", values["cost_center"])
        values.setdefault("reporting_currency", values["currency"])
        values["reporting_billed_cost"] = Decimal(str(values.get("reporting_billed_cost", values["billed_cost"])))
    return values


def tables(rows: Iterable[Mapping[str, Any]]) -> tuple[pa.Table, pa.Table]:
    """(lines, allocations) of hand-made allocation rows, with the product's column types and order."""
    complete = [_complete(r) for r in rows]
    lines = to_table([{c: r[c] for c in LINE_COLUMNS} for r in complete], LINE_SCHEMA)
    shape = pa.schema([f for f in ALLOCATION_SCHEMA if f.name not in PREPAID_COLUMNS])
    allocations = add_prepaid_costs(to_table(complete, shape), PrepaidSettings())  # as allocation makes them
    return lines, allocations.select(ALLOCATION_SCHEMA.names).cast(ALLOCATION_SCHEMA)


def _totals(rows: Iterable[Mapping[str, Any]], *keys: str) -> dict[Any, Decimal]:
    totals: dict[Any, Decimal] = {}
    for r in rows:
        key = tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]
        totals[key] = totals.get(key, Decimal(0)) + Decimal(str(r["billed_cost"]))
    return dict(sorted(totals.items()))


def manifest_for(month: str, rows: Sequence[Mapping[str, Any]], *, status: str = "open",
                 newest_source_time: str | None = None, grants: Sequence[Grant] = (),
                 mapping_version: str = "test-mapping", sources: Mapping[str, str] | None = None) -> Manifest:
    """The manifest a run would publish for ``rows`` (those of ``month``), times in China time by default."""
    mine = [_complete(r) for r in rows if r["billing_month"] == month]
    last = max((r["billing_date"] for r in mine), default=f"{month}-01")
    by_model = {g.model: g.usage_detail() for g in grants}
    samples = {r["instance_id"]: by_model[r["model"]] for r in mine
               if r["fee_type"] == FREE_QUOTA and r["model"] in by_model}
    by_center: dict[str, dict[str, Decimal]] = {}
    for (center, currency), amount in _totals(mine, "cost_center", "currency").items():
        by_center.setdefault(center, {})[currency] = amount
    return Manifest(
        month=month, status=status,  # type: ignore[arg-type]
        fingerprint=f"hand-made {month}",
        ingested_at=in_bill_time(datetime.fromisoformat(f"{last}T11:00:00")),
        tool_version=__version__, family="v2",
        newest_source_time=in_bill_time(datetime.fromisoformat(newest_source_time or f"{last}T10:00:00")),
        mapping_version=mapping_version, allocated=True,
        counts=Counts(rows_read=len(mine), model_studio_rows=len(mine), lines=len(mine), allocation_rows=len(mine)),
        totals=_totals(mine, "currency") or {"CNY": Decimal(0)},
        totals_by_cost_center=by_center,
        free_quota=month_grants(mine, samples),
        sources=tuple(Source(key, 1, f'"{digest[:8]}"', digest, "v2") for key, digest in (sources or {}).items()),
    )


def publish_month(store: ObjectStore, month: str, rows: Iterable[Mapping[str, Any]], *, status: str = "open",
                  newest_source_time: str | None = None, grants: Sequence[Grant] = (), with_lines: bool = True,
                  with_costs: bool = True, mapping_version: str = "test-mapping",
                  sources: Mapping[str, str] | None = None, analyst_tables: bool = True) -> Manifest:
    """Publish ``rows`` of ``month`` as a run would: lines (unless told not to), allocations and their CSV,
    the cost summary (unless told not to: a month published before it existed), then the manifest. Returns
    the manifest as published. ``analyst_tables=False`` publishes the tables as versions before the analysts'
    columns did: ``billing_date`` as text, no ``tokens``, ``usage_quantity``, ``usage_unit_normalized``."""
    rows = list(rows)
    mine = [r for r in rows if r["billing_month"] == month]
    lines, allocations = tables(mine)
    shown_lines, shown = ((published_lines(lines), published_allocations(allocations)) if analyst_tables
                          else (lines, allocations))
    outputs = [(layout.allocations_key(month), lambda: parquet_bytes(shown)),
               (layout.allocations_key(month, "csv"), lambda: csv_bytes(shown))]
    if with_lines:
        outputs.insert(0, (layout.lines_key(month), lambda: parquet_bytes(shown_lines)))
    if with_costs:
        outputs.append((layout.costs_key(month), lambda: parquet_bytes(cost_summary(allocations, load_catalog()))))
    manifest = manifest_for(month, mine, status=status, newest_source_time=newest_source_time, grants=grants,
                            mapping_version=mapping_version, sources=sources)
    published, _ = publish(store, outputs, manifest, None)
    return published


def publish_months(store: ObjectStore, rows: Iterable[Mapping[str, Any]], **options: Any) -> None:
    """Publish every month the rows touch, with the same options."""
    rows = list(rows)
    for month in sorted({r["billing_month"] for r in rows}):
        publish_month(store, month, rows, **options)


LEASES = layout.state_key("leases") + "/"


def published_files(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file a local warehouse publishes, by key: what a failed run must leave as it was. The
    run's lease chain (``state/leases/``) is coordination, not published state: a run takes it before it reads."""
    return {key: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()
            and not (key := path.relative_to(folder).as_posix()).startswith(LEASES)}
