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
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.columns import COST_AMOUNTS, COST_COLUMNS, COST_COUNTS, COST_DIMENSIONS
from chargeback.config.prices import CURRENCY_SITE
from chargeback.errors import ChargebackError
from chargeback.fee_types import FREE_QUOTA
from chargeback.money import MONEY_SCALE, MONEY_TYPE, ZERO, money_zeros
from chargeback.pricing.catalog import PriceCatalog
from chargeback.pricing.reconcile import free_quota_price
from chargeback.vectors import from_polars, sum_by, token_counts

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
_WIDE = pa.decimal256(40, MONEY_SCALE)
_USAGE_256 = pa.decimal256(38, MONEY_SCALE)  # a usage as the product's factor: with a price of _PRICE_DIGITS,
_PRICE_DIGITS = 37  # the product of the two (38 + 37 + 1 digits) fits Arrow's widest decimal


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
    tokens = token_counts(_used(rows), rows["usage_unit"])
    is_free = pc.fill_null(pc.equal(rows["fee_type"], FREE_QUOTA), False)
    values, unvalued = _free_quota_values(rows.filter(is_free), catalog)
    zeros_money = money_zeros(rows.num_rows)
    zeros_count = pa.repeat(pa.scalar(0, pa.int64()), rows.num_rows)
    mask = is_free.combine_chunks() if isinstance(is_free, pa.ChunkedArray) else is_free
    covered = pc.replace_with_mask(zeros_money, mask, values)
    not_valued = pc.replace_with_mask(zeros_count, mask, unvalued)
    return (rows.append_column("tokens", pc.fill_null(tokens, 0))
            .append_column("free_quota_covered", covered)
            .append_column("free_quota_unvalued_lines", not_valued))


def _used(rows: pa.Table) -> pa.Array | pa.ChunkedArray:
    """Usage plus deducted usage, exact: in decimal128 where the sum fits (nearly always), else 40 digits."""
    try:
        narrow = pa.decimal128(37, MONEY_SCALE)
        return pc.add(pc.cast(rows["usage"], narrow), pc.cast(rows["deducted_usage"], narrow))
    except pa.ArrowInvalid:
        return pc.add(pc.cast(rows["usage"], _WIDE), pc.cast(rows["deducted_usage"], _WIDE))


def _free_quota_values(free: pa.Table, catalog: PriceCatalog) -> tuple[pa.Array, pa.Array]:
    """The value (``MONEY_TYPE``) and the unvalued line count of each free-quota row of ``free``.

    Each distinct pricing key (``PRICING_COLUMNS``) is priced once; a row's value is its price times its
    deducted usage (``deducted_usage``, else ``usage_before_deduction``) rounded half-even to ``MONEY_SCALE``
    places, computed in 76-digit Arrow decimals: exactly what ``Decimal`` gives, without a Python object per
    row (a year of 1M-row months holds a few hundred thousand free-quota rows).
    """
    if not free.num_rows:
        return pa.array([], MONEY_TYPE), pa.array([], pa.int64())
    import polars as pl  # here: Arrow's group_by would load Acero (pyarrow.dataset and pandas with it)

    keys = list(PRICING_COLUMNS)
    frame = pl.from_arrow(free.select(keys))
    assert isinstance(frame, pl.DataFrame)
    groups = frame.with_row_index("_row").group_by(keys, maintain_order=True).agg(pl.col("_row"))
    members = groups["_row"].to_arrow()
    group_of_row = pc.take(pc.list_parent_indices(members), pc.sort_indices(pc.list_flatten(members)))
    prices: list[Decimal | None] = []
    for key in from_polars(groups.select(keys)).to_pylist():
        site = CURRENCY_SITE.get(str(key["currency"]), "")
        prices.append(free_quota_price(catalog, site, str(key["model"]), str(key["usage_type"]),
                                       str(key["io_type"]), str(key["context_tier"]), str(key["usage_unit"]),
                                       str(key["list_unit_price"]), _day(key["billing_date"])))
    valued = pc.take(pa.array([p is not None for p in prices], pa.bool_()), group_of_row)
    price = pc.take(_price_array([p or ZERO for p in prices]), group_of_row)
    deducted_usage = pc.fill_null(free["deducted_usage"], pa.scalar(ZERO, free["deducted_usage"].type))
    deducted = pc.if_else(pc.not_equal(deducted_usage, pa.scalar(ZERO, deducted_usage.type)), deducted_usage,
                          pc.fill_null(free["usage_before_deduction"],
                                       pa.scalar(ZERO, free["usage_before_deduction"].type)))
    product = pc.multiply(price, pc.cast(deducted, _USAGE_256))
    values = pc.cast(pc.round(product, ndigits=MONEY_SCALE, round_mode="half_to_even"), MONEY_TYPE)
    unpriced = pc.and_(pc.invert(valued), pc.not_equal(deducted, pa.scalar(ZERO, deducted.type)))
    unvalued = pc.if_else(unpriced, pc.cast(free["line_count"], pa.int64()), 0)
    return _array(values), _array(unvalued)


def _price_array(prices: list[Decimal]) -> pa.Array:
    """The prices as one exact decimal column narrow enough that a price times a usage fits 76 digits."""
    scale = max([0, *(-int(p.as_tuple().exponent) for p in prices)])
    try:
        return pa.array(prices, pa.decimal256(_PRICE_DIGITS, scale))
    except (pa.ArrowInvalid, ValueError):
        raise ChargebackError(f"a free-quota price has more than {_PRICE_DIGITS} digits: it cannot be valued "
                              "exactly") from None


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def sum_costs(rows: pa.Table, dimensions: Sequence[str]) -> pa.Table:
    """Rows that carry ``COST_AMOUNTS`` and ``COST_COUNTS`` summed per distinct ``dimensions``, exactly."""
    measures = [*COST_AMOUNTS, *COST_COUNTS]
    if not dimensions:
        rows = rows.append_column("_all", pa.array([""] * rows.num_rows, pa.string()))
    keys = list(dimensions) or ["_all"]
    grouped = sum_by(rows, keys, measures)  # polars sums a group of nulls to 0, as a bill does
    return grouped.select([*dimensions, *measures])


def cost_summary(allocations: pa.Table, catalog: PriceCatalog) -> pa.Table:
    """The published summary of one month's allocation rows (``COSTS_SCHEMA``), sorted by its dimensions."""
    summed = sum_costs(with_cost_amounts(allocations, catalog), COST_DIMENSIONS)
    return summed.select(list(COST_COLUMNS)).cast(COSTS_SCHEMA).sort_by(
        [(d, "ascending") for d in COST_DIMENSIONS])


__all__ = ["COSTS_SCHEMA", "NEEDED_COLUMNS", "cost_summary", "sum_costs", "with_cost_amounts"]
