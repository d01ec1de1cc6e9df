"""The statement of one cost center for one month, as plain values: what the templates receive.

``build_statement`` is pure: allocation tables, the manifest, the mapping and the last ledger entry in, a
frozen ``StatementView`` out. Money stays ``Decimal`` and exact; one section per currency, never mixed.
Every amount in a section comes from the cost center's allocation rows in that currency, so each breakdown
adds up to the section's total to the last decimal the bill carries.

The change against the previous month is split into three effects that add up exactly to the change:

- volume: how much more or less was used, valued at last month's average price per usage unit;
- model mix: the shift between cheaper and dearer models and token types at last month's prices
  (a model new this month is valued at its own price);
- price: what the same usage cost more or less than last month (list prices, discounts, free quota).

Volume and mix are rounded to the bill's finest decimal; the price effect is the exact remainder.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import pandas as pd

from chargeback.bills.normalize import list_price
from chargeback.columns import (
    ALLOCATION_AMOUNTS,
    ALLOCATION_COLUMNS,
    COST_CENTER_PATH,
    REPORTING_BILLED_COST,
    REPORTING_CURRENCY,
)
from chargeback.config.cost_centers import FixedShares
from chargeback.config.file import ConfigFile as TeamMapping
from chargeback.display import percent_of
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import ZERO, format_decimal, quantum_of, to_decimal
from chargeback.months import days_of, previous_month
from chargeback.reporting import i18n
from chargeback.reporting.ledger import LedgerEntry
from chargeback.units import THOUSAND, tokens_per_unit
from chargeback.warehouse.manifest import Manifest

# Rules of lines a cost center pays directly; any other rule (e.g. 'console:proportional') is a shared pool.
DIRECT_RULES = frozenset({"api_key", "workspace", "unallocated", ""})
IO_TYPE_ORDER = ("input", "cached_input", "output", "unit", "other")
UNIT_COST_STEP = Decimal("0.00000001")
_AMOUNTS = frozenset(ALLOCATION_AMOUNTS)
# What a statement's content hash covers: every allocation column but those added later that change nothing a
# cost center owes: the payer's account (schema 2 added it beside the owner's), the cost center's path in the
# hierarchy and the reporting currency's amounts (hashing them would send every statement already sent again,
# as a correction).
HASHED_COLUMNS: tuple[str, ...] = tuple(
    c for c in ALLOCATION_COLUMNS
    if c not in ("payer_account_id", COST_CENTER_PATH, REPORTING_CURRENCY, REPORTING_BILLED_COST))


# ---------------------------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: what (``key``, shown as ``label``), how much, and its share of the total."""

    key: str
    label: str
    amount: Decimal
    percent: Decimal | None


@dataclass(frozen=True)
class ChangeExplained:
    """This month against the previous one; ``volume + mix + price == change`` exactly."""

    previous_month: str
    previous_period: str
    previous_total: Decimal
    change: Decimal
    percent: Decimal | None
    volume: Decimal
    mix: Decimal
    price: Decimal


@dataclass(frozen=True)
class DayCost:
    day: str  # YYYY-MM-DD
    amount: Decimal


@dataclass(frozen=True)
class FreeQuotaLine:
    model: str
    usage_type: str
    usage_unit: str
    used: Decimal  # usage before the free quota was deducted
    deducted: Decimal  # usage the free quota covered
    list_price: Decimal | None  # per usage unit, from the month's paid rows of the same model and usage type
    saved: Decimal | None  # deducted x list price; None when no single list price is known


@dataclass(frozen=True)
class SharedCostLine:
    rule: str  # the allocation_rule, e.g. 'console:proportional'
    description: str
    amount: Decimal
    rows: int


@dataclass(frozen=True)
class UnitCostLine:
    model: str
    tokens_k: Decimal  # thousands of tokens used, free quota included
    amount: Decimal  # payable for those tokens
    per_1k: Decimal | None  # amount / tokens_k, to 8 decimals; None without tokens


