"""Prepaid plans in the allocations: the list value a plan covered, and the cost of the usage with the plan's.

Savings plans, resource packs and Token Plan credits are bought ahead; the bill then deducts the usage they
cover in its subscription-deduction columns (v2 ``订阅抵扣信息/*``, legacy ``资源包抵扣``; bill-formats.md 3.5),
and the payable of a covered line is what is left. Every allocation row gets:

- ``commitment_covered_cost``: the list value the plan covered, the bill's ``commitment_list_cost``
  (订阅抵扣目录总价), or, where the bill gives only the deducted amount (legacy 资源包抵扣),
  ``commitment_deducted``;
- ``effective_cost``: ``billed_cost`` plus the plan's amortized cost of the row: ``price_per_list_value`` x the
  covered list value, or ``price_per_unit`` x the deducted usage, of the first configured plan
  (``prepaid.plans``) that covers the row's model and day; without one, the deduction's own amount
  (``commitment_deducted``, 订阅抵扣金额). Rounded half-even to the money scale (12 decimals).

[INFERRED] The bill's amounts follow 目录总价 - 订阅抵扣金额 = 订阅抵扣后金额, then discounts and coupons, as
the real bill's 目录总价 - 优惠金额 = 优惠后金额 = 应付 does without a plan; no bill with a deduction was seen.

Amounts split with the rows they belong to (they are line amounts), so split rows carry their share; the
billed cost, and so every total that reconciles to the bill's payable, is unchanged. ``charge_basis``
(``prepaid.charge_basis``) decides whether statements charge the billed or the effective cost.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.config.prepaid import PlanPrice, PrepaidSettings
from chargeback.money import MONEY_SCALE, MONEY_TYPE, money_zeros
from chargeback.units import convert

if TYPE_CHECKING:  # run needs no pandas: statements pass their frames in
    import pandas as pd

PREPAID_COLUMNS: tuple[str, ...] = ("commitment_covered_cost", "effective_cost")
STEP = Decimal(1).scaleb(-MONEY_SCALE)


def plan_of(settings: PrepaidSettings, model: str, day: str, usage_unit: str) -> PlanPrice | None:
    """The configured plan that covered a row: the first whose models and days include it and, for a plan priced
    per unit of usage, whose unit the row's usage converts to; None when no plan is configured for it."""
    plan = settings.plan_for(model, date.fromisoformat(day))
    if plan is not None and plan.unit is not None and convert(Decimal(1), usage_unit, plan.unit) is None:
        return None
    return plan


def amortized(plan: PlanPrice | None, covered: Decimal, deducted: Decimal, deducted_usage: Decimal,
              usage_unit: str) -> Decimal:
    """The plan's cost of a row it covered: by the plan's price, else the bill's deduction amount."""
    if plan is None:
        return deducted
    if plan.price_per_list_value is not None:
        cost = plan.price_per_list_value * covered
    else:
        assert plan.price_per_unit is not None and plan.unit is not None  # the section model checks
        quantity = convert(deducted_usage, usage_unit, plan.unit)
        if quantity is None:  # plan_of never picks a plan the row's unit does not convert to
            return deducted
        cost = plan.price_per_unit * quantity
    return cost.quantize(STEP, rounding=ROUND_HALF_EVEN)


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    if name in table.column_names:
        return table.column(name)
    return money_zeros(table.num_rows)


def add_prepaid_costs(table: pa.Table, settings: PrepaidSettings) -> pa.Table:
    """``table`` (allocation rows) with ``commitment_covered_cost`` and ``effective_cost`` set (see the module)."""
    zero = pa.scalar(Decimal(0), MONEY_TYPE)
    listed, deducted = _column(table, "commitment_list_cost"), _column(table, "commitment_deducted")
    covered = pc.if_else(pc.greater(listed, zero), listed, deducted)
    mask = pc.greater(covered, zero)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    extra = money_zeros(table.num_rows)
    if pc.any(mask).as_py():
        picked = table.filter(mask)
        costs = [
            amortized(plan_of(settings, model, day, unit), c, d, u, unit)
            for model, day, c, d, u, unit in zip(
                picked["model"].to_pylist(), picked["billing_date"].to_pylist(), pc.filter(covered, mask).to_pylist(),
                pc.filter(deducted, mask).to_pylist(), picked["deducted_usage"].to_pylist(),
                picked["usage_unit"].to_pylist(), strict=True)
        ]
        extra = pc.replace_with_mask(extra, mask, pa.array(costs, MONEY_TYPE))
    addend = pa.decimal128(37, MONEY_SCALE)  # one digit less, so the sum fits decimal128(38, 12) again
    effective = pc.cast(pc.add(pc.cast(table.column("billed_cost"), addend), pc.cast(extra, addend)), MONEY_TYPE)
    for name, values in (("commitment_covered_cost", covered), ("effective_cost", effective)):
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, values)
    return table


def charged(allocations: pd.DataFrame, charge_basis: str) -> pd.DataFrame:
    """The rows statements charge: as published for ``billed``; for ``effective``, ``billed_cost`` holds the
    effective cost (a copy; months published before ``effective_cost`` existed are charged billed)."""
    if charge_basis != "effective" or "effective_cost" not in allocations.columns:
        return allocations
    frame = allocations.copy()
    frame["billed_cost"] = frame["effective_cost"]
    return frame


__all__ = ["PREPAID_COLUMNS", "add_prepaid_costs", "amortized", "charged", "plan_of"]
