"""Exact money: Decimal parsing, formatting and sum-exact splitting (largest remainder).

Amounts never pass through float. Arrow columns carry ``decimal128(38, MONEY_SCALE)``; Python code uses
``decimal.Decimal``. A split of an amount into shares adds up to the amount to the last unit of the quantum.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext

import pyarrow as pa

MONEY_SCALE = 12
"""Decimal places kept for money and usage; bills carry up to 10 (the billing engine's precision)."""

MONEY_TYPE = pa.decimal128(38, MONEY_SCALE)
ZERO = Decimal(0)


def to_decimal(value: object) -> Decimal:
    """A Decimal from a Decimal, int or string; None and '' are zero."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(str(value))


def format_decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros: Decimal('57.477867000000') -> '57.477867'."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def quantum_of(values: Sequence[Decimal]) -> Decimal:
    """The finest decimal step the values carry: ('0.5', '1.25') -> Decimal('0.01')."""
    finest = 0
    for value in values:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > finest:
            finest = -exponent
    return Decimal(1).scaleb(-finest)


def split_exact(amount: Decimal, weights: Sequence[Decimal], quantum: Decimal) -> list[Decimal]:
    """Split ``amount`` by ``weights`` into parts that are multiples of ``quantum`` and sum to ``amount``.

    Largest-remainder method: each part is first rounded down, then the units left over go to the parts
    with the largest remainders (ties to the earlier part). Zero total weight splits evenly.
    """
    if not weights:
        raise ValueError("split_exact needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    total_weight = sum(weights, ZERO)
    if total_weight == 0:
        weights = [Decimal(1)] * len(weights)
        total_weight = Decimal(len(weights))
    sign = -1 if amount < 0 else 1
    with localcontext() as ctx:
        ctx.prec = 80
        units = (abs(amount) / quantum).to_integral_value()
        if units * quantum != abs(amount):
            raise ValueError(f"amount {amount} is finer than the quantum {quantum}")
        raw = [units * w / total_weight for w in weights]
        floors = [r.to_integral_value(rounding=ROUND_FLOOR) for r in raw]
        left = int(units - sum(floors, ZERO))
        order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
        return [sign * f * quantum for f in floors]
