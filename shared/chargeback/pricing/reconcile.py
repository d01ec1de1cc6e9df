"""Reconciliation of normalized bill lines: list vs billed, and the bill's list prices vs the catalog.

The identity, per line and so for any set of lines (amounts exact, in the bill's currency)::

    gap = list_cost - billed_cost
        = discount                 promotions and discounts (优惠金额)
        + coupon                   coupons (优惠券抵扣金额)
        + prepaid plans            what savings plans and resource packs deducted (订阅抵扣金额, 资源包抵扣)
        + free quota               on free-quota lines, what the free quota absorbed beyond those two
        + rounding                 a remainder no larger than half a ``rounding_unit`` per source line
        + unexplained              anything else, listed line by line

so ``list_total - billed_total - sum(explained) == unexplained``. Free-quota lines carry list price 0 and list
cost 0 in the bill, so they add nothing to the gap; what the free quota saved is valued separately, at the
catalog price of the deducted usage. The catalog comparison is beside the identity, not part of it: lines
whose list unit price differs from the catalog's for their day (a probable price change), lines whose price
the catalog does not know, and how much tiered or cached-input prices moved the list cost against the base
price. Pure: a DataFrame with ``chargeback.columns.LINE_COLUMNS`` in, a :class:`Reconciliation` out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from chargeback.bills.instance_id import classify_usage_type
from chargeback.bills.normalize import list_price
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import ZERO, format_decimal, to_decimal
from chargeback.pricing.catalog import DERIVATIONS, SITE_CURRENCY, PriceCatalog, PriceEntry
from chargeback.units import catalog_unit

if TYPE_CHECKING:  # run needs no pandas: the reconciliation is handed its frame
    import pandas as pd

AMOUNTS = ("usage", "usage_before_deduction", "deducted_usage", "list_cost", "discount", "coupon",
           "billed_cost")
OPTIONAL_AMOUNTS = ("commitment_deducted",)  # lines published before schema 3 have none: 0
NEEDED = ("billing_date", "model", "usage_type", "io_type", "context_tier", "batch", "thinking", "fee_type", "currency",
          "usage_unit", "list_unit_price", *AMOUNTS, "line_count")


def catalog_usage_types(usage_type: str, io_type: str, *, batch: bool = False, thinking: bool = False
                        ) -> list[str]:
    """The catalog usage types a bill line may be priced as, most specific first, from the line's ``io_type``,
    ``batch`` and ``thinking`` columns (and, for cache lines, which cache: ``classify_usage_type``, the one
    reader of usage types, which also made those columns).

    input -> ['input'] ('text_input_token' -> ['text_input', 'input']); cached_input -> ['cached_input'] for
    implicit hits, ['explicit_cached_input'] for explicit ones; cache_write -> ['cache_write']; batch ->
    ['batch_input'] / ['batch_output']; thinking -> ['thinking_output']; unit -> the bill's word ('1080P').
    [INFERRED] from the names Model Studio uses (issue 16): the 5-minute cache creation and its reads are the
    explicit cache (valid 5 minutes), a plain "cache" is the implicit one.
    """
    kind = classify_usage_type(usage_type)
    if io_type == "cache_write":
        return ["cache_write"]
    if io_type == "cached_input":
        return ["explicit_cached_input" if kind.cache == "explicit" else "cached_input"]
    if io_type in ("input", "output"):
        if batch:
            return [f"batch_{io_type}"]
        if thinking:
            return ["thinking_output"]
        return [f"{kind.modality}_{io_type}", io_type] if kind.modality else [io_type]
    return [kind.name]


def lookup_line_price(
    catalog: PriceCatalog, site: str, model: str, usage_type: str, io_type: str, context_tier: str,
    usage_unit: str, on: date, *, batch: bool = False, thinking: bool = False,
) -> PriceEntry | None:
    """The catalog price of a bill line, or None when the catalog has none in the line's unit."""
    unit = catalog_unit(usage_unit)
    for candidate in catalog_usage_types(usage_type, io_type, batch=batch, thinking=thinking):
        entry = catalog.price(model, site, candidate, on, context_tier or None)
        if entry is not None:
            return entry if unit is None or entry.unit == unit else None
    return None