@dataclass(frozen=True)
class CurrencySection:
    """Everything about the cost center's costs in one currency."""

    currency: str
    total: Decimal
    list_cost: Decimal
    discount: Decimal
    coupon: Decimal
    rows: int
    unexplained: Decimal  # list cost - discounts - coupons - billed: 0 when the bill reconciles
    change: ChangeExplained | None  # None when the previous month was never published
    by_model: tuple[Line, ...]
    by_io_type: tuple[Line, ...]
    by_api_key: tuple[Line, ...]  # top N, then one 'others' line
    by_call_source: tuple[Line, ...]
    by_workspace: tuple[Line, ...]
    days: tuple[DayCost, ...]  # every day of the month, zero where nothing was billed
    free_quota: tuple[FreeQuotaLine, ...]
    free_quota_saved: Decimal  # the sum of the known savings
    free_quota_unpriced: int  # free-quota lines whose saving is unknown
    shared: tuple[SharedCostLine, ...]
    unit_costs: tuple[UnitCostLine, ...]
    chart_id: str  # content id of the chart image

    @property
    def billed_days(self) -> tuple[DayCost, ...]:
        return tuple(d for d in self.days if d.amount != 0)

    @property
    def shared_total(self) -> Decimal:
        return sum((s.amount for s in self.shared), ZERO)


@dataclass(frozen=True)
class TotalChange:
    label: str
    old: Decimal
    new: Decimal

    @property
    def difference(self) -> Decimal:
        return self.new - self.old


@dataclass(frozen=True)
class Restatement:
    """Why a corrected statement is sent: what the previous version said and what changed."""

    previous_version: int
    previous_sent_at: str
    previous_status: str
    totals: tuple[TotalChange, ...]
    models: tuple[TotalChange, ...]  # only the models whose amount changed


@dataclass(frozen=True)
class StatementView:
    """One statement, ready to render."""

    month: str
    period: str  # 'May 2026' / '2026年5月'
    previous_period: str
    cost_center: str
    name: str
    owners: tuple[str, ...]
    locale: str
    status: str  # provisional | final
    version: int
    content_hash: str
    mapping_version: str
    rows: int
    top_n: int
    sections: tuple[CurrencySection, ...]
    restatement: Restatement | None

    @property
    def totals(self) -> dict[str, Decimal]:
        return {s.currency: s.total for s in self.sections}


# ---------------------------------------------------------------------------------------------- rows


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def cost_center_rows(frame: pd.DataFrame | None, cost_center: str) -> list[dict[str, Any]]:
    """The cost center's allocation rows as dicts: strings for dimensions, Decimal for amounts.

    InputError when the table lacks a column of ``ALLOCATION_COLUMNS``.
    """
    if frame is None or frame.empty:
        return []
    missing = [c for c in ALLOCATION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"the allocation table lacks the columns {missing}", source="allocations")
    selected = frame[frame["cost_center"] == cost_center]
    rows = []
    for record in selected.to_dict("records"):
        row: dict[str, Any] = {}
        for column in ALLOCATION_COLUMNS:
            value = record[column]
            if column in _AMOUNTS:
                row[column] = to_decimal(None if _text(value) == "" else value)
            elif column == "share":
                row[column] = float(value) if _text(value) != "" else 0.0
            elif column == "line_count":
                row[column] = int(value) if _text(value) != "" else 0
            else:
                row[column] = _text(value)
        rows.append(row)
    rows.sort(key=_row_order)
    return rows


