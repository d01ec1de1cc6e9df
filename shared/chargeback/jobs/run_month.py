"""Ingest and allocate one month: discover the authoritative bills, read them, allocate, publish.

Idempotent: when the month's sources (key, size, etag) and the mapping are unchanged since the published
manifest, nothing is read or written. All checks run before the first write, so bad input leaves the
warehouse's previous complete state in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chargeback import __version__
from chargeback.allocation.allocate import allocate_table
from chargeback.bills.discovery import AccountSelection, BillFile, Selection, select_month
from chargeback.bills.normalize import LINE_SCHEMA, normalize_table
from chargeback.bills.reader import MonthRead, read_month
from chargeback.columns import UNALLOCATED
from chargeback.config.file import ConfigFile
from chargeback.errors import ChargebackError, InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import format_decimal
from chargeback.months import check_month, first_day, last_day
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.focus import focus_files
from chargeback.pricing.free_quota import month_grants
from chargeback.queries.summary import cost_summary
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import (
    SCHEMA_VERSION,
    AccountBill,
    Counts,
    ExcludedProduct,
    Manifest,
    ManifestError,
    SkippedObject,
    Source,
    read_manifest,
)
from chargeback.warehouse.publish import Output, csv_bytes, parquet_bytes, publish_month

log = logging.getLogger(__name__)


class NoBillsError(InputError):
    """The source holds no bill for the month."""


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the command line, the logs and the functions' return value: the month's manifest,
    whether this run changed it, and the keys it wrote."""

    manifest: Manifest
    changed: bool
    written: tuple[str, ...] = ()

    @property
    def month(self) -> str:
        return self.manifest.month

    @property
    def status(self) -> str:
        return self.manifest.status

    @property
    def counts(self) -> Counts:
        return self.manifest.counts

    @property
    def totals(self) -> dict[str, Decimal]:
        return dict(self.manifest.totals)

    @property
    def totals_by_cost_center(self) -> dict[str, dict[str, Decimal]]:
        return {center: dict(totals) for center, totals in self.manifest.totals_by_cost_center.items()}

    @property
    def unmapped_api_keys(self) -> list[str]:
        return list(self.manifest.unmapped_api_keys)

    @property
    def unmapped_workspaces(self) -> list[str]:
        return list(self.manifest.unmapped_workspaces)

    @property
    def warnings(self) -> list[str]:
        """Not errors, but likely mistakes in the mapping: entries the bill never mentions, all cost unallocated."""
        return list(self.manifest.warnings)


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
    """Ingest ``month`` (YYYY-MM) from ``source`` into ``warehouse`` and, unless told not to, allocate it.

    ``now`` (aware) is when the month was ingested, as the manifest records it.
    """
    check_month(month)
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    selection = select_month(list(source.list()), month)
    if not selection.files:
        raise NoBillsError(f"no Model Studio bill for {month} under {source.url}", field="month")
    print_ = fingerprint(selection, mapping if allocate_lines else None)
    previous = _previous_manifest(warehouse, month, force=force)
    if previous and previous.fingerprint == print_ and not force:
        log.info("month %s unchanged since %s: nothing rewritten", month, previous.ingested_at.isoformat())
        return RunSummary(previous, changed=False)

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

    manifest = _ingest_manifest(selection, read, month, print_, now, totals, lines)
    by_account = [a.totals for a in manifest.accounts]
    if {c: sum((t.get(c, Decimal(0)) for t in by_account), Decimal(0)) for c in totals} != totals:
        raise ChargebackError(f"the accounts' bills do not add up to the month's total for {month}")
    outputs: list[Output] = [(layout.lines_key(month), lambda: parquet_bytes(lines))]
    if allocate_lines:
        manifest, more = _allocate(lines, mapping, manifest)
        outputs += more
    manifest, written = publish_month(warehouse, outputs, manifest, previous)
    log.info("month %s published", month, extra={"month": month, "status": manifest.status,
                                                  "lines": lines.num_rows,
                                                  "totals": {c: format_decimal(v) for c, v in totals.items()}})
    return RunSummary(manifest, changed=True, written=tuple(written))


def _previous_manifest(warehouse: ObjectStore, month: str, *, force: bool) -> Manifest | None:
    """The published manifest; with ``force`` a damaged one is replaced instead of stopping the run."""
    try:
        return read_manifest(warehouse, month)
    except ManifestError as exc:
        if not force:
            raise
        log.warning("%s: rebuilding the month", exc, extra={"month": month})
        return None


def _ingest_manifest(selection: Selection, read: MonthRead, month: str, print_: str, now: datetime,
                     totals: dict[str, Decimal], lines: pa.Table) -> Manifest:
    """The manifest of what was read (allocation fields empty)."""
    parts = [p for f in read.files for p in f.parts]
    newest = selection.newest_source_time()
    return Manifest(
        month=month,
        status="final" if selection.final else "open",
        fingerprint=print_,
        ingested_at=now,
        tool_version=__version__,
        family=selection.family,
        newest_source_time=newest,
        accounts=tuple(_account_bill(account, read) for account in selection.accounts),
        sources=tuple(
            Source(key=f.bill.key, size=f.bill.info.size, etag=f.bill.info.etag, sha256=f.sha256,
                   family=f.bill.family, snapshot=f.bill.snapshot, account=f.bill.account, scope=f.bill.scope,
                   members=tuple(f.parts))
            for f in read.files),
        superseded=tuple(SkippedObject(k, r) for k, r in selection.superseded),
        ignored=tuple(SkippedObject(k, r) for k, r in selection.ignored),
        counts=Counts(
            rows_read=sum(p.rows for p in parts), model_studio_rows=sum(p.model_studio_rows for p in parts),
            other_product_rows=sum(p.other_product_rows for p in parts),
            other_month_rows=sum(p.other_month_rows for p in parts),
            duplicate_rows=sum(p.duplicate_rows for p in parts), lines=lines.num_rows),
        totals=totals,
        excluded_products=tuple(
            ExcludedProduct(r["product_code"], r["currency"], r["line_count"], r["billed_cost"])
            for r in sorted(read.excluded.to_pylist(), key=lambda r: (r["product_code"], r["currency"]))),
        free_quota=month_grants(lines.filter(pc.equal(lines["fee_type"], FREE_QUOTA)).to_pylist(), read.free_quota),
    )


