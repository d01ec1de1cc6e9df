"""The ``prepaid:`` section of the configuration file: what prepaid plans cost, and what statements charge.

    prepaid:
      charge_basis: billed        # billed (default): statements charge the payable; effective: billed plus the
                                  # plans' amortized cost of the usage they covered
      plans:                      # optional: what a plan cost, where the bill's deduction amount is not its cost
        - id: spn-0123abcd        # the plan's instance ID (FOCUS CommitmentDiscountId), optional
          name: 2026 savings plan
          kind: savings_plan      # savings_plan | resource_pack | token_plan
          price_per_list_value: "0.6"    # it cost 0.6 per 1 of the list value it covers (savings plans), or
        - kind: resource_pack
          models: [qwen-plus]     # the lines it covers (default: every line a plan covered)
          price_per_unit: "0.0004"       # it cost this per unit of the usage it covers,
          unit: 千tokens                  # in this unit (the bill's usage unit)
          from: 2026-05-01        # and for these days (inclusive; default: always)

A line the bill's subscription deduction (订阅抵扣信息, legacy 资源包抵扣) covered takes the first plan whose models
and days include it; without one, its plan cost is the deduction's own amount (订阅抵扣金额).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from chargeback.config.fields import Exact, Section
from chargeback.units import usage_unit

PlanKind = Literal["savings_plan", "resource_pack", "token_plan"]


class PlanPrice(Section):
    """What one prepaid plan cost: per unit of list value covered, or per unit of usage covered."""

    id: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)
    kind: PlanKind = "savings_plan"
    models: list[str] = Field(default_factory=list)
    price_per_list_value: Exact | None = None
    price_per_unit: Exact | None = None
    unit: str | None = None
    from_: date | None = Field(default=None, alias="from")
    until: date | None = None

    @model_validator(mode="after")
    def _one_price(self) -> PlanPrice:
        if (self.price_per_list_value is None) == (self.price_per_unit is None):
            raise ValueError("give either price_per_list_value or price_per_unit")
        for price in (self.price_per_list_value, self.price_per_unit):
            if price is not None and (not price.is_finite() or price < 0):
                raise ValueError(f"{price} is not a price (finite and not negative)")
        if self.price_per_unit is not None:
            if not self.unit:
                raise ValueError("price_per_unit needs the unit it is per (the bill's usage unit, e.g. 千tokens)")
            if usage_unit(self.unit) is None:
                raise ValueError(f"unit {self.unit!r} is not a usage unit the bill writes (千tokens, 张, 秒, ...)")
        elif self.unit is not None:
            raise ValueError("unit goes with price_per_unit")
        if self.from_ is not None and self.until is not None and self.until < self.from_:
            raise ValueError(f"until {self.until} is before from {self.from_}")
        return self

    def covers(self, model: str, day: date) -> bool:
        return ((not self.models or model in self.models) and (self.from_ is None or self.from_ <= day)
                and (self.until is None or day <= self.until))


class PrepaidSettings(Section):
    """``prepaid:``: the plans' prices and the basis statements charge on."""

    charge_basis: Literal["billed", "effective"] = "billed"
    plans: list[PlanPrice] = Field(default_factory=list)

    def plan_for(self, model: str, day: date) -> PlanPrice | None:
        """The first configured plan that covers ``model`` on ``day``, or None."""
        return next((p for p in self.plans if p.covers(model, day)), None)