def free_quota_price(
    catalog: PriceCatalog, site: str, model: str, usage_type: str, io_type: str, context_tier: str,
    usage_unit: str, list_unit_price: str, on: date, *, batch: bool = False, thinking: bool = False,
) -> Decimal | None:
    """The list price that free-quota usage of a line is valued at: the bill's own list price where it gives one
    (free-quota lines usually carry 0), else the catalog's for the day; None when neither knows one.

    The usage valued is the deducted usage (``deducted_usage``, else ``usage_before_deduction``).
    """
    bill_price = list_price(list_unit_price, source="lines")
    if bill_price:
        return bill_price
    entry = lookup_line_price(catalog, site, model, usage_type, io_type, context_tier, usage_unit, on,
                              batch=batch, thinking=thinking)
    return entry.price if entry is not None else None


@dataclass
class PriceChange:
    """Lines of one model and usage type whose bill list price differs from the catalog's."""

    model: str
    usage_type: str
    context_tier: str
    bill_price: Decimal
    catalog_price: Decimal
    catalog_source: str
    first_date: str
    last_date: str
    lines: int = 0
    usage: Decimal = ZERO
    amount: Decimal = ZERO  # (bill price - catalog price) x usage
    unit: str = ""  # what one price is per, e.g. '1K tokens'


@dataclass
class UsageGroup:
    """Lines of one model and usage type, summed (for prices the catalog does not know)."""

    model: str
    usage_type: str
    context_tier: str
    usage_unit: str
    lines: int = 0
    usage: Decimal = ZERO
    list_cost: Decimal = ZERO


@dataclass
class UnexplainedLine:
    billing_date: str
    model: str
    usage_type: str
    fee_type: str
    list_cost: Decimal
    billed_cost: Decimal
    discount: Decimal
    coupon: Decimal
    remainder: Decimal


@dataclass
class Reconciliation:
    """The month's gap between list and billed cost, explained, and the bill's prices against the catalog."""

    site: str
    currency: str
    lines: int = 0  # normalized lines
    source_lines: int = 0  # bill lines (sum of line_count)
    list_total: Decimal = ZERO
    billed_total: Decimal = ZERO
    explained: dict[str, Decimal] = field(default_factory=lambda: {
        "promotions_and_discounts": ZERO, "coupons": ZERO, "prepaid_plans": ZERO, "free_quota": ZERO,
        "rounding": ZERO})
    unexplained_lines: list[UnexplainedLine] = field(default_factory=list)
    free_quota_lines: int = 0
    free_quota_savings: Decimal = ZERO  # deducted usage valued at the catalog (or the bill's own) price
    free_quota_unvalued: dict[tuple[str, str, str, str], UsageGroup] = field(default_factory=dict)
    price_changes: dict[tuple[str, str, str, Decimal, Decimal], PriceChange] = field(default_factory=dict)
    not_in_catalog: dict[tuple[str, str, str, str], UsageGroup] = field(default_factory=dict)
    tier_and_cache_pricing: Decimal = ZERO  # list cost of tier/cache lines minus the same usage at base price
    tier_and_cache_lines: int = 0
    matched_lines: int = 0
    matched_list_cost: Decimal = ZERO
    list_rounding: Decimal = ZERO  # sum of (list_cost - list unit price x usage) on priced lines

    @property
    def gap(self) -> Decimal:
        return self.list_total - self.billed_total

    @property
    def unexplained(self) -> Decimal:
        return self.gap - sum(self.explained.values(), ZERO)

    @property
    def price_changed_amount(self) -> Decimal:
        return sum((c.amount for c in self.price_changes.values()), ZERO)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as plain strings."""
        f = format_decimal

        def group(g: UsageGroup) -> dict[str, Any]:
            return {"model": g.model, "usage_type": g.usage_type, "context_tier": g.context_tier,
                    "usage_unit": g.usage_unit, "lines": g.lines, "usage": f(g.usage),
                    "list_cost": f(g.list_cost)}

        return {
            "site": self.site,
            "currency": self.currency,
            "identity": "list_total - billed_total = sum(explained) + unexplained",
            "lines": self.lines,
            "source_lines": self.source_lines,
            "list_total": f(self.list_total),
            "billed_total": f(self.billed_total),
            "gap": f(self.gap),
            "explained": {name: f(value) for name, value in self.explained.items()},
            "unexplained": f(self.unexplained),
            "unexplained_lines": [
                {"billing_date": u.billing_date, "model": u.model, "usage_type": u.usage_type,
                 "fee_type": u.fee_type, "list_cost": f(u.list_cost), "billed_cost": f(u.billed_cost),
                 "discount": f(u.discount), "coupon": f(u.coupon), "remainder": f(u.remainder)}
                for u in self.unexplained_lines
            ],
            "catalog": {
                "free_quota_savings": {
                    "valued": f(self.free_quota_savings),
                    "lines": self.free_quota_lines,
                    "unvalued": [group(g) for g in self.free_quota_unvalued.values()],
                },
                "price_changed": {
                    "amount": f(self.price_changed_amount),
                    "lines": sum(c.lines for c in self.price_changes.values()),
                    "changes": [
                        {"model": c.model, "usage_type": c.usage_type, "context_tier": c.context_tier,
                         "bill_price": f(c.bill_price), "catalog_price": f(c.catalog_price),
                         "catalog_source": c.catalog_source, "first_date": c.first_date,
                         "last_date": c.last_date, "lines": c.lines, "usage": f(c.usage),
                         "unit": c.unit, "amount": f(c.amount), "flag": "probable price change"}
                        for c in self.price_changes.values()
                    ],
                },
                "price_not_in_catalog": {
                    "list_cost": f(sum((g.list_cost for g in self.not_in_catalog.values()), ZERO)),
                    "lines": sum(g.lines for g in self.not_in_catalog.values()),
                    "groups": [group(g) for g in self.not_in_catalog.values()],
                },
                "tier_and_cache_pricing": {"amount": f(self.tier_and_cache_pricing),
                                           "lines": self.tier_and_cache_lines},
                "matched": {"lines": self.matched_lines, "list_cost": f(self.matched_list_cost)},
                "list_rounding": f(self.list_rounding),
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def _flag(value: Any) -> bool:
    """A ``batch``/``thinking`` cell as a bool (a CSV or hand-edited table may hold 'true'/'false' text)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _amounts(record: dict[str, Any], index: int) -> dict[str, Decimal]:
    try:
        return {a: to_decimal(record.get(a)) for a in (*AMOUNTS, *OPTIONAL_AMOUNTS)}
    except (TypeError, InvalidOperation) as exc:
        raise InputError(f"line {index}: amounts must be exact decimals ({exc})", field="lines") from None


