"""Ingest and allocate one month: discover the authoritative bills, read them, allocate, publish.

Idempotent: when the month's sources (key, size, etag), the mapping and the usage files of its shared keys are
unchanged since the published manifest, and every object that manifest names is in place, no bill is read and
no table is rewritten (table copies that lag behind the manifest, left by a run that died after its commit, are
brought up to date). A published month that is not whole is rebuilt. All checks run before the first write, so
bad input leaves the warehouse's previous complete state in place; the publish protocol
(``chargeback.warehouse.publish``) keeps it whole whenever a run dies. ``allocate_months`` re-allocates
published months from their lines (a backfill after the mapping changed) and re-publishes only those whose
allocation changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from chargeback import __version__
from chargeback.allocation.allocate import allocate_lines
from chargeback.allocation.usage import NO_USAGE, UsageData, load_usage
from chargeback.bills.discovery import AccountSelection, BillFile, Selection, select_month
from chargeback.bills.normalize import LINE_SCHEMA, normalize_table
from chargeback.bills.reader import MonthRead, read_month
from chargeback.bills.sources import DEFAULT_MAX_UNCOMPRESSED_BYTES
from chargeback.columns import RULE_PREFIX, UNALLOCATED
from chargeback.config.file import ConfigFile
from chargeback.errors import ChargebackError, InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import MONEY_TYPE, format_decimal
from chargeback.months import check_month, first_day, last_day, months_between
from chargeback.once import DEFAULT_LEASES, LeasePolicy, hold_lease
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.focus import focus_files
from chargeback.pricing.free_quota import GRANT_FIELDS, month_grants
from chargeback.queries.summary import cost_summary
from chargeback.scratch import scratch_dir
from chargeback.storage import ObjectStore
from chargeback.vectors import sum_by
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
    UnknownUsageType,
    read_manifest,
)
from chargeback.warehouse.publish import (
    Fence,
    Output,
    Spooled,
    check_published,
    digest_of,
    lagging_copies,
    parquet_bytes,
    publish_month,
    refresh_copies,
    spooled,
    write_csv,
)
from chargeback.warehouse.read import read_table
from chargeback.warehouse.tables import in_pipeline_types, published_allocations, published_lines

log = logging.getLogger(__name__)


OUTPUT_WORKERS = 1  # one output is made while the one before it is written (Arrow's writers release the GIL)


def made_ahead(outputs: list[Output], pool: ThreadPoolExecutor) -> list[Output]:
    """The outputs, each made in ``pool`` while the one before it is written: publishing takes them in order.

    One ahead, not all at once: measured on the 1M-row month, making them side by side saved a few tenths of
    a second and cost about 30 MB at the peak, since the FOCUS and allocation CSVs (tens of MB each) were then
    held together, beside their Arrow text.
    """
    futures: dict[int, Future[bytes | Spooled]] = {}

    def submit(index: int) -> None:
        if index < len(outputs) and index not in futures:
            futures[index] = pool.submit(outputs[index][1])

    def taker(index: int) -> Callable[[], bytes | Spooled]:
        def take() -> bytes | Spooled:  # the bytes leave with the caller: no future keeps them alive to the end
            submit(index)
            future = futures.pop(index)
            submit(index + 1)
            return future.result()
        return take

    submit(0)
    return [(key, taker(index)) for index, (key, _) in enumerate(outputs)]


class NoBillsError(InputError):
    """The source holds no bill for the month."""


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the command line, the logs and the functions' return value: the month's manifest,
    whether this run changed it, and the keys it wrote (for an unchanged month: the table copies it repaired)."""

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
    def covered_by_cost_center(self) -> dict[str, dict[str, Decimal]]:
        """The list value prepaid plans covered, per cost center and currency (centers with coverage only)."""
        return {center: dict(totals) for center, totals in self.manifest.covered_by_cost_center.items()}

    @property
    def unknown_usage_types(self) -> list[UnknownUsageType]:
        return list(self.manifest.unknown_usage_types)

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


def fingerprint(selection: Selection, mapping: ConfigFile | None, usage: UsageData = NO_USAGE) -> str:
    """Identifies the inputs of a run: sources as listed, the mapping, the usage files and the output schema."""
    parts = [f"{f.key}\0{f.info.size}\0{f.info.etag}" for f in selection.files]
    allocation: object = None
    if mapping is not None:  # without usage files as before, so an upgrade alone re-reads no month
        allocation = [mapping.version, usage.digest] if usage.digest else mapping.version
    payload = json.dumps([SCHEMA_VERSION, allocation, parts])
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class _Look:
    """What a run finds before it reads a bill: the month's authoritative files, their fingerprint, the
    published manifest, and why the published month is not whole ([] when it is, or when it is to be redone)."""

    selection: Selection
    fingerprint: str
    previous: Manifest | None
    problems: list[str]
    force: bool = False

    @property
    def unchanged(self) -> bool:
        return (not self.force and self.previous is not None and self.previous.fingerprint == self.fingerprint
                and not self.problems)