def _row_order(row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(format_decimal(row[c]) if c in _AMOUNTS else str(row[c]) for c in ALLOCATION_COLUMNS)


def allocation_hash(rows: Iterable[Mapping[str, Any]]) -> str:
    """A content hash of allocation rows, independent of their order and of how decimals are padded."""
    digest = hashlib.sha256()
    canonical = sorted(
        json.dumps([format_decimal(r[c]) if c in _AMOUNTS else repr(r[c]) if c == "share" else str(r[c])
                    for c in HASHED_COLUMNS], ensure_ascii=False)
        for r in rows
    )
    for line in canonical:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- building


def build_statement(
    allocations_month: pd.DataFrame | None,
    allocations_prev_month: pd.DataFrame | None,
    manifest: Manifest,
    mapping: TeamMapping,
    cost_center: str,
    *,
    top_n: int = 5,
    locale: str = "en",
    ledger_entry: LedgerEntry | None = None,
) -> StatementView:
    """The statement of ``cost_center`` for the manifest's month.

    ``allocations_prev_month`` is None when the previous month was never published (no comparison then).
    ``ledger_entry`` is what was last sent for this cost center and month: when its content hash differs from
    the rows now, the statement is the next version and explains what changed.
    """
    month = manifest.month
    rows = cost_center_rows(allocations_month, cost_center)
    previous = None
    if allocations_prev_month is not None:
        previous = cost_center_rows(allocations_prev_month, cost_center)
    words = i18n.strings(locale)
    content_hash = allocation_hash(rows)
    center = mapping.cost_centers.get(cost_center)
    prices = list_prices(allocations_month)
    sections = []
    with localcontext() as ctx:
        ctx.prec = 60  # sums and products of 12-decimal amounts stay exact
        for currency in sorted({r["currency"] for r in rows}):
            current = [r for r in rows if r["currency"] == currency]
            earlier = None if previous is None else [r for r in previous if r["currency"] == currency]
            sections.append(_section(currency, current, earlier, month, mapping, cost_center, top_n, locale,
                                     prices))
    version = 1
    restatement = None
    if ledger_entry is not None:
        if ledger_entry.content_hash == content_hash:
            version = ledger_entry.version
        else:
            version = ledger_entry.version + 1
            restatement = _restatement(ledger_entry, sections, words)
    return StatementView(
        month=month,
        period=i18n.period_label(month, locale),
        previous_period=i18n.period_label(previous_month(month), locale),
        cost_center=cost_center,
        name=mapping.cost_center_name(cost_center),
        owners=tuple(center.owners) if center else (),
        locale="zh" if locale == "zh" else "en",
        status="final" if manifest.is_final else "provisional",
        version=version,
        content_hash=content_hash,
        mapping_version=manifest.mapping_version or mapping.version,
        rows=len(rows),
        top_n=top_n,
        sections=tuple(sections),
        restatement=restatement,
    )


def _sum(rows: Iterable[Mapping[str, Any]], column: str = "billed_cost") -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return sum((r[column] for r in rows), ZERO)


def _grouped(rows: Iterable[Mapping[str, Any]],
             key: Callable[[Mapping[str, Any]], str]) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    with localcontext() as ctx:
        ctx.prec = 60
        for row in rows:
            amounts[key(row)] += row["billed_cost"]
    return dict(amounts)


def _lines(amounts: Mapping[str, Decimal], total: Decimal, label: Callable[[str], str],
           order: Callable[[tuple[str, Decimal]], Any] | None = None) -> tuple[Line, ...]:
    items = sorted(amounts.items(), key=order or (lambda kv: (-kv[1], kv[0])))
    return tuple(Line(k, label(k), v, percent_of(v, total)) for k, v in items)


def _section(currency: str, rows: list[dict[str, Any]], previous: list[dict[str, Any]] | None, month: str,
             mapping: TeamMapping, cost_center: str, top_n: int, locale: str,
             prices: Mapping[PriceKey, frozenset[Decimal]]) -> CurrencySection:
    words = i18n.strings(locale)
    total = _sum(rows)

    by_key = _lines(_grouped(rows, lambda r: r["api_key_id"]), total,
                    lambda k: k or words["console_key"])
    if len(by_key) > top_n:
        rest = by_key[top_n:]
        rest_amount = sum((line.amount for line in rest), ZERO)
        label = words["others"].format(count=len(rest))
        others = Line("", label, rest_amount, percent_of(rest_amount, total))
        by_key = (*by_key[:top_n], others)

    def io_order(item: tuple[str, Decimal]) -> tuple[int, str]:
        key = item[0]
        return (IO_TYPE_ORDER.index(key) if key in IO_TYPE_ORDER else len(IO_TYPE_ORDER), key)

    return CurrencySection(
        currency=currency,
        total=total,
        list_cost=_sum(rows, "list_cost"),
        discount=_sum(rows, "discount"),
        coupon=_sum(rows, "coupon"),
        rows=len(rows),
        unexplained=_sum(rows, "list_cost") - _sum(rows, "discount") - _sum(rows, "coupon") - total,
        change=None if previous is None else explain_change(rows, previous, month, locale),
        by_model=_lines(_grouped(rows, lambda r: r["model"]), total, lambda k: k or words["none"]),
        by_io_type=_lines(_grouped(rows, lambda r: r["io_type"]), total,
                          lambda k: i18n.io_type_label(k, locale), io_order),
        by_api_key=by_key,
        by_call_source=_lines(_grouped(rows, lambda r: r["call_source"]), total,
                              lambda k: i18n.call_source_label(k, locale)),
        by_workspace=_lines(_grouped(rows, lambda r: r["workspace_id"]), total,
                            lambda k: mapping.workspace_labels.get(k, k) or words["none"]),
        days=_days(rows, month),
        **_free_quota(rows, prices),
        shared=_shared(rows, mapping, cost_center, locale),
        unit_costs=_unit_costs(rows),
        chart_id=f"cost-by-day-{currency.lower() or 'none'}@chargeback",
    )


def _days(rows: list[dict[str, Any]], month: str) -> tuple[DayCost, ...]:
    amounts = {day.isoformat(): ZERO for day in days_of(month)}
    for day, amount in _grouped(rows, lambda r: r["billing_date"]).items():
        amounts[day] = amounts.get(day, ZERO) + amount  # a date outside the month is kept, never dropped
    return tuple(DayCost(day, amount) for day, amount in sorted(amounts.items()))


PriceKey = tuple[str, str, str, str]  # currency, model, usage type, usage unit


def list_prices(frame: pd.DataFrame | None) -> dict[PriceKey, frozenset[Decimal]]:
    """The list prices that paid rows of the whole month (every cost center) carry, per priced item.

    A price belongs to the model and usage type, not to who paid: a cost center that used only free quota
    still learns what that usage would have cost from the others' paid rows.
    """
    if frame is None or frame.empty:
        return {}
    columns = ["currency", "model", "usage_type", "usage_unit", "list_unit_price"]
    paid = frame.loc[frame["fee_type"] != FREE_QUOTA, columns].drop_duplicates()
    found: dict[PriceKey, set[Decimal]] = defaultdict(set)
    for currency, model, usage_type, unit, text in paid.itertuples(index=False):
        price = list_price(_text(text), source="allocations")
        if price:
            found[(_text(currency), _text(model), _text(usage_type), _text(unit))].add(price)
    return {key: frozenset(values) for key, values in found.items()}


def _free_quota(rows: list[dict[str, Any]], prices: Mapping[PriceKey, frozenset[Decimal]]) -> dict[str, Any]:
    used: dict[tuple[str, str, str], list[Decimal]] = {}
    currency = rows[0]["currency"] if rows else ""
    for row in rows:
        if row["fee_type"] == FREE_QUOTA:
            key = (row["model"], row["usage_type"], row["usage_unit"])
            totals = used.setdefault(key, [ZERO, ZERO])
            totals[0] += row["usage_before_deduction"]
            totals[1] += row["deducted_usage"]
    lines = []
    for key in sorted(used):
        model, usage_type, unit = key
        before, deducted = used[key]
        found = prices.get((currency, *key), frozenset())
        price = next(iter(found)) if len(found) == 1 else None  # tiers or nobody paid for it: unknown
        lines.append(FreeQuotaLine(model, usage_type, unit, before, deducted, price,
                                   None if price is None else deducted * price))
    return {
        "free_quota": tuple(lines),
        "free_quota_saved": sum((ln.saved for ln in lines if ln.saved is not None), ZERO),
        "free_quota_unpriced": sum(1 for ln in lines if ln.saved is None),
    }


def _shared(rows: list[dict[str, Any]], mapping: TeamMapping, cost_center: str,
            locale: str) -> tuple[SharedCostLine, ...]:
    amounts = _grouped((r for r in rows if r["allocation_rule"] not in DIRECT_RULES),
                       lambda r: r["allocation_rule"])
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["allocation_rule"]] += 1
    lines = []
    for rule in sorted(amounts):
        pool = rule.partition(":")[0]
        fixed = getattr(mapping.shared_costs, pool, None) if pool in ("console", "unmapped") else None
        percent = None
        if isinstance(fixed, FixedShares) and cost_center in fixed.fixed:
            percent = format_decimal(fixed.fixed[cost_center])
        lines.append(SharedCostLine(rule, i18n.sharing_rule_label(rule, locale, percent), amounts[rule],
                                    counts[rule]))
    return tuple(lines)