def _account_bill(account: AccountSelection, read: MonthRead) -> AccountBill:
    """One account's part of the month: its files and what their kept lines total."""
    keys = {f.key for f in account.files}
    totals: dict[str, Decimal] = {}
    for result in read.files:
        if result.bill.key in keys:
            for currency, amount in result.totals.items():
                totals[currency] = totals.get(currency, Decimal(0)) + amount
    return AccountBill(account=account.account, scope=account.scope, family=account.family,
                       status="final" if account.final else "open", sources=tuple(f.key for f in account.files),
                       totals=dict(sorted(totals.items())))


def _allocate(lines: pa.Table, mapping: ConfigFile, manifest: Manifest) -> tuple[Manifest, list[Output]]:
    """Allocate ``lines``: the manifest with its allocation fields filled, and the files to write."""
    table = allocate_table(lines, mapping)
    if _totals(table) != _totals(lines):
        raise ChargebackError(f"allocation does not reconcile with the lines for {manifest.month}")
    by_center: dict[str, dict[str, Decimal]] = defaultdict(dict)
    grouped = table.group_by(["cost_center", "currency"], use_threads=False).aggregate([("billed_cost", "sum")])
    for row in grouped.to_pylist():
        by_center[row["cost_center"]][row["currency"]] = row["billed_cost_sum"]
    keys = [k for k in pc.unique(lines["api_key_id"]).to_pylist() if k]
    workspaces = [w for w in pc.unique(lines["workspace_id"]).to_pylist() if w]
    by_center = {c: dict(sorted(v.items())) for c, v in sorted(by_center.items())}
    manifest = manifest.replace(
        allocated=True,
        mapping_version=mapping.version,
        counts=dataclasses.replace(manifest.counts, allocation_rows=table.num_rows),
        totals_by_cost_center=by_center,
        unmapped_api_keys=tuple(sorted(k for k in keys if not mapping.knows_api_key(k))),
        unmapped_workspaces=tuple(sorted(w for w in workspaces if not mapping.knows_workspace(w))),
        warnings=tuple(mapping_warnings(mapping, manifest.month, set(keys), set(workspaces), by_center)),
    )

    @cache
    def focus() -> tuple[bytes, bytes]:  # one pass makes both files
        return focus_files(table, sub_account_names=mapping.workspace_labels)

    def costs() -> bytes:
        summary = cost_summary(table, load_catalog(mapping.prices))
        if _totals(summary) != _totals(table):
            raise ChargebackError(f"the cost summary does not reconcile with the allocations for {manifest.month}")
        return parquet_bytes(summary)

    month = manifest.month
    return manifest, [
        (layout.allocations_key(month, "parquet"), lambda: parquet_bytes(table)),
        (layout.allocations_key(month, "csv"), lambda: csv_bytes(table)),
        (layout.focus_key(month, "parquet"), lambda: focus()[0]),
        (layout.focus_key(month, "csv"), lambda: focus()[1]),
        (layout.costs_key(month), costs),
    ]


def mapping_warnings(mapping: ConfigFile, month: str, api_keys: set[str], workspaces: set[str],
                     by_center: dict[str, dict[str, Decimal]]) -> list[str]:
    """Likely mistakes in the mapping, seen against the month's bill (warnings, not errors).

    A mapped API key or workspace whose assignment covers part of the month but that no bill line mentions (a
    typo, or a retired key), and a month whose whole cost is unallocated although a mapping is given.
    """
    if mapping.is_default:
        return []
    first, last = first_day(month), last_day(month)
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
    check_month(month)
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    previous = read_manifest(warehouse, month)
    if previous is None or not warehouse.exists(layout.lines_key(month)):
        raise InputError(f"month {month} has not been ingested into {warehouse.url}: run 'ingest' first",
                         field="month")
    lines = pq.read_table(io.BytesIO(warehouse.read_bytes(layout.lines_key(month))))
    if lines.schema.names != LINE_SCHEMA.names:
        raise InputError(f"month {month} was ingested by an older version (columns {', '.join(lines.schema.names)}"
                         f"): run 'chargeback run --month {month}' to read its bills again", field="month")
    lines = lines.cast(LINE_SCHEMA)
    manifest = previous.replace(
        allocated_at=now,
        fingerprint=hashlib.sha256(f"{previous.fingerprint}:{mapping.version}".encode()).hexdigest())
    manifest, outputs = _allocate(lines, mapping, manifest)
    outputs = [(layout.lines_key(month), lambda: parquet_bytes(lines)), *outputs]
    manifest, written = publish_month(warehouse, outputs, manifest, previous)
    return RunSummary(manifest, changed=True, written=tuple(written))


def _totals(table: pa.Table) -> dict[str, Decimal]:
    """Billed cost per currency, exact."""
    grouped = table.group_by("currency", use_threads=False).aggregate([("billed_cost", "sum")])
    return dict(sorted(zip(grouped["currency"].to_pylist(), grouped["billed_cost_sum"].to_pylist(), strict=True)))