def _look(source: ObjectStore, warehouse: ObjectStore, month: str, mapping: ConfigFile | None,
          usage: UsageData, *, force: bool) -> _Look:
    selection = select_month(list(source.list()), month)
    if not selection.files:
        raise NoBillsError(f"no Model Studio bill for {month} under {source.url}", field="month")
    print_ = fingerprint(selection, mapping, usage)
    previous = _previous_manifest(warehouse, month, force=force)
    if force or previous is None or previous.fingerprint != print_:
        return _Look(selection, print_, previous, [], force)
    return _Look(selection, print_, previous, check_published(warehouse, previous))


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
    leases: LeasePolicy = DEFAULT_LEASES,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
) -> RunSummary:
    """Ingest ``month`` (YYYY-MM) from ``source`` into ``warehouse`` and, unless told not to, allocate it.

    ``now`` (aware) is when the month was ingested, as the manifest records it; ``max_uncompressed`` is the
    most one bill object may inflate to, in bytes. A month found unchanged and whole is left alone without a
    write; otherwise the run takes the month's ``run`` lease (waiting for another run of the month, as
    ``leases`` says), looks again, and publishes.
    """
    check_month(month)
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    compared = mapping if allocate_lines else None
    usage = load_usage(mapping) if allocate_lines else NO_USAGE
    look = _look(source, warehouse, month, compared, usage, force=force)
    if look.unchanged and look.previous and not lagging_copies(warehouse, look.previous):
        log.info("month %s unchanged since %s: nothing rewritten", month, look.previous.ingested_at.isoformat(),
                 extra={"month": month})
        return RunSummary(look.previous, changed=False)
    with hold_lease(warehouse, "run", month, leases) as lease:
        look = _look(source, warehouse, month, compared, usage, force=force)  # another run may have published meanwhile
        if look.unchanged and look.previous:
            repaired = refresh_copies(warehouse, look.previous)
            log.info("month %s unchanged since %s: nothing rewritten, %d table copies brought up to date", month,
                     look.previous.ingested_at.isoformat(), len(repaired), extra={"month": month,
                                                                                  "repaired": repaired})
            return RunSummary(look.previous, changed=False, written=tuple(repaired))
        if look.problems:
            log.warning("month %s is not published whole (%s): rebuilding it", month, "; ".join(look.problems),
                        extra={"month": month})
        return _ingest(source, warehouse, month, mapping, look, lease, now=now, workers=workers,
                       default_currency=default_currency, progress=progress, allocate_lines=allocate_lines,
                       max_uncompressed=max_uncompressed, usage=usage)


def _ingest(source: ObjectStore, warehouse: ObjectStore, month: str, mapping: ConfigFile, look: _Look,
            lease: Fence, *, now: datetime, workers: int, default_currency: str,
            progress: Callable[[BillFile], None] | None, allocate_lines: bool,
            max_uncompressed: int, usage: UsageData) -> RunSummary:
    """Read the month's bills, allocate them and publish, holding the month's lease (``lease``)."""
    selection, print_, previous = look.selection, look.fingerprint, look.previous
    read = read_month(source, selection.files, month, default_currency=default_currency, workers=workers,
                      progress=progress, max_uncompressed=max_uncompressed)
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
    held = [lines]  # handed to the lines' Parquet, which lets it go: the later outputs need only the allocation
    outputs: list[Output] = [(layout.lines_key(month), lambda: parquet_bytes(published_lines(held.pop())))]
    with scratch_dir("outputs-") as spool_dir:
        if allocate_lines:
            manifest, more = _allocate(lines, mapping, manifest, usage, spool_dir)
            outputs += more
        del lines
        for kind in manifest.unknown_usage_types:
            log.warning("usage type %r is not one chargeback knows: %d row(s) kept with io_type 'other'",
                        kind.usage_type, kind.rows, extra={"month": month, "usage_type": kind.usage_type})
        with ThreadPoolExecutor(OUTPUT_WORKERS, thread_name_prefix="outputs") as pool:
            manifest, written = publish_month(warehouse, made_ahead(outputs, pool), manifest, previous,
                                              fence=lease, now=now)
    log.info("month %s published", month, extra={"month": month, "status": manifest.status,
                                                  "lines": manifest.counts.lines,
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
            Source(key=f.bill.key, size=f.bill.info.size, etag=f.bill.info.etag, content_hash=f.content_hash,
                   family=f.bill.family, snapshot=f.bill.snapshot, account=f.bill.account, scope=f.bill.scope,
                   members=tuple(f.parts))
            for f in read.files),
        superseded=tuple(SkippedObject(k, r) for k, r in selection.superseded),
        ignored=tuple(SkippedObject(k, r) for k, r in selection.ignored),
        counts=Counts(
            rows_read=sum(p.rows for p in parts), model_studio_rows=sum(p.model_studio_rows for p in parts),
            other_product_rows=sum(p.other_product_rows for p in parts),
            other_month_rows=sum(p.other_month_rows for p in parts),
            duplicate_rows=sum(p.duplicate_rows for p in parts), restated_lines=read.restated_lines,
            lines=lines.num_rows),
        totals=totals,
        excluded_products=tuple(
            ExcludedProduct(r["product_code"], r["currency"], r["line_count"], r["billed_cost"])
            for r in sorted(read.excluded.to_pylist(), key=lambda r: (r["product_code"], r["currency"]))),
        free_quota=month_grants(lines.filter(pc.equal(lines["fee_type"], FREE_QUOTA)).select(list(GRANT_FIELDS))
                                .to_pylist(), read.free_quota),
        unknown_usage_types=unknown_usage_types(lines),
    )


