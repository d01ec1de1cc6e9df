"""How numbers look in statements: exact money with the bill's decimals, optional thousands grouping.

Money is never rounded for display: ``Decimal('1234.5678901')`` shows as ``1,234.5678901``. Amounts get at
least two decimals (``12.5`` -> ``12.50``), so columns of money read as money. Percentages are the only
rounded figures (to 0.1), and they are labelled as shares, never added up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from chargeback.money import format_decimal

PERCENT_STEP = Decimal("0.1")


def _group(integer_part: str) -> str:
    digits = integer_part
    groups = []
    while len(digits) > 3:
        groups.append(digits[-3:])
        digits = digits[:-3]
    groups.append(digits)
    return ",".join(reversed(groups))


def format_number(value: Decimal, *, grouping: bool = True, min_decimals: int = 0) -> str:
    """``value`` exactly, without trailing zeros beyond ``min_decimals``, grouped by thousands if asked."""
    text = format_decimal(value)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    integer, _, fraction = text.partition(".")
    if len(fraction) < min_decimals:
        fraction = fraction + "0" * (min_decimals - len(fraction))
    if grouping:
        integer = _group(integer)
    return sign + integer + ("." + fraction if fraction else "")


def format_money(value: Decimal, *, grouping: bool = True) -> str:
    """An amount, exact, with at least two decimals: ``-1234.5`` -> ``-1,234.50``."""
    return format_number(value, grouping=grouping, min_decimals=2)


def format_signed_money(value: Decimal, *, grouping: bool = True) -> str:
    """A change: ``+12.50``, ``-3.00``, ``0.00``."""
    text = format_money(value, grouping=grouping)
    return "+" + text if value > 0 else text


def percent_of(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to 0.1; None when ``whole`` is zero."""
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(PERCENT_STEP, rounding=ROUND_HALF_EVEN)


def format_percent(value: Decimal | None, *, signed: bool = False) -> str:
    """``45.0%``; ``+3.5%`` when signed; an en dash when there is no percentage."""
    if value is None:
        return "–"
    text = f"{value:.1f}%"
    return "+" + text if signed and value > 0 else text
