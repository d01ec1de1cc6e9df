"""Exact sums over allocation rows (dicts with Decimal amounts), the one place the statement views add up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, localcontext
from typing import Any

from chargeback.money import ZERO

Row = Mapping[str, Any]


def total(rows: Iterable[Row], column: str = "billed_cost") -> Decimal:
    """``column`` summed exactly (60 digits of precision: sums of 12-decimal amounts never round)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return sum((r[column] for r in rows), ZERO)


def grouped(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, Decimal]:
    """``billed_cost`` summed exactly per ``key(row)``."""
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    with localcontext() as ctx:
        ctx.prec = 60
        for row in rows:
            amounts[key(row)] += row["billed_cost"]
    return dict(amounts)


def grouped_by(rows: Iterable[Row], *columns: str) -> dict[tuple[str, ...], Decimal]:
    """``billed_cost`` summed exactly per combination of ``columns``."""
    amounts: dict[tuple[str, ...], Decimal] = defaultdict(lambda: ZERO)
    with localcontext() as ctx:
        ctx.prec = 60
        for row in rows:
            amounts[tuple(str(row[c]) for c in columns)] += row["billed_cost"]
    return dict(amounts)
