"""``chargeback alert``: evaluate the alert rules for a date and send what is new.

    chargeback alert --warehouse URL --date YYYY-MM-DD [--mapping FILE] [--outbox DIR] [--dry-run]

The edge of the alert job: reads the clock, the environment (webhook URLs and secrets named by the mapping's
``alerts.channels``, and how mail leaves) and the mapping file, then composes
``chargeback.alerts.job.run_alerts`` as the deployed daily job does: e-mail alerts go through the resolved
delivery backend (``chargeback.config.resolve``), from the same sender as statements unless ``alerts.sender``
says otherwise; ``--outbox DIR`` writes them into DIR. In a terminal it prints a table of what fired and why;
otherwise one JSON document. Exit code 1 when a delivery failed (it is recorded and retried by the next run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime
from typing import Any

from chargeback.alerts.channels import Channel, build_channels
from chargeback.alerts.job import run_alerts
from chargeback.alerts.render import format_table
from chargeback.config.environment import DeliveryEnvironment
from chargeback.config.file import load_config_file
from chargeback.config.resolve import CommandLine, resolve_delivery
from chargeback.delivery.build import build_mailer
from chargeback.storage import open_store


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alert", help="send budget, forecast, anomaly, new-key, free-quota and stale-data alerts",
        description=("Evaluate the alert rules for DATE against the warehouse and send each new alert once "
                     "to its channels; the state under state/alerts/ makes a second run of the same date "
                     "quiet."))
    parser.add_argument("--warehouse", required=True, metavar="URL",
                        help="warehouse root: a folder, file://, s3:// or oss:// URL")
    parser.add_argument("--date", required=True, type=_date, metavar="YYYY-MM-DD",
                        help="the day to evaluate (usually today; bills lag a day or more)")
    parser.add_argument("--mapping", metavar="FILE",
                        help="mapping YAML: cost_centers (budgets, owners, channels) and an alerts section")
    parser.add_argument("--outbox", metavar="DIR",
                        help="write e-mail alerts as .eml files into DIR instead of sending them through the "
                             "configured delivery backend")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be sent; send and store nothing")
    parser.add_argument("--format", choices=("auto", "table", "json"), default="auto",
                        help="output: auto = a table in a terminal, JSON otherwise")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_config_file(args.mapping)
    store = open_store(args.warehouse)
    channels: dict[str, Channel] = {}
    if not args.dry_run and config.alerts.enabled:  # a dry run sends nothing: no mail server, URLs or secrets
        plan = resolve_delivery(config, DeliveryEnvironment.from_env(os.environ), CommandLine(outbox=args.outbox),
                                purpose="alerts")
        mailer = build_mailer(plan, store=store, env=os.environ)
        channels = build_channels(config.alerts, environ=os.environ, mailer=mailer, sender=plan.alert_sender)
    run = run_alerts(store, args.date, config, channels, now=datetime.now(UTC), dry_run=args.dry_run)
    table = args.format == "table" or (args.format == "auto" and sys.stdout.isatty())
    if table:
        sys.stdout.write(format_table(run))
    else:
        sys.stdout.write(json.dumps(run.summary(), ensure_ascii=False, indent=1) + "\n")
    run.raise_for_failures()
    return 0
