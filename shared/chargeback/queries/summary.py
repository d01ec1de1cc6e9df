"""The month's cost summary (``costs/billing_month=YYYY-MM/costs.parquet``): allocation rows summed over the
month's days, with tokens counted and free-quota usage valued at list price.

``chargeback costs`` and the dashboard read it: a month of a million allocation rows (one per day, instance,
fee type and cost center) sums to one row per instance, fee type and cost center here, so a year answers in
well under a second, where scanning the allocations' exact decimals takes seconds. Its amounts add up exactly
to the allocations' (the run that publishes it checks the billed cost per currency), and the same functions
sum the allocations themselves when a question needs the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, localcontext

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.columns import COST_AMOUNTS, COST_COLUMNS, COST_COUNTS, COST_DIMENSIONS
from chargeback.config.prices import CURRENCY_SITE
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import MONEY_SCALE, MONEY_TYPE, ZERO
from chargeback.pricing.catalog import PriceCatalog
from chargeback.pricing.reconcile import free_quota_price
from chargeback.vectors import token_counts

COSTS_SCHEMA = pa.schema(
    [pa.field(c, pa.string()) for c in COST_DIMENSIONS]
    + [pa.field(a, MONEY_TYPE) for a in COST_AMOUNTS]
    + [pa.field(c, pa.int64()) for c in COST_COUNTS]
)

# The allocation columns a free-quota line is valued by.
PRICING_COLUMNS: tuple[str, ...] = ("currency", "model", "usage_type", "io_type", "context_tier", "usage_unit",
                                    "list_unit_price", "billing_date")
NEEDED_COLUMNS: tuple[str, ...] = (*PRICING_COLUMNS, "fee_type", "usage", "usage_before_deduction",
                                   "deducted_usage", "list_cost", "discount", "coupon", "billed_cost", "line_count")
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_WIDE = pa.decimal256(40, MONEY_SCALE)


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def with_cost_amounts(rows: pa.Table, catalog: PriceCatalog) -> pa.Table:
    """``rows`` (allocation columns, at least ``NEEDED_COLUMNS``) with ``tokens``, ``free_quota_covered`` and
    ``free_quota_unvalued_lines`` added.

    Tokens are those used, free quota included (usage plus deducted usage, in whole tokens). Free-quota lines
    are valued at :func:`chargeback.pricing.reconcile.free_quota_price` times their deducted usage (the
    catalog of each line's day, on the site of its currency); a line neither the bill nor the catalog prices
    counts in ``free_quota_unvalued_lines`` instead.
    """
    used = pc.add(pc.cast(rows["usage"], _WIDE), pc.cast(rows["deducted_usage"], _WIDE))
    tokens = token_counts(used, rows["usage_unit"])
    is_free = pc.fill_null(pc.equal(rows["fee_type"], FREE_QUOTA), False)
    free = rows.filter(is_free).select([*PRICING_COLUMNS, "deducted_usage", "usage_before_deduction",
                                        "line_count"]).to_pylist()
    prices: dict[tuple[object, ...], Decimal | None] = {}
    values: list[Decimal] = []
    unvalued: list[int] = []
    with localcontext() as context:
        context.prec = 80
        for line in free:
            key = tuple(line[c] for c in PRICING_COLUMNS)
            if key not in prices:
                site = CURRENCY_SITE.get(str(line["currency"]), "")
                prices[key] = free_quota_price(catalog, site, str(line["model"]), str(line["usage_type"]),
                                               str(line["io_type"]), str(line["context_tier"]),
                                               str(line["usage_unit"]), str(line["list_unit_price"]),
                                               _day(line["billing_date"]))
            price = prices[key]
            deducted = line["deducted_usage"] or line["usage_before_deduction"] or ZERO
            values.append(ZERO if price is None else (price * deducted).quantize(_QUANTUM))
            unvalued.append(int(line["line_count"]) if price is None and deducted else 0)
    zeros_money = pa.array([ZERO] * rows.num_rows, MONEY_TYPE) if rows.num_rows else pa.array([], MONEY_TYPE)
    zeros_count = pa.array([0] * rows.num_rows, pa.int64())
    mask = is_free.combine_chunks() if isinstance(is_free, pa.ChunkedArray) else is_free
    covered = pc.replace_with_mask(zeros_money, mask, pa.array(values, MONEY_TYPE))
    not_valued = pc.replace_with_mask(zeros_count, mask, pa.array(unvalued, pa.int64()))
    return (rows.append_column("tokens", pc.fill_null(tokens, 0))
            .append_column("free_quota_covered", covered)
            .append_column("free_quota_unvalued_lines", not_valued))


def sum_costs(rows: pa.Table, dimensions: Sequence[str]) -> pa.Table:
    """Rows that carry ``COST_AMOUNTS`` and ``COST_COUNTS`` summed per distinct ``dimensions``, exactly."""
    measures = [*COST_AMOUNTS, *COST_COUNTS]
    if not dimensions:
        rows = rows.append_column("_all", pa.array([""] * rows.num_rows, pa.string()))
    keys = list(dimensions) or ["_all"]
    grouped = rows.select([*keys, *measures]).group_by(keys, use_threads=False).aggregate(
        [(m, "sum") for m in measures])
    grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    for name in measures:  # a sum over no rows is null
        index = grouped.column_names.index(name)
        column = grouped.column(name)
        grouped = grouped.set_column(index, name, pc.fill_null(column, pa.scalar(0, column.type)
                                                                if column.type == pa.int64()
                                                                else pa.scalar(ZERO, column.type)))
    return grouped.select([*dimensions, *measures])


def cost_summary(allocations: pa.Table, catalog: PriceCatalog) -> pa.Table:
    """The published summary of one month's allocation rows (``COSTS_SCHEMA``), sorted by its dimensions."""
    summed = sum_costs(with_cost_amounts(allocations, catalog), COST_DIMENSIONS)
    return summed.select(list(COST_COLUMNS)).cast(COSTS_SCHEMA).sort_by(
        [(d, "ascending") for d in COST_DIMENSIONS])


__all__ = ["COSTS_SCHEMA", "NEEDED_COLUMNS", "cost_summary", "sum_costs", "with_cost_amounts"]