def _unit_costs(rows: list[dict[str, Any]]) -> tuple[UnitCostLine, ...]:
    tokens: dict[str, Decimal] = defaultdict(lambda: ZERO)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        per_unit = tokens_per_unit(row["usage_unit"])
        if per_unit is None:
            continue
        tokens[row["model"]] += (row["usage"] + row["deducted_usage"]) * per_unit / THOUSAND
        amounts[row["model"]] += row["billed_cost"]
    lines = []
    for model in sorted(tokens):
        per_1k = None
        if tokens[model] != 0:
            per_1k = (amounts[model] / tokens[model]).quantize(UNIT_COST_STEP, rounding=ROUND_HALF_EVEN)
        lines.append(UnitCostLine(model, tokens[model], amounts[model], per_1k))
    return tuple(lines)


# ---------------------------------------------------------------------------------------------- change


def explain_change(current: list[dict[str, Any]], previous: list[dict[str, Any]], month: str,
                   locale: str = "en") -> ChangeExplained:
    """The change from ``previous`` to ``current`` rows (one currency) as volume, mix and price effects."""
    quantum = min(quantum_of([r["billed_cost"] for r in (*current, *previous)]), Decimal("0.01"))

    def item(row: Mapping[str, Any]) -> tuple[str, str, str]:
        return (row["model"], row["usage_type"], row["usage_unit"])

    q0: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    c0: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    q1: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    c1: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    with localcontext() as ctx:
        ctx.prec = 60
        for row in previous:
            q0[item(row)] += row["usage"]
            c0[item(row)] += row["billed_cost"]
        for row in current:
            q1[item(row)] += row["usage"]
            c1[item(row)] += row["billed_cost"]
        # Current usage valued at last month's price per item.
        at_old_prices: dict[tuple[str, str, str], Decimal] = {}
        for key in set(q0) | set(q1):
            if q0[key] != 0:
                at_old_prices[key] = (c0[key] * q1[key] / q0[key]).quantize(quantum, rounding=ROUND_HALF_EVEN)
            elif q1[key] != 0:
                at_old_prices[key] = c1[key]  # new this month: its own price, so no price effect
            else:
                at_old_prices[key] = c0[key]  # no usage either month: any change is price
        volume = mix = ZERO
        for unit in sorted({k[2] for k in at_old_prices}):
            keys = [k for k in at_old_prices if k[2] == unit]
            used_before = sum((q0[k] for k in keys), ZERO)
            used_now = sum((q1[k] for k in keys), ZERO)
            cost_before = sum((c0[k] for k in keys), ZERO)
            valued_now = sum((at_old_prices[k] for k in keys), ZERO)
            if used_before != 0:
                unit_volume = (cost_before * used_now / used_before - cost_before).quantize(
                    quantum, rounding=ROUND_HALF_EVEN)
            else:
                unit_volume = valued_now - cost_before  # a unit not used last month: all of it is volume
            volume += unit_volume
            mix += valued_now - cost_before - unit_volume
        total_before = _sum(previous)
        total_now = _sum(current)
        price = total_now - sum(at_old_prices.values(), ZERO)
    previous_month_ = previous_month(month)
    return ChangeExplained(
        previous_month=previous_month_,
        previous_period=i18n.period_label(previous_month_, locale),
        previous_total=total_before,
        change=total_now - total_before,
        percent=percent_of(total_now - total_before, total_before),
        volume=volume,
        mix=mix,
        price=price,
    )


