"""Small, exact formatting of money, percentages and units for alert messages (never through float)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from chargeback.money import format_decimal

CENT = Decimal("0.01")


def money(value: Decimal, currency: str = "") -> str:
    """'CNY 412.50'; amounts under 1 keep up to four decimals so pennies do not read as zero."""
    if value != 0 and abs(value) < 1:
        shown = f"{value.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP):f}"
        while shown[-1] == "0" and len(shown.split(".")[1]) > 2:
            shown = shown[:-1]
    else:
        shown = f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,}"
    return f"{currency} {shown}".strip()


def percent(value: Decimal) -> str:
    """'82.5%' (one decimal, trailing zeros dropped)."""
    return f"{format_decimal(value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP))}%"


def number(value: Decimal) -> str:
    return format_decimal(value)
