"""Checks of a CSV's text fields, run once on its groups' distinct values (both readers group by raw text).

A field that fails is reported with the first row that holds the value (:func:`chargeback.bills.exact.locate`
finds its physical line), so checking per distinct value costs nothing per row yet names the line:

- the billing month parses (``202605``, ``2026-05`` or ``2026/05``): ``abc`` or ``202613`` is an error, not a row
  of "another month";
- the billing date is a day of the calendar (its first ten characters: ``20260514``, ``2026-05-14`` or
  ``2026/05/14``, a time may follow): ``20261345`` is an error;
- the currency is an ISO 4217 code (:mod:`chargeback.currencies`), or empty where the reader's default applies;
- no text field holds a control character, a NUL byte, a byte-order mark or another invisible format
  character (Unicode categories Cc and Cf): a BOM inside an instance ID would otherwise make a new workspace;
- the list price is empty or a number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from chargeback.bills.headers import TEXT_FIELDS
from chargeback.bills.normalize import _is_money, _iso_date
from chargeback.currencies import is_currency

_MONTH = re.compile(r"^\d{4}[-/]?(0[1-9]|1[0-2])$")
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                        r"\ufeff\ufff9-\ufffb]")


@dataclass(frozen=True)
class Problem:
    """A bad value of one field, and how to recognise the rows that hold it (a vectorized predicate)."""

    field: str
    message: str
    matches: Callable[[pa.Array], pa.Array]


def _equal(value: str, cut: bool = False) -> Callable[[pa.Array], pa.Array]:
    def matches(column: pa.Array) -> pa.Array:
        return pc.equal(pc.utf8_slice_codeunits(column, 0, 10) if cut else column, value)
    return matches


def _invisible(text: str) -> str | None:
    found = _INVISIBLE.search(text)
    if found is None:
        return None
    char = found.group()
    name = unicodedata.name(char, "a control character")
    return f"U+{ord(char):04X} ({name.lower()})"


def first_problem(groups: pl.DataFrame) -> Problem | None:
    """The first bad value among the groups' text fields, in field order; None when all pass."""
    for field in TEXT_FIELDS:
        cut = field == "billing_date"
        for value in sorted(groups[field].unique().to_list()):
            message = _check(field, value)
            if message:
                return Problem(field, message, _equal(value, cut))
    return None


def _check(field: str, value: str) -> str | None:
    hidden = _invisible(value)
    if hidden:
        return f"{value!r} holds the invisible character {hidden}: remove it (it would make a new ID)"
    if field == "billing_month" and not _MONTH.match(value):
        return f"{value!r} is not a billing month (YYYYMM or YYYY-MM)"
    if field == "billing_date" and _iso_date(value) is None:
        return f"{value!r} is not a date"
    if field == "currency" and value and not is_currency(value):
        return f"{value!r} is not an ISO 4217 currency code"
    if field == "list_unit_price" and value.strip() and not _is_money(value.strip()):
        return f"{value!r} is not a price"
    return None


def month_forms(month: str) -> tuple[str, ...]:
    """How bills write the billing month ``YYYY-MM``."""
    return month.replace("-", ""), month, month.replace("-", "/")


__all__ = ["Problem", "first_problem", "month_forms"]
