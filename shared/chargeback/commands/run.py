"""``chargeback run``, ``ingest`` and ``allocate``: one month from bills to allocation tables."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from chargeback.bills.discovery import BillFile
from chargeback.bills.sources import DEFAULT_MAX_UNCOMPRESSED_BYTES
from chargeback.commands import add_storage_options, add_wait_option, leases_of, load_mapping, open_url
from chargeback.jobs.run_month import RunSummary, allocate_month, allocate_months, run_month
from chargeback.lean import without_pandas
from chargeback.money import format_decimal

MONTH_HELP = "billing month, YYYY-MM"
SOURCE_HELP = ("where the bill files are: a folder, file:///path, s3://bucket/prefix or oss://bucket/prefix "
               "(v2 subscription pushes, legacy BillingItemDetail files or console exports)")
WAREHOUSE_HELP = "where the tables are written: a folder, file:///path, s3://bucket/prefix or oss://bucket/prefix"
MAPPING_HELP = ("YAML file assigning API keys and workspaces to cost centers; without it every workspace is its "
                "own cost center")


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="ingest and allocate one month", description=(
            "Read the month's authoritative bill files from SOURCE, split every Model Studio line by API key, "
            "workspace, model and cost center, and publish exact allocation tables (Parquet and CSV) and a "
            "manifest to WAREHOUSE. A rerun with unchanged bills and mapping rewrites nothing."))
    _add_common(run)
    run.add_argument("--mapping", metavar="FILE", help=MAPPING_HELP)
    run.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    run.set_defaults(handler=_run)

    ingest = subparsers.add_parser(
        "ingest", help="read one month's bills into normalized lines (no allocation)",
        description="Read the month's bill files and publish normalized lines and a manifest, without allocating.")
    _add_common(ingest)
    ingest.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    ingest.set_defaults(handler=_ingest)

    alloc = subparsers.add_parser(
        "allocate", help="(re)allocate ingested months with the current mapping",
        description=(
            "Allocate months already ingested into WAREHOUSE, from their published lines (no bill is read again), "
            "with the mapping as it is now: --month alone for one month, --month and --to for every ingested "
            "month of a range (a backfill after ownership changed). Only months whose allocation changed are "
            "published again; 'report' then sends corrected statements to the cost centers they concern."))
    alloc.add_argument("--warehouse", required=True, metavar="URL", help=WAREHOUSE_HELP)
    alloc.add_argument("--month", required=True, metavar="YYYY-MM", help=f"{MONTH_HELP}; the first with --to")
    alloc.add_argument("--to", metavar="YYYY-MM", help="the last month of the range (inclusive)")
    alloc.add_argument("--mapping", metavar="FILE", help=MAPPING_HELP)
    add_storage_options(alloc)
    add_wait_option(alloc)
    alloc.set_defaults(handler=_allocate)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, metavar="URL", help=SOURCE_HELP)
    parser.add_argument("--warehouse", required=True, metavar="URL", help=WAREHOUSE_HELP)
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help=MONTH_HELP)
    parser.add_argument("--workers", type=int, default=2, help="files read in parallel (default 2)")
    parser.add_argument("--currency", default="CNY",
                        help="currency of bills without a currency column (legacy files; default CNY)")
    parser.add_argument("--max-uncompressed-gib", type=_gib, default=DEFAULT_MAX_UNCOMPRESSED_BYTES / GIB,
                        metavar="GIB", help="the most one bill may inflate to, zipped members together, in GiB "
                        f"(default {DEFAULT_MAX_UNCOMPRESSED_BYTES / GIB:g}: about 23M rows); past it the run stops, "
                        "so a zip bomb fills neither disk nor memory")
    add_storage_options(parser)
    add_wait_option(parser)


GIB = 1 << 30


def _gib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GiB") from None
    if not 0 < value <= 1 << 20:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 1048576 GiB")
    return value


class Progress:
    """Prints one line per file read when stderr is a terminal."""

    def __init__(self) -> None:
        self.done = 0
        self.enabled = sys.stderr.isatty()

    def __call__(self, bill: BillFile) -> None:
        self.done += 1
        if self.enabled:
            print(f"\r  read {self.done} file(s), last {bill.key[-60:]}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.done:
            print(file=sys.stderr)


@without_pandas()
def _run(args: argparse.Namespace, allocate_lines: bool = True) -> int:
    config = load_mapping(args, use=allocate_lines)
    progress = Progress()
    try:
        summary = run_month(open_url(args.source, args), open_url(args.warehouse, args), args.month, config,
                            now=datetime.now(UTC), workers=args.workers, default_currency=args.currency,
                            progress=progress, force=args.force, allocate_lines=allocate_lines,
                            leases=leases_of(args), max_uncompressed=int(args.max_uncompressed_gib * GIB))
    finally:
        progress.close()
    print(format_summary(summary, args.warehouse))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    return _run(args, allocate_lines=False)


@without_pandas()
def _allocate(args: argparse.Namespace) -> int:
    config = load_mapping(args)
    warehouse = open_url(args.warehouse, args)
    if args.to is None:
        print(format_summary(allocate_month(warehouse, args.month, config, now=datetime.now(UTC),
                                                   leases=leases_of(args)), args.warehouse))
        return 0
    results = allocate_months(warehouse, args.month, args.to, config, now=datetime.now(UTC),
                              leases=leases_of(args))
    changed = [r.month for r in results if r.summary and r.summary.changed]
    print(f"allocated {sum(1 for r in results if r.summary)} month(s) from {args.month} to {args.to} with mapping "
          f"{config.version}: {len(changed)} changed ({', '.join(changed) or 'none'}), the others left as published")
    for result in results:
        if result.summary is None:
            print(f"month {result.month}: {result.skipped}, skipped")
        elif result.summary.changed:
            print(format_summary(result.summary, args.warehouse))
        else:
            print(f"month {result.month}: allocation unchanged, nothing re-published")
    return 0


def format_summary(summary: RunSummary, warehouse: str) -> str:
    """A short human summary of a run."""
    manifest, counts = summary.manifest, summary.counts
    out = [f"month {manifest.month} ({manifest.status}, {manifest.family or 'no'} bills, "
           f"{len(manifest.sources)} file(s))"]
    if not summary.changed:
        out.append("  unchanged since the last run: nothing rewritten" + (
            f" ({len(summary.written)} table copies brought up to date)" if summary.written else ""))
    out.append(f"  rows read {counts.rows_read}: Model Studio {counts.model_studio_rows}, other products "
               f"{counts.other_product_rows}, other months {counts.other_month_rows}, "
               f"duplicates {counts.duplicate_rows}")
    if counts.restated_lines:
        out.append(f"  {counts.restated_lines} bill line(s) restated by a newer export: the newest copy counts")
    out.append(f"  {counts.lines} normalized lines, {counts.allocation_rows} allocation rows")
    for currency, total in summary.totals.items():
        out.append(f"  billed total {format_decimal(total)} {currency}")
    if len(manifest.accounts) > 1:
        out.append(f"  bills of {len({a.account for a in manifest.accounts})} accounts, each chosen on its own:")
        for bill in manifest.accounts:
            site = f", site {bill.scope}" if bill.scope else ""
            amounts = ", ".join(f"{format_decimal(v)} {c}" for c, v in bill.totals.items()) or "nothing"
            out.append(f"    account {bill.account} ({bill.family}{site}, {bill.status}, "
                       f"{len(bill.sources)} file(s)): {amounts}")
    covered = summary.covered_by_cost_center
    for center, totals in summary.totals_by_cost_center.items():
        amounts = ", ".join(f"{format_decimal(v)} {c}" for c, v in totals.items())
        plans = ", ".join(f"{format_decimal(v)} {c}" for c, v in covered.get(center, {}).items())
        out.append(f"    {center}: {amounts}" + (f" (prepaid plans covered {plans} at list price)" if plans else ""))
    for item in manifest.excluded_products:
        out.append(f"  excluded (not Model Studio): {item.product_code} {item.rows} rows, "
                   f"{format_decimal(item.billed_cost)} {item.currency}")
    for kind in summary.unknown_usage_types:
        amounts = ", ".join(f"{format_decimal(v)} {c}" for c, v in kind.billed_cost.items())
        out.append(f"  usage type not recognised, kept raw as io_type 'other': {kind.usage_type} "
                   f"({kind.rows} rows, {amounts})")
    if summary.unmapped_api_keys:
        out.append(f"  API keys not in the mapping: {', '.join(summary.unmapped_api_keys)}")
    out.extend(f"  warning: {warning}" for warning in summary.warnings)
    if summary.written:
        out.append(f"  written to {warehouse}:")
        out.extend(f"    {key}" for key in summary.written)
    return "\n".join(out)