def reconcile(
    lines: pd.DataFrame, catalog: PriceCatalog, site: str, *, rounding_unit: Decimal = Decimal("0.01")
) -> Reconciliation:
    """Reconcile one month's normalized lines of one site (all in the site's currency).

    ``rounding_unit`` is the step payable amounts are rounded to; a line's remainder of at most half of it per
    source line counts as rounding.
    """
    if site not in SITE_CURRENCY:
        raise InputError(f"site {site!r} is not one of {sorted(SITE_CURRENCY)}", field="site")
    missing = [c for c in NEEDED if c not in lines.columns]
    if missing:
        raise InputError(f"the lines lack column(s) {', '.join(missing)}", field="lines")
    currency = SITE_CURRENCY[site]
    other = sorted({str(c) for c in lines["currency"].unique()} - {currency})
    if other:
        raise InputError(f"site {site} bills in {currency}; the lines also hold {', '.join(other)}: "
                         "reconcile each currency with its own site", field="currency")
    result = Reconciliation(site=site, currency=currency)
    half_unit = rounding_unit / 2
    for index, record in enumerate(lines.to_dict("records")):
        amounts = _amounts(record, index)
        try:
            record["billing_date"] = date.fromisoformat(str(record["billing_date"])).isoformat()
        except ValueError:
            raise InputError(f"line {index}: billing_date {record['billing_date']!r} is not YYYY-MM-DD",
                             field="billing_date") from None
        count = int(record["line_count"])
        result.lines += 1
        result.source_lines += count
        result.list_total += amounts["list_cost"]
        result.billed_total += amounts["billed_cost"]
        _explain(result, record, amounts, count, half_unit)
        _compare(result, record, amounts, count, catalog, site)
    return result


