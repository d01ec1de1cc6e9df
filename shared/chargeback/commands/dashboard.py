"""``chargeback dashboard``: the whole organisation over the last months, as one self-contained HTML page."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from chargeback.commands import add_storage_options, open_url
from chargeback.config.file import load_config_file
from chargeback.errors import InputError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="one HTML page of the last months: totals, cost centers, models, keys, budgets",
        description=(
            "Write the dashboard: one self-contained HTML file (inline SVG charts, no scripts, nothing fetched) "
            "of the last N months up to the newest published one: the total by month and currency, cost centers "
            "stacked, the top models, API keys and workspaces, API versus console, the unallocated share, the "
            "budgets' burn, the free quota left and the month's anomalies. The daily job publishes the same page "
            "as dashboard/index.html in the warehouse."))
    parser.add_argument("--warehouse", required=True, metavar="URL",
                        help="the warehouse: a folder, file:///path, s3://bucket/prefix or oss://bucket/prefix")
    parser.add_argument("--months", type=int, default=12, metavar="N", help="how many months (default 12)")
    parser.add_argument("--month", metavar="YYYY-MM", help="the last month shown (default: the newest published)")
    parser.add_argument("--locale", choices=("en", "zh"), help="language (default: the mapping's statements "
                                                                "locale, else en)")
    parser.add_argument("--mapping", metavar="FILE", help="the mapping: cost center names, budgets, quotas")
    parser.add_argument("--out", default="dashboard.html", metavar="FILE",
                        help="where to write the page (default dashboard.html)")
    add_storage_options(parser)
    parser.set_defaults(handler=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    from chargeback.dashboard.render import render_dashboard
    from chargeback.dashboard.view import load_dashboard

    mapping = load_config_file(args.mapping)
    locale = args.locale or mapping.statements.locale
    view = load_dashboard(open_url(args.warehouse, args), mapping, month=args.month, months=args.months,
                          locale=locale, now=datetime.now(UTC))
    if view is None:
        raise InputError(f"no published month in {args.warehouse}: run 'chargeback run' first", field="--warehouse")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_dashboard(view), encoding="utf-8")
    for problem in view.problems:
        print(f"note: {problem.message}")
    print(f"dashboard {view.window[0]} to {view.latest} ({view.locale}): {out.resolve()}")
    return 0
