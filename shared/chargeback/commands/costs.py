"""``chargeback costs``: what did these months cost, by any dimension, for the rows you name."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from decimal import Decimal

from chargeback.columns import QUERY_DIMENSIONS
from chargeback.commands import add_storage_options, open_url
from chargeback.display import format_money, format_number, format_percent
from chargeback.errors import InputError
from chargeback.lean import without_pandas
from chargeback.queries.costs import CostAnswer, CostQuery, CostRow, ask_costs, parse_by, parse_where
from chargeback.reporting.csvfile import neutralise

EXAMPLES = """\
examples (the three questions of Alibaba's billing FAQ):
  What did Model Studio cost last month?
    chargeback costs --warehouse s3://my-warehouse --month 2026-05
  What did model calling cost in total, model by model?
    chargeback costs --warehouse s3://my-warehouse --month 2026-05 --by model
  What did calling qwen-max cost, input plus output (the total row)?
    chargeback costs --warehouse s3://my-warehouse --month 2026-05 --where model=qwen-max --by io_type

more:
  chargeback costs --warehouse ./wh --month 2026-01 --to 2026-06 --by billing_month,cost_center
  chargeback costs --warehouse ./wh --month 2026-05 --by api_key_id --top 10 --format csv > keys.csv
  chargeback costs --warehouse ./wh --month 2026-05 --where 'model=qwen3*' --where api_key_id= --format json

Amounts are exact and in the bill's currency; currencies are never added together (each has its own total).
billed = payable; list = at list price; free quota = free-quota usage valued at list price (the bill's, else
the price catalog's); tokens = tokens used, free quota included; share = of the currency's billed total.
A month that is missing from the warehouse, or that does not match its manifest, is named and left out.
Questions without billing_date read the months' cost summaries (costs/); with it, the allocations.
"""

LABELS: dict[str, str] = {
    "billed_cost": "billed", "list_cost": "list", "discount": "discount", "coupon": "coupon",
    "free_quota_covered": "free quota", "tokens": "tokens", "share": "share",
}
CSV_FIELDS: tuple[str, ...] = ("billed_cost", "list_cost", "discount", "coupon", "free_quota_covered", "tokens",
                               "free_quota_unvalued_lines", "line_count", "share")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "costs", help="what months cost, by any dimension (billed, list, discount, free quota, tokens)",
        description=(
            "Ask the warehouse what Model Studio cost: the billed (payable), list, discount, coupon and "
            "free-quota amounts, tokens and share of each group, one total per currency. Reads only the months "
            "asked for, each checked against its manifest."),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True, metavar="URL",
                        help="the warehouse: a folder, file:///path, s3://bucket/prefix or oss://bucket/prefix")
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the (first) billing month")
    parser.add_argument("--to", metavar="YYYY-MM", help="the last billing month (default: --month)")
    parser.add_argument("--by", metavar="DIM[,DIM...]",
                        help=f"group by these dimensions (currency is always one): {', '.join(QUERY_DIMENSIONS)}")
    parser.add_argument("--where", action="append", default=[], metavar="DIM=VALUE",
                        help="only rows whose DIM is VALUE ('*' matches any text; repeat for more values of one "
                             "dimension, which match any of them, or for other dimensions, which must all hold)")
    parser.add_argument("--top", type=int, metavar="N",
                        help="the N largest groups of each currency; the rest summed as one 'others' row")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="table (for people, default), csv (exact, for spreadsheets) or json (exact decimal "
                             "strings)")
    add_storage_options(parser)
    parser.set_defaults(handler=_costs)


@without_pandas()
def _costs(args: argparse.Namespace) -> int:
    query = CostQuery(args.month, args.to, parse_by(args.by), parse_where(args.where), args.top)
    answer = ask_costs(open_url(args.warehouse, args), query)
    if not answer.months:
        problems = "; ".join(p.message for p in answer.problems)
        raise InputError(f"no month of {', '.join(query.months)} can be read from {args.warehouse}: {problems}",
                         field="--month")
    if args.format == "json":
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        sys.stdout.write(format_csv(answer))
    else:
        print(format_table(answer))
    if args.format != "table":
        for problem in answer.problems:
            print(f"note: {problem.message}", file=sys.stderr)
    return 0


def _money(values: list[Decimal]) -> list[str]:
    """Money cells under the display policy (``chargeback.display``)."""
    return [format_money(v) for v in values]


def _share(row: CostRow) -> str:
    return format_percent(None if row.share is None else row.share * 100)


def _title(answer: CostAnswer) -> str:
    months = answer.query.months
    period = months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"
    by = [k for k in answer.query.keys if k != "currency"]
    where = "; ".join(f"{c.dimension} = {' or '.join(repr(v) for v in c.values)}" for c in answer.query.where)
    return (f"Model Studio costs, {period}" + (f", by {', '.join(by)}" if by else "")
            + (f", where {where}" if where else ""))


def format_table(answer: CostAnswer) -> str:
    """The answer for people: one block per currency, its rows, the others of --top, and its total."""
    keys = [k for k in answer.query.keys if k != "currency"]
    header = [*keys, "currency", *LABELS.values()]
    lines = [_title(answer), ""]
    body: list[list[str]] = []
    for total in answer.totals:
        currency = total.currency
        group = [r for r in answer.rows if r.currency == currency] if keys else []  # no --by: the total alone
        others = [r for r in answer.others if r.currency == currency]
        every = [*group, *others, total]
        cells = {name: _money([r.amounts[name] for r in every]) for name in
                 ("billed_cost", "list_cost", "discount", "coupon", "free_quota_covered")}
        for index, row in enumerate(every):
            if row is total:
                label = ["total", *[""] * (len(keys) - 1)] if keys else []
            elif row in others:
                label = [f"({row.rows} others)", *[""] * (len(keys) - 1)] if keys else []
            else:
                label = [row.keys[k] or "''" for k in keys]
            body.append([*label, currency, *(cells[n][index] for n in cells),
                         format_number(Decimal(row.counts["tokens"])), _share(row)])
        body.append([])
    widths = [max(len(h), *(len(r[i]) for r in body if r)) for i, h in enumerate(header)]
    numeric = set(range(len(keys) + 1, len(header)))

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lines.append(line(header))
    lines += [line(r) if r else "" for r in body]
    unvalued = sum(t.counts["free_quota_unvalued_lines"] for t in answer.totals)
    if unvalued:
        lines.append(f"note: {unvalued} free-quota bill line(s) have no list price (neither the bill nor the "
                     "price catalog gives one): their usage is not in 'free quota'")
    lines += [f"note: {p.message}" for p in answer.problems]
    return "\n".join(lines).rstrip()


def format_csv(answer: CostAnswer) -> str:
    """The answer as CSV: exact decimals, a 'kind' column (row, others, total), formula-like text neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    keys = list(answer.query.keys)
    writer.writerow(["kind", *keys, *CSV_FIELDS])
    for kind, rows in (("row", answer.rows), ("others", answer.others), ("total", answer.totals)):
        for row in rows:
            values = row.to_dict()
            writer.writerow([kind, *(neutralise(str(values.get(k, ""))) for k in keys),
                             *("" if values[f] is None else str(values[f]) for f in CSV_FIELDS)])
    return out.getvalue()


__all__ = ["format_csv", "format_table", "register"]
