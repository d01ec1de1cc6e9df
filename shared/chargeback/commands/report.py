"""``chargeback report``: send (or write) the month's statements, each once.

    chargeback report --warehouse URL --month YYYY-MM [--mapping FILE] [--outbox DIR] [--dry-run]
                      [--only COST_CENTER]

How mail leaves (backend, sender, finance cc, SMTP server) is resolved from the environment and the file's
``delivery:`` section exactly as the deployed monthly job resolves it (``chargeback.config.resolve``; outbox by
default). ``--outbox DIR`` writes the messages into DIR whatever is configured. Without a mapping file every
workspace is its own cost center with no owners, so statements go to the outbox only. Prints one line per
statement: what happened and where.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

from chargeback.commands import add_storage_options, open_url
from chargeback.config.environment import DeliveryEnvironment
from chargeback.config.file import load_config_file
from chargeback.config.resolve import CommandLine, resolve_delivery
from chargeback.delivery.build import build_mailer
from chargeback.errors import InputError
from chargeback.months import check_month
from chargeback.reporting.job import StatementResult, send_statements


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="send the month's chargeback statements (each cost center once)",
        description="Build each cost center's statement for a month and send the ones not sent yet. "
                    "A month whose allocations changed since its statement went out gets a corrected one.",
    )
    parser.add_argument("--warehouse", required=True, metavar="URL",
                        help="the warehouse: a folder, file://, s3://bucket/prefix or oss://bucket/prefix")
    parser.add_argument("--month", required=True, type=_month, metavar="YYYY-MM", help="the billing month")
    parser.add_argument("--mapping", metavar="FILE",
                        help="team mapping YAML (cost centers, owners, delivery); without it every workspace "
                             "is its own cost center and statements go to the outbox only")
    parser.add_argument("--outbox", metavar="DIR", help="write the messages into DIR instead of sending them")
    parser.add_argument("--dry-run", action="store_true",
                        help="build and render, but send and record nothing")
    parser.add_argument("--only", metavar="COST_CENTER", help="only this cost center")
    add_storage_options(parser)
    parser.set_defaults(handler=run)


def _month(text: str) -> str:
    try:
        return check_month(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    config = load_config_file(args.mapping)
    plan = resolve_delivery(config, DeliveryEnvironment.from_env(os.environ),
                            CommandLine(outbox=args.outbox, outbox_only=config.is_default))
    store = open_url(args.warehouse, args)
    if config.is_default and not args.outbox:
        print("no mapping file: every workspace is its own cost center with no owners, so statements are "
              "written to the outbox only", file=sys.stderr)
    mailer = build_mailer(plan, store=store, env=os.environ)
    results = send_statements(store, args.month, config, mailer, now=datetime.now(UTC), dry_run=args.dry_run,
                              only=args.only, finance_cc=plan.finance_cc, sender=plan.sender)
    for result in results:
        print(_line(result))
    if not results:
        print(f"no statements for {args.month}: no cost center has allocation rows", file=sys.stderr)
    failed = [r for r in results if r.failed]
    if failed:
        names = ", ".join(r.cost_center for r in failed)
        print(f"{len(failed)} statement(s) not sent: {names}", file=sys.stderr)
        return 1
    return 0


def _line(result: StatementResult) -> str:
    totals = ", ".join(f"{currency} {amount}" for currency, amount in result.totals) or "-"
    where = result.delivery_id or result.detail
    recipients = ", ".join((*result.to, *result.cc))
    parts = [f"{result.outcome:<10}", result.cost_center, f"v{result.version}", totals]
    if recipients:
        parts.append(f"to {recipients}")
    if where:
        parts.append(where)
    return "\t".join(parts)
