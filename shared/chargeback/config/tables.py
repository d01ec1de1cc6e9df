"""CSV files the configuration file names: the API key inventory (``api_keys_file``) and exchange rates
(``reporting.rates``), each checked cell by cell with its file, line and column.

    api_keys_file: keys.csv      api_key_id,cost_center,from,until[,workspace_id]
                                 2100001,search,2026-01-01,,
    reporting: {currency: CNY, rates: rates.csv}
                                 date,from,to,rate
                                 2026-05-01,USD,CNY,7.1234

UTF-8 (a byte-order mark is fine), a header line naming the columns in any order; other columns are ignored
(an inventory exported from a key manager may carry names and dates of its own). Every problem of a file is
reported at once, as the YAML's are.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_right
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from chargeback.config.cost_centers import Assignment
from chargeback.config.problems import Problem, suggestion

INVENTORY_COLUMNS = ("api_key_id", "cost_center", "from", "until")
INVENTORY_OPTIONAL = ("workspace_id",)
RATE_COLUMNS = ("date", "from", "to", "rate")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _rows(data: bytes, source: str, needed: tuple[str, ...], problems: list[Problem]
          ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, cells by column) of every data row; problems for an unreadable file or missing columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem("", f"not UTF-8 text (byte {exc.start} cannot be read)", None, source))
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        problems.append(Problem("", f"the file is empty: it needs a header line ({','.join(needed)})", 1, source))
        return
    names = [h.strip() for h in header]
    missing = [c for c in needed if c not in names]
    for column in missing:
        problems.append(Problem(column, "missing column" + suggestion(column, names), 1, source))
    if missing:
        return
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        padded = [c.strip() for c in cells] + [""] * (len(names) - len(cells))
        yield reader.line_num, dict(zip(names, padded, strict=False))


def _date(text: str, column: str, line: int, source: str, problems: list[Problem]) -> date | None:
    if not text:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        problems.append(Problem(column, f"{text!r} is not a date (YYYY-MM-DD)", line, source))
        return None


@dataclass(frozen=True)
class InventoryKey:
    """An API key of the inventory: the assignment and the CSV line it came from."""

    cost_center: str
    assignment: Assignment
    line: int
    source: str


def read_inventory(data: bytes, source: str, centers: Collection[str]) -> tuple[list[InventoryKey], list[Problem]]:
    """The inventory's keys, and the problems of its cells (unknown cost centers, dates, order of dates)."""
    problems: list[Problem] = []
    keys: list[InventoryKey] = []
    for line, row in _rows(data, source, INVENTORY_COLUMNS, problems):
        key_id, center = row["api_key_id"], row["cost_center"]
        found = len(problems)
        if not key_id or any(c.isspace() for c in key_id):
            problems.append(Problem("api_key_id", f"{key_id!r} is not an API key ID" if key_id else "required",
                                    line, source))
        if not center:
            problems.append(Problem("cost_center", "required", line, source))
        elif center not in centers:
            problems.append(Problem("cost_center", f"unknown cost center {center!r}" + suggestion(center, centers),
                                    line, source))
        start = _date(row["from"], "from", line, source, problems)
        end = _date(row["until"], "until", line, source, problems)
        if start and end and end < start:
            problems.append(Problem("until", f"{end} is before 'from' {start}", line, source))
        if len(problems) == found:
            workspace = row.get("workspace_id") or None
            assignment = Assignment.model_validate({"id": key_id, "from": start, "until": end,
                                                    "workspace": workspace})
            keys.append(InventoryKey(center, assignment, line, source))
    return keys, problems


@dataclass(frozen=True)
class ExchangeRates:
    """Dated exchange rates: ``rate_on(day, from, to)`` is the newest rate on or before ``day``."""

    source: str = ""
    by_pair: dict[tuple[str, str], tuple[tuple[date, ...], tuple[Decimal, ...]]] = field(default_factory=dict)

    def rate_on(self, day: date, from_currency: str, to_currency: str) -> Decimal | None:
        """The rate from one currency to the other on ``day`` (1 for the same currency), None when unknown."""
        if from_currency == to_currency:
            return Decimal(1)
        days, rates = self.by_pair.get((from_currency, to_currency), ((), ()))
        index = bisect_right(days, day)
        return rates[index - 1] if index else None


def read_rates(data: bytes, source: str) -> tuple[ExchangeRates, list[Problem]]:
    """The rates of a ``date,from,to,rate`` file; a pair given twice for one date is a problem."""
    problems: list[Problem] = []
    found: dict[tuple[str, str], dict[date, tuple[Decimal, int]]] = {}
    for line, row in _rows(data, source, RATE_COLUMNS, problems):
        day = _date(row["date"], "date", line, source, problems)
        if not row["date"]:
            problems.append(Problem("date", "required", line, source))
        pair = (row["from"], row["to"])
        for column, code in zip(("from", "to"), pair, strict=True):
            if not CURRENCY_CODE.match(code):
                problems.append(Problem(column, f"{code!r} is not a currency code (three capital letters, e.g. "
                                                "CNY)", line, source))
        try:
            rate = Decimal(row["rate"])
            if not rate.is_finite() or rate <= 0:
                raise InvalidOperation
        except InvalidOperation:
            problems.append(Problem("rate", f"{row['rate']!r} is not a rate (a number above 0)", line, source))
            continue
        if day is None:
            continue
        earlier = found.setdefault(pair, {}).get(day)
        if earlier is not None and earlier[0] != rate:
            problems.append(Problem("rate", f"{pair[0]} to {pair[1]} on {day} is {earlier[0]} on line {earlier[1]}: "
                                            "give one rate per day", line, source))
            continue
        found[pair][day] = (rate, line)
    by_pair = {pair: (tuple(sorted(days)), tuple(days[d][0] for d in sorted(days))) for pair, days in found.items()}
    return ExchangeRates(source, by_pair), problems


__all__ = ["CURRENCY_CODE", "ExchangeRates", "InventoryKey", "read_inventory", "read_rates"]
