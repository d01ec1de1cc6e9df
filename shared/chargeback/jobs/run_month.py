"""Ingest and allocate one month: discover the authoritative bills, read them, allocate, publish.

Idempotent: when the month's sources (key, size, etag) and the mapping are unchanged since the published
manifest, nothing is read or written. All checks run before the first write, so bad input leaves the
warehouse's previous complete state in place.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chargeback import __version__
from chargeback.allocation.allocate import LINE_SCHEMA, allocate_table, normalize_table
from chargeback.bills.discovery import BillFile, Selection, select_month
from chargeback.bills.reader import read_month
from chargeback.columns import UNALLOCATED
from chargeback.config.file import ConfigFile
from chargeback.errors import ChargebackError, InputError
from chargeback.money import format_decimal
from chargeback.pricing.focus import focus_files
from chargeback.pricing.free_quota import month_grants
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.publish import Output, csv_bytes, parquet_bytes, publish_month
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
    unmapped_workspaces: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Not errors, but likely mistakes in the mapping: entries the bill never mentions, all cost unallocated."""


def fingerprint(selection: Selection, mapping: ConfigFile | None) -> str:
    """Identifies the inputs of a run: sources as listed, the mapping and the output schema."""
    parts = [f"{f.key}\0{f.info.size}\0{f.info.etag}" for f in selection.files]
    payload = json.dumps([SCHEMA_VERSION, mapping.version if mapping else None, parts])
    return hashlib.sha256(payload.encode()).hexdigest()


def run_month(
    source: ObjectStore,
    warehouse: ObjectStore,
    month: str,
    mapping: ConfigFile,
    *,
    now: datetime,
    workers: int = 2,
    default_currency: str = "CNY",
    progress: Callable[[BillFile], None] | None = None,
    force: bool = False,
    allocate_lines: bool = True,
) -> RunSummary:
    """Ingest ``month`` (YYYY-MM) from ``source`` into ``warehouse`` and, unless told not to, allocate it."""
    layout.check_month(month)
    selection = select_month(list(source.list()), month)
    if not selection.files:
        raise NoBillsError(f"no Model Studio bill for {month} under {source.url}", field="month")
    status = "final" if selection.final else "open"
    print_ = fingerprint(selection, mapping if allocate_lines else None)
    previous = read_manifest(warehouse, month)
    if previous and previous.get("fingerprint") == print_ and not force:
        log.info("month %s unchanged since %s: nothing rewritten", month, previous.get("ingested_at"))
        return _summary_from_manifest(previous)

    read = read_month(source, selection.files, month, default_currency=default_currency, workers=workers,
                      progress=progress)
    parts = [p for f in read.files for p in f.parts]
    if selection.family == "console" and not any(p.model_studio_rows or p.other_product_rows for p in parts):
        raise NoBillsError(f"no bill line of {month} in the console exports under {source.url}", field="month")
    lines = normalize_table(read.aggregates, month)
    totals = _totals(lines)
    if totals != _totals(read.aggregates):
        raise ChargebackError(f"normalized lines do not reconcile with the bill for {month}")
    read.aggregates = read.aggregates.slice(0, 0)  # the raw grain is no longer needed: free it before the outputs

    summary = RunSummary(
        month=month, status=status, changed=True, family=selection.family, sources=len(selection.files),
        rows_read=sum(p.rows for p in parts), lines=lines.num_rows,
        model_studio_rows=sum(p.model_studio_rows for p in parts),
        other_product_rows=sum(p.other_product_rows for p in parts),
        other_month_rows=sum(p.other_month_rows for p in parts),
        duplicate_rows=sum(p.duplicate_rows for p in parts),
        totals=totals,
        excluded=[{"product_code": r["product_code"], "currency": r["currency"], "rows": r["line_count"],
                   "billed_cost": format_decimal(r["billed_cost"])}
                  for r in sorted(read.excluded.to_pylist(), key=lambda r: (r["product_code"], r["currency"]))],
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
        "excluded_products": summary.excluded,
        "free_quota": month_grants(
            lines.filter(pc.equal(lines["fee_type"], "free_quota")).to_pylist(), read.free_quota),
    }
    for source_entry in manifest["sources"]:  # type: ignore[attr-defined]
        for member in source_entry["members"]:
            member.pop("key")
    outputs: list[Output] = [(layout.lines_key(month), lambda: parquet_bytes(lines))]
    if allocate_lines:
        outputs += _allocation_outputs(lines, mapping, month, manifest, summary)
    else:
        manifest["allocated"] = False
    summary.written = publish_month(warehouse, month, outputs, manifest)
    log.info("month %s published", month, extra={"month": month, "status": status, "lines": lines.num_rows,
                                                  "totals": manifest["totals"]})
    return summary