def _explain(result: Reconciliation, record: dict[str, Any], amounts: dict[str, Decimal], count: int,
             half_unit: Decimal) -> None:
    discount, coupon = amounts["discount"], amounts["coupon"]
    result.explained["promotions_and_discounts"] += discount
    result.explained["coupons"] += coupon
    result.explained["prepaid_plans"] += amounts["commitment_deducted"]
    remainder = amounts["list_cost"] - amounts["billed_cost"] - discount - coupon - amounts["commitment_deducted"]
    if remainder == 0:
        return
    if record["fee_type"] == FREE_QUOTA and 0 < remainder <= amounts["list_cost"]:
        result.explained["free_quota"] += remainder
    elif abs(remainder) <= half_unit * max(count, 1):
        result.explained["rounding"] += remainder
    else:
        result.unexplained_lines.append(UnexplainedLine(
            billing_date=str(record["billing_date"]), model=str(record["model"]),
            usage_type=str(record["usage_type"]), fee_type=str(record["fee_type"]),
            list_cost=amounts["list_cost"], billed_cost=amounts["billed_cost"], discount=discount,
            coupon=coupon, remainder=remainder))


def _group(groups: dict[tuple[str, str, str, str], UsageGroup], record: dict[str, Any], count: int,
           usage: Decimal, list_cost: Decimal) -> None:
    key = (str(record["model"]), str(record["usage_type"]), str(record["context_tier"]),
           str(record["usage_unit"]))
    group = groups.get(key)
    if group is None:
        group = groups[key] = UsageGroup(*key)
    group.lines += count
    group.usage += usage
    group.list_cost += list_cost


def _compare(result: Reconciliation, record: dict[str, Any], amounts: dict[str, Decimal], count: int,
             catalog: PriceCatalog, site: str) -> None:
    day_text = str(record["billing_date"])
    day = date.fromisoformat(day_text)
    model, usage_type, io_type = str(record["model"]), str(record["usage_type"]), str(record["io_type"])
    tier = str(record["context_tier"])
    batch, thinking = _flag(record["batch"]), _flag(record["thinking"])
    if record["fee_type"] == FREE_QUOTA:
        result.free_quota_lines += count
        deducted = amounts["deducted_usage"] or amounts["usage_before_deduction"]
        price = free_quota_price(catalog, site, model, usage_type, io_type, tier, str(record["usage_unit"]),
                                 record["list_unit_price"], day, batch=batch, thinking=thinking)
        if price is not None:
            result.free_quota_savings += price * deducted
        else:
            _group(result.free_quota_unvalued, record, count, deducted, ZERO)
        return
    entry = lookup_line_price(catalog, site, model, usage_type, io_type, tier, str(record["usage_unit"]), day,
                              batch=batch, thinking=thinking)
    bill_price = list_price(record["list_unit_price"], source="lines")
    usage, list_cost = amounts["usage"], amounts["list_cost"]
    if bill_price is not None:
        result.list_rounding += list_cost - bill_price * usage
    if entry is None:
        _group(result.not_in_catalog, record, count, usage, list_cost)
        return
    if bill_price is not None and bill_price != entry.price:
        key = (model, usage_type, tier, bill_price, entry.price)
        change = result.price_changes.get(key)
        if change is None:
            change = result.price_changes[key] = PriceChange(
                model, usage_type, tier, bill_price, entry.price, entry.source, day_text, day_text,
                unit=entry.unit)
        change.first_date = min(change.first_date, day_text)
        change.last_date = max(change.last_date, day_text)
        change.lines += count
        change.usage += usage
        change.amount += (bill_price - entry.price) * usage
    else:
        result.matched_lines += count
        result.matched_list_cost += list_cost
    base = _base_price(catalog, site, model, entry, day)
    if base is not None and base.price != entry.price:
        result.tier_and_cache_pricing += (entry.price - base.price) * usage
        result.tier_and_cache_lines += count


def _base_price(
    catalog: PriceCatalog, site: str, model: str, entry: PriceEntry, day: date
) -> PriceEntry | None:
    """The price the line would have had without its tier, cache or batch price: plain input or output, first
    tier."""
    if entry.usage_type in DERIVATIONS:  # a cache or batch price: a share of plain input or output
        return catalog.price(model, site, DERIVATIONS[entry.usage_type].base, day, None)
    if entry.context_tier:
        return catalog.price(model, site, entry.usage_type, day, None)
    return None


__all__ = ["PriceChange", "Reconciliation", "UsageGroup", "catalog_usage_types", "free_quota_price",
           "lookup_line_price", "reconcile"]
