"""``chargeback demo``: the whole pipeline on the embedded demo data, all in one local folder."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from chargeback.commands.alert import format_table
from chargeback.commands.run import format_summary
from chargeback.demo.job import DEMO_ALERT_DAY, DEMO_MONTH, run_demo
from chargeback.display import money


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole pipeline on the embedded demo data",
        description=(f"Generate two months of realistic Model Studio bills (up to {DEMO_MONTH}) and a demo mapping "
                     "in OUT, then ingest, allocate, write statements to an outbox, evaluate alerts and publish "
                     "the dashboard, all locally."))
    demo.add_argument("--out", default="out/demo", type=Path, help="folder for bills, warehouse and outbox")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    result = run_demo(args.out, now=datetime.now(UTC))
    print(f"demo bills:   {result.bills}")
    print(f"demo mapping: {result.mapping}")
    for summary in result.summaries:
        print(format_summary(summary, str(result.warehouse)))
    print(f"statements for {DEMO_MONTH} (outbox {result.outbox}):")
    for statement in result.statements:
        totals = ", ".join(money(Decimal(amount), currency) for currency, amount in statement.totals)
        print(f"  {statement.cost_center}: {statement.outcome}, {totals} -> {statement.delivery_id}")
    print(f"alerts for {DEMO_ALERT_DAY}:")
    print(format_table(result.alerts))
    if result.dashboard is not None:
        print(f"dashboard:    {result.dashboard}")
    return 0