def unknown_usage_types(lines: pa.Table) -> tuple[UnknownUsageType, ...]:
    """The usage types of ``lines`` the classifier does not know (``io_type`` 'other' with a usage type), with
    their source rows and billed cost per currency: kept raw in the tables, listed here, never guessed."""
    other = lines.filter(pc.and_(pc.equal(lines["io_type"], "other"), pc.not_equal(lines["usage_type"], "")))
    if not other.num_rows:
        return ()
    grouped = sum_by(other, ("usage_type", "currency"), ("line_count", "billed_cost"))
    rows: dict[str, int] = defaultdict(int)
    billed: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in grouped.to_pylist():
        rows[row["usage_type"]] += row["line_count"]
        billed[row["usage_type"]][row["currency"]] = row["billed_cost"]
    return tuple(UnknownUsageType(name, rows[name], dict(sorted(billed[name].items()))) for name in sorted(rows))


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


def _allocate(lines: pa.Table, mapping: ConfigFile, manifest: Manifest, usage: UsageData,
              spool_dir: Path) -> tuple[Manifest, list[Output]]:
    """Allocate ``lines``: the manifest with its allocation fields filled, and the files to write (the CSVs
    spooled into ``spool_dir``, a scratch folder that must outlive their publishing)."""
    allocation = allocate_lines(lines, mapping, usage)
    table = allocation.table
    if _totals(table) != _totals(lines):
        raise ChargebackError(f"allocation does not reconcile with the lines for {manifest.month}")
    by_center: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in sum_by(table, ("cost_center", "currency"), ("billed_cost",)).to_pylist():
        by_center[row["cost_center"]][row["currency"]] = row["billed_cost"]
    keys = [k for k in pc.unique(lines["api_key_id"]).to_pylist() if k]
    workspaces = [w for w in pc.unique(lines["workspace_id"]).to_pylist() if w]
    by_rule = table.filter(pc.starts_with(table["allocation_rule"], RULE_PREFIX))
    ruled_keys = set(pc.unique(by_rule["api_key_id"]).to_pylist())
    ruled_workspaces = set(pc.unique(by_rule["workspace_id"]).to_pylist())
    used_rules = set(pc.unique(by_rule["allocation_rule"]).to_pylist())
    by_center = {c: dict(sorted(v.items())) for c, v in sorted(by_center.items())}
    covered: dict[str, dict[str, Decimal]] = defaultdict(dict)
    with_cover = table.filter(pc.greater(table["commitment_covered_cost"], pa.scalar(Decimal(0), MONEY_TYPE)))
    for row in sum_by(with_cover, ("cost_center", "currency"), ("commitment_covered_cost",)).to_pylist():
        covered[row["cost_center"]][row["currency"]] = row["commitment_covered_cost"]
    manifest = manifest.replace(
        allocated=True,
        mapping_version=mapping.version,
        counts=dataclasses.replace(manifest.counts, allocation_rows=table.num_rows),
        totals_by_cost_center=by_center,
        covered_by_cost_center={c: dict(sorted(v.items())) for c, v in sorted(covered.items())},
        unmapped_api_keys=tuple(sorted(k for k in keys if not mapping.knows_api_key(k) and k not in ruled_keys)),
        unmapped_workspaces=tuple(sorted(w for w in workspaces
                                         if not mapping.knows_workspace(w) and w not in ruled_workspaces)),
        warnings=(*mapping_warnings(mapping, manifest.month, set(keys), set(workspaces), by_center, used_rules),
                  *allocation.warnings),
    )

    def costs() -> bytes:
        summary = cost_summary(table, load_catalog(mapping.prices))
        if _totals(summary) != _totals(table):
            raise ChargebackError(f"the cost summary does not reconcile with the allocations for {manifest.month}")
        return parquet_bytes(summary)

    def allocation_files() -> tuple[bytes, Spooled]:
        shown = published_allocations(table)  # the table as analysts read it, for the Parquet and the CSV
        with open(spool_dir / "allocations.csv", "xb") as csv:
            write_csv(shown, csv)
        return parquet_bytes(shown), spooled(spool_dir / "allocations.csv")

    def focus_outputs() -> tuple[bytes, Spooled]:
        with open(spool_dir / "focus.csv", "xb") as csv:
            parquet = focus_files(table, csv, version=mapping.focus.version,
                                  sub_account_names=mapping.workspace_labels, prepaid=mapping.prepaid)
        return parquet, spooled(spool_dir / "focus.csv")

    allocations = _MadeTogether(allocation_files)
    focus = _MadeTogether(focus_outputs)
    month = manifest.month
    return manifest, [
        (layout.allocations_key(month, "parquet"), lambda: allocations.take(0)),
        (layout.allocations_key(month, "csv"), lambda: allocations.take(1)),
        (layout.focus_key(month, "parquet"), lambda: focus.take(0)),
        (layout.focus_key(month, "csv"), lambda: focus.take(1)),
        (layout.costs_key(month), costs),
    ]


