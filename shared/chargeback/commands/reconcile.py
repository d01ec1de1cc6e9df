"""``chargeback reconcile``: does the month's bill match list prices, and where does it not?"""

from __future__ import annotations

import argparse
from decimal import Decimal

from chargeback.commands import add_storage_options, load_mapping, open_url
from chargeback.config.prices import CURRENCY_SITE
from chargeback.errors import InputError
from chargeback.money import format_decimal
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.reconcile import Reconciliation, reconcile
from chargeback.warehouse.read import read_lines


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="explain the gap between list and billed cost of a month",
        description=(
            "Compare every line of an ingested month with list prices: the gap between list and billed cost "
            "is explained in named parts (promotions and discounts, coupons, prepaid plans, free quota, "
            "rounding); bill prices that differ from the shipped catalog are flagged as probable price changes. "
            "One report per "
            "currency (CNY is the China site, USD the international site)."))
    parser.add_argument("--warehouse", required=True, metavar="URL", help="the warehouse the month was run into")
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="billing month")
    parser.add_argument("--mapping", metavar="FILE", help="a mapping file whose 'prices:' add or override prices")
    parser.add_argument("--json", action="store_true", help="print JSON (one object, or a list for two currencies)")
    add_storage_options(parser)
    parser.set_defaults(handler=_reconcile)


def _reconcile(args: argparse.Namespace) -> int:
    lines = read_lines(open_url(args.warehouse, args), args.month)
    if lines is None:
        raise InputError(f"month {args.month} is not in {args.warehouse}: run 'chargeback run' first",
                         field="month")
    catalog = load_catalog(load_mapping(args).prices)
    results = []
    for currency in sorted(set(lines["currency"])):
        site = CURRENCY_SITE.get(str(currency))
        if site is None:
            raise InputError(f"no price catalog for currency {currency}", field="currency")
        results.append(reconcile(lines[lines["currency"] == currency], catalog, site))
    if args.json:
        import json

        data = [r.to_dict() for r in results]
        print(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_reconciliation(r, args.month) for r in results))
    return 0


def format_reconciliation(result: Reconciliation, month: str) -> str:
    """A short text report; every amount is exact and followed by its currency."""
    def f(value: Decimal) -> str:
        return f"{format_decimal(value)} {result.currency}"

    out = [f"reconciliation {month}, site {result.site} ({result.currency}), {result.source_lines} bill lines",
           f"  list total    {f(result.list_total)}",
           f"  billed total  {f(result.billed_total)}",
           f"  gap           {f(result.gap)}, explained by:"]
    out += [f"    {name.replace('_', ' '):26} {f(value)}" for name, value in result.explained.items()]
    out.append(f"  unexplained   {f(result.unexplained)}")
    out.append(f"  free quota: {result.free_quota_lines} lines, worth {f(result.free_quota_savings)} at list price"
               + (f" (+{len(result.free_quota_unvalued)} usage groups without a catalog price)"
                  if result.free_quota_unvalued else ""))
    for change in result.price_changes.values():
        out.append(f"  probable price change: {change.model} {change.usage_type} bill {f(change.bill_price)} vs "
                   f"catalog {f(change.catalog_price)} per {change.unit} ({change.first_date}..{change.last_date}, "
                   f"{change.lines} lines, {f(change.amount)})")
    if result.not_in_catalog:
        models = sorted({g.model for g in result.not_in_catalog.values()})
        listed = sum((g.list_cost for g in result.not_in_catalog.values()), Decimal(0))
        out.append(f"  not in the catalog: {', '.join(models)} ({f(listed)} at the bill's list prices)")
    return "\n".join(out)
