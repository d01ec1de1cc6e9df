"""How numbers look to people: the one display module of statements and alerts.

Statements show money exactly, never rounded: ``Decimal('1234.5678901')`` shows as ``1,234.5678901``, with at
least two decimals (``12.5`` -> ``12.50``) so columns of money read as money, and thousands grouping unless a
statement turns it off. Percentages are the only rounded figures of a statement (to 0.1, half even), and they
are labelled as shares, never added up.

Alerts are one line each and show money rounded to the cent (half up), or to four decimals under 1 so pennies
do not read as zero: ``rounded_money``, ``rounded_percent``. Files and JSON never go through here: they carry
exact plain text (``chargeback.money.format_decimal``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

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


# ---------------------------------------------------------------------------------------------------------
# alerts

CENT = Decimal("0.01")
SMALL_STEP = Decimal("0.0001")


def rounded_money(value: Decimal, currency: str = "") -> str:
    """'CNY 412.50'; amounts under 1 keep up to four decimals so pennies do not read as zero."""
    if value != 0 and abs(value) < 1:
        shown = f"{value.quantize(SMALL_STEP, rounding=ROUND_HALF_UP):f}"
        while shown[-1] == "0" and len(shown.split(".")[1]) > 2:
            shown = shown[:-1]
    else:
        shown = f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,}"
    return f"{currency} {shown}".strip()


def rounded_percent(value: Decimal) -> str:
    """'82.5%' (one decimal, half up, trailing zeros dropped)."""
    return f"{format_decimal(value.quantize(PERCENT_STEP, rounding=ROUND_HALF_UP))}%"


def figure(value: Decimal, currency: str = "") -> str:
    """An alert's number: rounded money when it has a currency, else the number exactly ('36.1', '80')."""
    return rounded_money(value, currency) if currency else format_number(value, grouping=False)


__all__ = ["figure", "format_money", "format_number", "format_percent", "format_signed_money", "percent_of",
           "rounded_money", "rounded_percent"]
