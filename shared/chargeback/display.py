"""How numbers look to people: the one money-display policy of statements, alerts and the terminal.

- An amount is rounded (half up) to its currency's minor unit, with thousands separators:
  ``Decimal('8121.5989899')`` -> ``8,121.60``. An amount that is not zero but smaller than one minor unit shows
  up to four significant digits instead of reading as nothing: ``0.00172364`` -> ``0.001724``.
- Parts shown beside their total add up to the shown total: ``shown_parts`` rounds them together by the
  largest remainder (the method of ``money.split_exact``). A non-zero part that the rounding leaves at zero
  keeps its small figure (``0.0017``): it is below the rounding step, never a hidden cost.
- A unit price (per 1,000 tokens, per image, per second) shows four significant digits: ``0.003116``.
- Percentages are rounded to 0.1; shares of a whole are rounded together so they add up to 100.0%.

Everything shown rounded says so in the statement's footnote, which points at the attached CSV for the exact
amounts. Machine outputs (CSV, Parquet, JSON) never pass through here: they carry exact plain text
(``chargeback.money.format_decimal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

from chargeback.money import format_decimal

PERCENT_STEP = Decimal("0.1")
SIGNIFICANT_DIGITS = 4
MINOR_UNIT_PLACES: dict[str, int] = {"CNY": 2, "USD": 2}
"""Decimal places of each currency's minor unit (fen, cent); a currency not listed has two."""
DEFAULT_PLACES = 2
HUNDRED = Decimal(100)


def minor_unit(currency: str = "") -> Decimal:
    """The smallest coin of ``currency``: Decimal('0.01') for CNY and USD."""
    return Decimal(1).scaleb(-MINOR_UNIT_PLACES.get(currency.strip().upper(), DEFAULT_PLACES))


def significant(value: Decimal, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """``value`` rounded (half up) to ``digits`` significant digits: 0.00172364 -> 0.001724."""
    if value == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=ROUND_HALF_UP)


def rounded(value: Decimal, currency: str = "") -> Decimal:
    """The amount as people see it: to the minor unit, or to four significant digits below it."""
    step = minor_unit(currency)
    if value != 0 and abs(value) < step:
        return significant(value)
    with localcontext() as ctx:
        ctx.prec = 60
        return value.quantize(step, rounding=ROUND_HALF_UP)


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


def format_money(value: Decimal, currency: str = "", *, grouping: bool = True, signed: bool = False) -> str:
    """An amount as people read it: ``8,121.60``, ``0.001724``, ``-0.50``; ``+12.50`` when ``signed``."""
    shown = rounded(value, currency)
    places = MINOR_UNIT_PLACES.get(currency.strip().upper(), DEFAULT_PLACES)
    text = format_number(shown, grouping=grouping, min_decimals=places)
    return "+" + text if signed and shown > 0 else text


def format_signed_money(value: Decimal, currency: str = "", *, grouping: bool = True) -> str:
    """A change: ``+12.50``, ``-3.00``, ``0.00``."""
    return format_money(value, currency, grouping=grouping, signed=True)


def money(value: Decimal, currency: str = "", *, grouping: bool = True) -> str:
    """An amount with its currency in front, for sentences: ``CNY 412.50``."""
    return f"{currency} {format_money(value, currency, grouping=grouping)}".strip()


def format_unit_price(value: Decimal, *, grouping: bool = True) -> str:
    """A price per unit (1,000 tokens, an image, a second), four significant digits: ``0.003116``."""
    return format_number(significant(value), grouping=grouping)


def format_quantity(value: Decimal, *, grouping: bool = True) -> str:
    """A count of usage: whole numbers from 1,000 up (``62,980,460``), else four significant digits."""
    if abs(value) >= 1000:
        return format_number(value.quantize(Decimal(1), rounding=ROUND_HALF_UP), grouping=grouping)
    return format_number(significant(value), grouping=grouping)


def shown_parts(parts: Sequence[Decimal], currency: str = "", *, total: Decimal | None = None) -> list[Decimal]:
    """``parts`` rounded so that they add up to the rounded sum of the parts (largest remainder), or to
    ``total`` when given (a shown figure, a multiple of the minor unit, that the parts must add up to).

    Each part is first rounded down to the minor unit; the units still missing to the total go to the parts
    with the largest remainders (ties to the earlier part). A non-zero part left at zero keeps its own four
    significant digits, so it never reads as nothing.
    """
    if not parts:
        return []
    step = minor_unit(currency)
    with localcontext() as ctx:
        ctx.prec = 80
        target = sum(parts, Decimal(0)) if total is None else total
        total_units = (target / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        raw = [p / step for p in parts]
        floors = [r.to_integral_value(rounding=ROUND_FLOOR) for r in raw]
        left = int(total_units - sum(floors, Decimal(0)))
        order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
        for i in order[:max(left, 0)]:
            floors[i] += 1
        for i in list(reversed(order))[:max(-left, 0)]:  # a given total below the floors: take units back
            floors[i] -= 1
        shown = [f * step for f in floors]
    return [significant(p) if s == 0 and p != 0 else s for p, s in zip(parts, shown, strict=True)]


def percent_of(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to 0.1; None when ``whole`` is zero."""
    if whole == 0:
        return None
    return (part * HUNDRED / whole).quantize(PERCENT_STEP, rounding=ROUND_HALF_EVEN)


def shares_of(parts: Sequence[Decimal]) -> list[Decimal | None]:
    """Each part's share of their sum, to 0.1%, adding up to 100.0% when no part is negative."""
    whole = sum(parts, Decimal(0))
    if whole == 0:
        return [None] * len(parts)
    if any(p < 0 for p in parts):
        return [percent_of(p, whole) for p in parts]
    with localcontext() as ctx:
        ctx.prec = 80
        raw = [p * 1000 / whole for p in parts]  # in tenths of a percent
        floors = [r.to_integral_value(rounding=ROUND_FLOOR) for r in raw]
        left = 1000 - int(sum(floors, Decimal(0)))
        order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
        return [f * PERCENT_STEP for f in floors]


def format_percent(value: Decimal | None, *, signed: bool = False) -> str:
    """``45.0%``; ``+3.5%`` when signed; an en dash when there is no percentage."""
    if value is None:
        return "–"
    text = f"{value.quantize(PERCENT_STEP, rounding=ROUND_HALF_UP):.1f}%"
    return "+" + text if signed and value > 0 else text


def rounded_percent(value: Decimal) -> str:
    """'82.5%' (one decimal, half up, trailing zeros dropped)."""
    return f"{format_decimal(value.quantize(PERCENT_STEP, rounding=ROUND_HALF_UP))}%"


def figure(value: Decimal, currency: str = "") -> str:
    """A number in a sentence: money with its currency when it has one, else the number exactly ('36.1')."""
    return money(value, currency) if currency else format_number(value, grouping=False)


__all__ = ["MINOR_UNIT_PLACES", "figure", "format_money", "format_number", "format_percent", "format_quantity",
           "format_signed_money", "format_unit_price", "minor_unit", "money", "percent_of", "rounded",
           "rounded_percent", "shares_of", "shown_parts", "significant"]