def _allocation_outputs(
    lines: pa.Table, mapping: ConfigFile, month: str, manifest: dict[str, Any], summary: RunSummary
) -> list[Output]:
    """Allocate ``lines``; fill the manifest's and summary's allocation fields; return the files to write."""
    table = allocate_table(lines, mapping)
    if _totals(table) != _totals(lines):
        raise ChargebackError(f"allocation does not reconcile with the lines for {month}")
    by_center: dict[str, dict[str, Decimal]] = defaultdict(dict)
    grouped = table.group_by(["cost_center", "currency"], use_threads=False).aggregate([("billed_cost", "sum")])
    for row in grouped.to_pylist():
        by_center[row["cost_center"]][row["currency"]] = row["billed_cost_sum"]
    summary.allocation_rows = table.num_rows
    summary.totals_by_cost_center = {c: dict(sorted(v.items())) for c, v in sorted(by_center.items())}
    keys = [k for k in pc.unique(lines["api_key_id"]).to_pylist() if k]
    workspaces = [w for w in pc.unique(lines["workspace_id"]).to_pylist() if w]
    summary.unmapped_api_keys = sorted(k for k in keys if not mapping.knows_api_key(k))
    summary.unmapped_workspaces = sorted(w for w in workspaces if not mapping.knows_workspace(w))
    summary.warnings = mapping_warnings(mapping, month, set(keys), set(workspaces), summary.totals_by_cost_center)
    manifest["allocated"] = True
    manifest["mapping_version"] = mapping.version
    manifest["counts"]["allocation_rows"] = table.num_rows
    manifest["totals_by_cost_center"] = {c: {k: format_decimal(v) for k, v in t.items()}
                                         for c, t in summary.totals_by_cost_center.items()}
    manifest["unmapped_api_keys"] = summary.unmapped_api_keys
    manifest["unmapped_workspaces"] = summary.unmapped_workspaces
    manifest["warnings"] = summary.warnings

    @cache
    def focus() -> tuple[bytes, bytes]:  # one pass makes both files
        return focus_files(table, sub_account_names=mapping.workspace_labels)

    return [
        (layout.allocations_key(month, "parquet"), lambda: parquet_bytes(table)),
        (layout.allocations_key(month, "csv"), lambda: csv_bytes(table)),
        (layout.focus_key(month, "parquet"), lambda: focus()[0]),
        (layout.focus_key(month, "csv"), lambda: focus()[1]),
    ]


def mapping_warnings(mapping: ConfigFile, month: str, api_keys: set[str], workspaces: set[str],
                     by_center: dict[str, dict[str, Decimal]]) -> list[str]:
    """Likely mistakes in the mapping, seen against the month's bill (warnings, not errors).

    A mapped API key or workspace whose assignment covers part of the month but that no bill line mentions (a
    typo, or a retired key), and a month whose whole cost is unallocated although a mapping is given.
    """
    if mapping.is_default:
        return []
    year, number = int(month[:4]), int(month[5:])
    first, last = date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
    warnings: list[str] = []
    for kind, seen, label in (("api_keys", api_keys, "API key"), ("workspaces", workspaces, "workspace")):
        for center_id, item in mapping.assignments(kind):
            if item.covers_some_day(first, last) and item.id not in seen:
                warnings.append(f"{label} {item.id!r} of cost center {center_id!r} does not appear in the {month} "
                                "bill: check the ID in the mapping")
    if by_center and set(by_center) == {UNALLOCATED}:
        totals = ", ".join(f"{format_decimal(v)} {c}" for c, v in by_center[UNALLOCATED].items())
        warnings.append(f"all of {month}'s cost ({totals}) is unallocated: no API key or workspace of the "
                        "mapping matches the bill")
    return warnings


def allocate_month(warehouse: ObjectStore, month: str, mapping: ConfigFile, *, now: datetime) -> RunSummary:
    """Re-allocate a month already ingested, from its published lines, with ``mapping``."""
    layout.check_month(month)
    manifest = read_manifest(warehouse, month)
    if manifest is None or not warehouse.exists(layout.lines_key(month)):
        raise InputError(f"month {month} has not been ingested into {warehouse.url}: run 'ingest' first",
                         field="month")
    lines = pq.read_table(io.BytesIO(warehouse.read_bytes(layout.lines_key(month)))).cast(LINE_SCHEMA)
    summary = _summary_from_manifest(manifest)
    summary.changed = True
    manifest = {**manifest, "allocated_at": now.isoformat(timespec="seconds")}
    manifest["fingerprint"] = hashlib.sha256(
        f"{manifest.get('fingerprint')}:{mapping.version}".encode()).hexdigest()
    outputs: list[Output] = [(layout.lines_key(month), lambda: parquet_bytes(lines))]
    outputs += _allocation_outputs(lines, mapping, month, manifest, summary)
    summary.written = publish_month(warehouse, month, outputs, manifest)
    return summary


def _totals(table: pa.Table) -> dict[str, Decimal]:
    """Billed cost per currency, exact."""
    grouped = table.group_by("currency", use_threads=False).aggregate([("billed_cost", "sum")])
    return dict(sorted(zip(grouped["currency"].to_pylist(), grouped["billed_cost_sum"].to_pylist(), strict=True)))


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
        unmapped_workspaces=manifest.get("unmapped_workspaces", []),
        warnings=manifest.get("warnings", []),
    )
