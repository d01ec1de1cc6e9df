"""Ingest and allocate one month: discover the authoritative bills, read them, allocate, publish.

Idempotent: when the month's sources (key, size, etag) and the mapping are unchanged since the published
manifest, nothing is read or written. All checks run before the first write, so bad input leaves the
warehouse's previous complete state in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chargeback import __version__
from chargeback.allocation.allocate import ALLOCATION_SCHEMA, LINE_SCHEMA, allocate, normalize_lines, to_table
from chargeback.allocation.mapping import Mapping
from chargeback.bills.discovery import BillFile, Selection, select_month
from chargeback.bills.reader import read_month
from chargeback.errors import ChargebackError, InputError
from chargeback.money import ZERO, format_decimal
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.publish import csv_bytes, parquet_bytes, publish_month
from chargeback.warehouse.read import read_manifest

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class NoBillsError(InputError):
    """The source holds no bill for the month."""


@dataclass
class RunSummary:
    """What a run did, for the command line, the logs and the functions' return value."""

    month: str
    status: str  # open | final
    changed: bool
    family: str | None = None
    sources: int = 0
    rows_read: int = 0
    lines: int = 0
    allocation_rows: int = 0
    model_studio_rows: int = 0
    other_product_rows: int = 0
    other_month_rows: int = 0
    duplicate_rows: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    totals_by_cost_center: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unmapped_api_keys: list[str] = field(default_factory=list)


def fingerprint(selection: Selection, mapping: Mapping) -> str:
    """Identifies the inputs of a run: sources as listed, the mapping and the output schema."""
    parts = [f"{f.key}\0{f.info.size}\0{f.info.etag}" for f in selection.files]
    payload = json.dumps([SCHEMA_VERSION, mapping.version, parts])
    return hashlib.sha256(payload.encode()).hexdigest()


