"""Hand-made allocation rows for the alert tests, published with ``tests.support.warehouse``.

``row`` is one day's cost of one subject, ``series`` a row per day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chargeback.columns import LINE_AMOUNTS
from tests.support.allocations import ROW_DEFAULTS

DEFAULTS: dict[str, Any] = dict(ROW_DEFAULTS)  # the statements' hand-made rows


def row(day: date | str, cost: str | Decimal | int, **fields: Any) -> dict[str, Any]:
    """One allocation row for ``day`` costing ``cost``; other fields default to DEFAULTS."""
    billing_date = day if isinstance(day, str) else day.isoformat()
    values = dict(DEFAULTS)
    values.update(billing_date=billing_date, billing_month=billing_date[:7], billed_cost=Decimal(str(cost)),
                  list_cost=Decimal(str(cost)), usage=Decimal(0), usage_before_deduction=Decimal(0),
                  deducted_usage=Decimal(0), discount=Decimal(0), coupon=Decimal(0))
    for key, value in fields.items():
        values[key] = Decimal(str(value)) if key in LINE_AMOUNTS else value
    return values


def series(start: date, costs: Iterable[str | int | Decimal], **fields: Any) -> list[dict[str, Any]]:
    """One row per day from ``start``; a cost of None skips the day."""
    rows = []
    for i, cost in enumerate(costs):
        if cost is not None:
            rows.append(row(start + timedelta(days=i), cost, **fields))
    return rows
