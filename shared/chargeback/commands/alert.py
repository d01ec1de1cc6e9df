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
import shutil
import sys
import textwrap
from datetime import UTC, date, datetime
from typing import Any

from chargeback.alerts.channels import Channel, build_channels
from chargeback.alerts.job import run_alerts
from chargeback.alerts.model import AlertOutcome, AlertRun
from chargeback.commands import add_storage_options, add_wait_option, leases_of, load_mapping, open_url
from chargeback.config.environment import DeliveryEnvironment
from chargeback.config.resolve import CommandLine, resolve_delivery
from chargeback.delivery.build import build_mailer


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
    add_storage_options(parser)
    add_wait_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_mapping(args)
    store = open_url(args.warehouse, args)
    channels: dict[str, Channel] = {}
    if not args.dry_run and config.alerts.enabled:  # a dry run sends nothing: no mail server, URLs or secrets
        plan = resolve_delivery(config, DeliveryEnvironment.from_env(os.environ), CommandLine(outbox=args.outbox),
                                purpose="alerts")
        mailer = build_mailer(plan, store=store, env=os.environ)
        channels = build_channels(config.alerts, environ=os.environ, mailer=mailer, sender=plan.alert_sender)
    run = run_alerts(store, args.date, config, channels, now=datetime.now(UTC), dry_run=args.dry_run,
                     leases=leases_of(args))
    table = args.format == "table" or (args.format == "auto" and sys.stdout.isatty())
    if table:
        sys.stdout.write(format_table(run))
    else:
        sys.stdout.write(json.dumps(run.summary(), ensure_ascii=False, indent=1) + "\n")
    for line in run.undelivered_lines():
        print(line, file=sys.stderr)
    run.raise_for_failures()
    return 0


_COLUMNS = ("ACTION", "RULE", "SUBJECT", "THRESHOLD", "PERIOD", "VALUE", "SENT TO")


def _sent_to(outcome: AlertOutcome, dry_run: bool) -> str:
    if outcome.action == "undelivered":
        return "UNDELIVERED: no channel"
    if outcome.action == "superseded":
        return "- (a higher threshold went out)"
    if dry_run or not outcome.deliveries:
        return ", ".join(r.channel for r in outcome.planned) or "-"
    parts = []
    for result in outcome.deliveries:
        if result.status == "sent":
            tries = f" ({result.attempts} tries)" if result.attempts > 1 else ""
            parts.append(f"{result.channel} ok{tries}")
        else:
            parts.append(f"{result.channel} FAILED after {result.attempts}: {result.error}")
    parts += [f"{name} UNDELIVERED: no channel in this run" for name in outcome.undelivered]
    return "; ".join(parts)


def _row(outcome: AlertOutcome, dry_run: bool) -> tuple[str, ...]:
    alert = outcome.alert
    action: str = outcome.action
    if dry_run:
        action = {"new": "would send", "restated": "would resend", "retry": "would retry",
                  "superseded": "superseded", "undelivered": "undelivered"}.get(outcome.action, "would clear")
    if alert is None:
        return (action, outcome.rule, outcome.subject, "", outcome.period, "", "-")
    threshold = alert.threshold
    if alert.rule.startswith(("budget", "free_quota_used")):
        threshold = f"{alert.threshold}%"
    if alert.rule == "stale_data":
        threshold = f"{alert.threshold} h"
    elif alert.rule == "free_quota_expiring":
        threshold = f"{alert.threshold} d"
    value = alert.shown(alert.value)
    if alert.rule == "free_quota_used":
        value = f"{value}%"
    elif alert.rule == "stale_data":
        value = f"{value} h"
    return (action, alert.rule, alert.subject.label, threshold, alert.period, value,
            _sent_to(outcome, dry_run))


def format_table(run: AlertRun, width: int | None = None) -> str:
    """A plain-text table of what fired and why, with the data completeness and a summary."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    out = [f"Alerts for {run.day}" + (" (dry run: nothing sent, no state written)" if run.dry_run else "")]
    out += [f"  {note}" for note in run.notes]
    shown = [o for o in run.outcomes if o.action != "quiet"]
    if not shown:
        out.append("Nothing new to send.")
    else:
        rows = [_COLUMNS, *(_row(o, run.dry_run) for o in shown)]
        widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(_COLUMNS) - 1)]
        for index, row in enumerate(rows):
            cells = [cell if len(cell) <= w else cell[: w - 1] + "…"
                     for cell, w in zip(row, widths, strict=False)]
            out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + row[-1])
            if index == 0:
                out.append("  ".join("-" * w for w in widths) + "  " + "-" * len(_COLUMNS[-1]))
        out.append("")
        out.append("Why:")
        for outcome in shown:
            if outcome.action == "superseded":  # the table names it; its reasons are the higher threshold's
                continue
            out.append(f"* {outcome.title}")
            if outcome.alert is not None:
                reasons = list(outcome.alert.reasons)
                if outcome.action == "restated" and outcome.previous_value is not None:
                    reasons.insert(0, f"Restated: was {outcome.alert.shown(outcome.previous_value)} when "
                                      "last sent.")
                for reason in reasons:
                    out.extend(textwrap.wrap(reason, width=max(width - 4, 40), initial_indent="    ",
                                             subsequent_indent="      "))
            else:
                out.append("    No longer holds after restated data; cleared.")
    sent = sum(1 for o in run.outcomes for d in o.deliveries if d.status == "sent")
    failed = sum(1 for o in run.outcomes for d in o.deliveries if d.status == "failed")
    quiet = sum(1 for o in run.outcomes if o.action == "quiet")
    superseded = sum(1 for o in run.outcomes if o.action == "superseded")
    out.append("")
    out.append(f"{len(shown) - superseded} to act on, {superseded} superseded by a higher threshold, {quiet} already "
               f"sent (quiet); deliveries: {sent} sent, {failed} failed, {len(run.undelivered)} undelivered.")
    return "\n".join(out) + "\n"
