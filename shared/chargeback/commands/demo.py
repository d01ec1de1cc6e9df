"""``chargeback demo``: the whole pipeline on the embedded demo data, all in one local folder."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from chargeback.commands.run import format_summary
from chargeback.jobs.demo import DEMO_MONTH, run_demo


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole pipeline on the embedded demo data",
        description=(f"Copy the embedded demo bills (Model Studio, {DEMO_MONTH}) and a demo mapping into OUT, "
                     "then ingest, allocate, write statements to an outbox and evaluate alerts, all locally."))
    demo.add_argument("--out", default="out/demo", type=Path, help="folder for bills, warehouse and outbox")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    result = run_demo(args.out, now=datetime.now(UTC))
    print(f"demo bills:   {result.bills}")
    print(f"demo mapping: {result.mapping}")
    print(format_summary(result.summary, str(result.warehouse)))
    return 0