class _MadeTogether:
    """Files one call makes together (a table's Parquet and CSV), whichever output asks first; each is handed
    out once and let go with it."""

    def __init__(self, make: Callable[[], tuple[bytes | Spooled, ...]]) -> None:
        self._make: Callable[[], tuple[bytes | Spooled, ...]] | None = make
        self._parts: dict[int, bytes | Spooled] = {}
        self._lock = threading.Lock()

    def take(self, part: int) -> bytes | Spooled:
        with self._lock:
            if self._make is not None:
                self._parts, self._make = dict(enumerate(self._make())), None
            return self._parts.pop(part)


def mapping_warnings(mapping: ConfigFile, month: str, api_keys: set[str], workspaces: set[str],
                     by_center: dict[str, dict[str, Decimal]], used_rules: set[str] | None = None) -> list[str]:
    """Likely mistakes in the mapping, seen against the month's bill (warnings, not errors).

    A mapped API key or workspace whose assignment covers part of the month but that no bill line mentions (a
    typo, or a retired key; the inventory's keys are left out: most of an inventory is idle in any month), a
    shared key that no line mentions, a rule in force in the month that decided no line (with ``used_rules``),
    and a month whose whole cost is unallocated although a mapping is given.
    """
    if mapping.is_default:
        return []
    first, last = first_day(month), last_day(month)
    warnings: list[str] = []
    for kind, seen, label in (("api_keys", api_keys, "API key"), ("workspaces", workspaces, "workspace")):
        for center_id, item in mapping.assignments(kind):
            if item.covers_some_day(first, last) and item.id not in seen and not mapping.from_inventory(item):
                warnings.append(f"{label} {item.id!r} of cost center {center_id!r} does not appear in the {month} "
                                "bill: check the ID in the mapping")
    for split in mapping.usage_splits:
        if split.api_key not in api_keys:
            warnings.append(f"API key {split.api_key!r} of usage_splits does not appear in the {month} bill: check "
                            "the ID in the mapping")
    for position, rule in enumerate(mapping.rules, start=1):
        if used_rules is not None and rule.covers_some_day(first, last) and rule.label(position) not in used_rules:
            warnings.append(f"rule {rule.label(position).removeprefix(RULE_PREFIX)} ({rule.cost_center}) decided "
                            f"no line of {month}: check its match")
    if by_center and set(by_center) == {UNALLOCATED}:
        totals = ", ".join(f"{format_decimal(v)} {c}" for c, v in by_center[UNALLOCATED].items())
        warnings.append(f"all of {month}'s cost ({totals}) is unallocated: no API key or workspace of the "
                        "mapping matches the bill")
    return warnings