def run_month(
    source: ObjectStore,
    warehouse: ObjectStore,
    month: str,
    mapping: Mapping,
    *,
    now: datetime,
    workers: int = 2,
    default_currency: str = "CNY",
    progress: Callable[[BillFile], None] | None = None,
    force: bool = False,
) -> RunSummary:
    """Ingest and allocate ``month`` (YYYY-MM) from ``source`` into ``warehouse``."""
    layout.check_month(month)
    selection = select_month(list(source.list()), month)
    if not selection.files:
        raise NoBillsError(f"no Model Studio bill for {month} under {source.url}", field="month")
    status = "final" if selection.final else "open"
    print_ = fingerprint(selection, mapping)
    previous = read_manifest(warehouse, month)
    if previous and previous.get("fingerprint") == print_ and not force:
        log.info("month %s unchanged since %s: nothing rewritten", month, previous.get("ingested_at"))
        return _summary_from_manifest(previous)

    read = read_month(source, selection.files, month, default_currency=default_currency, workers=workers,
                      progress=progress)
    lines = normalize_lines(read.aggregates, month)
    rows = allocate(lines, mapping)
    totals = _totals(lines, "currency")
    allocated = _totals(rows, "currency")
    if totals != allocated or totals != _reader_totals(read.aggregates):
        raise ChargebackError(f"allocation does not reconcile for {month}: {totals} != {allocated}")
    by_center: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        by_center[str(row["cost_center"])][str(row["currency"])] += row["billed_cost"]  # type: ignore[operator]

    parts = [p for f in read.files for p in f.parts]
    summary = RunSummary(
        month=month, status=status, changed=True, family=selection.family, sources=len(selection.files),
        rows_read=sum(p.rows for p in parts), lines=len(lines), allocation_rows=len(rows),
        model_studio_rows=sum(p.model_studio_rows for p in parts),
        other_product_rows=sum(p.other_product_rows for p in parts),
        other_month_rows=sum(p.other_month_rows for p in parts),
        duplicate_rows=sum(p.duplicate_rows for p in parts),
        totals=totals,
        totals_by_cost_center={c: dict(v) for c, v in sorted(by_center.items())},
        excluded=[{"product_code": r["product_code"], "currency": r["currency"], "rows": r["line_count"],
                   "billed_cost": format_decimal(r["billed_cost"])}
                  for r in sorted(read.excluded.to_pylist(), key=lambda r: (r["product_code"], r["currency"]))],
        unmapped_api_keys=sorted({str(line["api_key_id"]) for line in lines
                                  if line["api_key_id"] and not mapping.knows_api_key(str(line["api_key_id"]))}),
    )
    newest = selection.newest_source_time()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "month": month,
        "status": status,
        "family": selection.family,
        "fingerprint": print_,
        "ingested_at": now.isoformat(timespec="seconds"),
        "newest_source_time": newest.isoformat() if newest else None,
        "mapping_version": mapping.version,
        "sources": [
            {"key": f.bill.key, "size": f.bill.info.size, "etag": f.bill.info.etag, "sha256": f.sha256,
             "family": f.bill.family, "snapshot": f.bill.snapshot,
             "members": [vars(p) | {"key": None} for p in f.parts]}
            for f in read.files
        ],
        "superseded": [{"key": k, "reason": r} for k, r in selection.superseded],
        "ignored": [{"key": k, "reason": r} for k, r in selection.ignored],
        "counts": {
            "rows_read": summary.rows_read, "model_studio_rows": summary.model_studio_rows,
            "other_product_rows": summary.other_product_rows, "other_month_rows": summary.other_month_rows,
            "duplicate_rows": summary.duplicate_rows, "lines": summary.lines,
            "allocation_rows": summary.allocation_rows,
        },
        "totals": {c: format_decimal(v) for c, v in totals.items()},
        "totals_by_cost_center": {c: {k: format_decimal(v) for k, v in t.items()}
                                  for c, t in summary.totals_by_cost_center.items()},
        "excluded_products": summary.excluded,
        "unmapped_api_keys": summary.unmapped_api_keys,
    }
    for source_entry in manifest["sources"]:  # type: ignore[attr-defined]
        for member in source_entry["members"]:
            member.pop("key")
    lines_table = to_table(lines, LINE_SCHEMA)
    allocations_table = to_table(rows, ALLOCATION_SCHEMA)
    outputs = [
        (layout.lines_key(month), parquet_bytes(lines_table)),
        (layout.allocations_key(month, "parquet"), parquet_bytes(allocations_table)),
        (layout.allocations_key(month, "csv"), csv_bytes(allocations_table)),
    ]
    summary.written = publish_month(warehouse, month, outputs, manifest)
    log.info("month %s published", month, extra={"month": month, "status": status, "lines": len(lines),
                                                  "totals": manifest["totals"]})
    return summary


def _totals(rows: list[dict[str, object]], key: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[str(row[key])] += row["billed_cost"]  # type: ignore[operator]
    return dict(sorted(totals.items()))


def _reader_totals(aggregates: Any) -> dict[str, Decimal]:
    return _totals(aggregates.select(["currency", "billed_cost"]).to_pylist(), "currency")


def _summary_from_manifest(manifest: dict[str, Any]) -> RunSummary:
    counts = manifest.get("counts", {})
    return RunSummary(
        month=manifest["month"], status=manifest["status"], changed=False, family=manifest.get("family"),
        sources=len(manifest.get("sources", [])), rows_read=counts.get("rows_read", 0),
        lines=counts.get("lines", 0), allocation_rows=counts.get("allocation_rows", 0),
        model_studio_rows=counts.get("model_studio_rows", 0),
        other_product_rows=counts.get("other_product_rows", 0),
        other_month_rows=counts.get("other_month_rows", 0), duplicate_rows=counts.get("duplicate_rows", 0),
        totals={c: Decimal(v) for c, v in manifest.get("totals", {}).items()},
        totals_by_cost_center={c: {k: Decimal(v) for k, v in t.items()}
                               for c, t in manifest.get("totals_by_cost_center", {}).items()},
        excluded=manifest.get("excluded_products", []),
        unmapped_api_keys=manifest.get("unmapped_api_keys", []),
    )