# ---------------------------------------------------------------------------------------------- restatement


def model_totals(view: StatementView) -> dict[str, dict[str, str]]:
    """currency -> model -> exact amount text, as the ledger keeps them."""
    return {s.currency: {line.key: format_decimal(line.amount) for line in s.by_model} for s in view.sections}


def _restatement(entry: LedgerEntry, sections: list[CurrencySection],
                 words: Mapping[str, str]) -> Restatement:
    new_totals = {s.currency: s.total for s in sections}
    old_totals = {c: Decimal(v) for c, v in entry.totals.items()}
    totals = tuple(
        TotalChange(words["restated_total"].format(currency=c), old_totals.get(c, ZERO),
                    new_totals.get(c, ZERO))
        for c in sorted(set(old_totals) | set(new_totals))
    )
    new_models = {s.currency: {line.key: line.amount for line in s.by_model} for s in sections}
    models = []
    for currency in sorted(set(entry.by_model) | set(new_models)):
        before = {m: Decimal(v) for m, v in entry.by_model.get(currency, {}).items()}
        after = new_models.get(currency, {})
        for model in sorted(set(before) | set(after)):
            old, new = before.get(model, ZERO), after.get(model, ZERO)
            if old != new:
                label = words["restated_model"].format(model=model or words["none"], currency=currency)
                models.append(TotalChange(label, old, new))
    return Restatement(entry.version, entry.sent_at, entry.status, totals, tuple(models))