def allocate_month(warehouse: ObjectStore, month: str, mapping: ConfigFile, *, now: datetime,
                   leases: LeasePolicy = DEFAULT_LEASES, usage: UsageData | None = None) -> RunSummary:
    """Re-allocate a month already ingested, from its published lines, with ``mapping``, holding the month's
    ``run`` lease.

    The month is published again only when its allocation table differs from the published one; otherwise
    nothing is written and the summary says ``changed=False``. ``usage`` is read from the mapping's usage files
    when not given.
    """
    check_month(month)
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    with hold_lease(warehouse, "run", month, leases) as lease:
        return _reallocate(warehouse, month, mapping, lease, now=now, usage=usage)


def _reallocate(warehouse: ObjectStore, month: str, mapping: ConfigFile, lease: Fence, *,
                now: datetime, usage: UsageData | None) -> RunSummary:
    previous = read_manifest(warehouse, month)
    published = read_table(warehouse, month, layout.lines_key(month), previous) if previous else None
    lines = None if published is None else in_pipeline_types(published)
    if previous is None or lines is None:
        raise InputError(f"month {month} has not been ingested into {warehouse.url}: run 'ingest' first",
                         field="month")
    if lines.schema.names != LINE_SCHEMA.names:
        raise InputError(f"month {month} was ingested by an older version (columns {', '.join(lines.schema.names)}"
                         f"): run 'chargeback run --month {month}' to read its bills again", field="month")
    lines = lines.cast(LINE_SCHEMA)
    usage = load_usage(mapping) if usage is None else usage
    inputs = f"{previous.fingerprint}:{mapping.version}" + (f":{usage.digest}" if usage.digest else "")
    manifest = previous.replace(allocated_at=now, fingerprint=hashlib.sha256(inputs.encode()).hexdigest())
    with scratch_dir("outputs-") as spool_dir:
        manifest, outputs = _allocate(lines, mapping, manifest, usage, spool_dir)
        with ThreadPoolExecutor(OUTPUT_WORKERS, thread_name_prefix="outputs") as pool:
            made = {key: make() for key, make in made_ahead(outputs, pool)}
        if previous.allocated and all(previous.outputs.get(key) == digest_of(data) for key, data in made.items()):
            # the allocation and everything made from it (FOCUS, exports, cost summary) as published
            log.info("month %s: allocation unchanged, nothing re-published", month, extra={"month": month})
            return RunSummary(previous, changed=False)
        outputs = [(layout.lines_key(month), lambda: parquet_bytes(published_lines(lines))),
                   *[(key, (lambda data=data: data)) for key, data in made.items()]]
        manifest, written = publish_month(warehouse, outputs, manifest, previous, fence=lease, now=now)
    return RunSummary(manifest, changed=True, written=tuple(written))


@dataclass(frozen=True)
class MonthReallocation:
    """One month of ``allocate_months``: its summary, or why it was left alone (never ingested)."""

    month: str
    summary: RunSummary | None
    skipped: str = ""


def allocate_months(warehouse: ObjectStore, first: str, last: str, mapping: ConfigFile, *,
                    now: datetime, leases: LeasePolicy = DEFAULT_LEASES) -> list[MonthReallocation]:
    """Re-allocate every ingested month from ``first`` to ``last`` with ``mapping``, from their published lines
    (no bill is read again); only months whose allocation changed are published again.

    InputError when ``last`` is before ``first`` or no month of the range was ingested. The usage files are
    read once for the whole range; every month is checked and allocated before the next is published, and a
    month that fails stops the run with the months before it published.
    """
    check_month(first)
    check_month(last, field="to")
    months = months_between(first, last)
    if not months:
        raise InputError(f"--to {last} is before --month {first}", field="to")
    usage = load_usage(mapping)
    results: list[MonthReallocation] = []
    for month in months:
        manifest = read_manifest(warehouse, month)
        if manifest is None or not warehouse.exists(layout.lines_key(month)):
            results.append(MonthReallocation(month, None, "not ingested"))
            continue
        results.append(MonthReallocation(month, allocate_month(warehouse, month, mapping, now=now, leases=leases,
                                                                   usage=usage)))
    if not any(r.summary for r in results):
        raise InputError(f"no month from {first} to {last} has been ingested into {warehouse.url}", field="month")
    return results


def _totals(table: pa.Table) -> dict[str, Decimal]:
    """Billed cost per currency, exact."""
    grouped = sum_by(table, ("currency",), ("billed_cost",))
    return dict(sorted(zip(grouped["currency"].to_pylist(), grouped["billed_cost"].to_pylist(), strict=True)))
