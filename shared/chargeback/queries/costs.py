"""The costs question: what did these months cost, grouped by some dimensions, for the rows matching some
conditions, in each currency apart.

    answer = ask_costs(store, CostQuery("2026-05", by=("model",), where=parse_where(["model=qwen-max*"])))

A question that does not name the day reads the months' cost summaries (``chargeback.queries.summary``);
one that groups or filters by ``billing_date`` sums the allocations themselves, with the same functions.
Currency is always part of the grouping, so no amount ever adds two currencies; each currency gets its own
total, and the rows of a currency (with the others of ``top``) add up to it exactly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.columns import COST_AMOUNTS, COST_COUNTS, QUERY_DIMENSIONS
from chargeback.errors import InputError
from chargeback.money import ZERO, format_decimal
from chargeback.months import check_month, months_between
from chargeback.pricing.catalog import PriceCatalog, load_catalog
from chargeback.queries.scan import MonthProblem, Scan, concat, scan_allocations, scan_cost_summaries
from chargeback.queries.summary import NEEDED_COLUMNS, sum_costs, with_cost_amounts
from chargeback.storage import ObjectStore

MONEY_FIELDS: tuple[str, ...] = ("billed_cost", "list_cost", "discount", "coupon", "free_quota_covered")
COUNT_FIELDS: tuple[str, ...] = ("tokens", "free_quota_unvalued_lines", "line_count")
SHARE_STEP = Decimal("0.000001")
MAX_MONTHS = 120


def _dimension(name: str, option: str) -> str:
    if name in QUERY_DIMENSIONS:
        return name
    close = difflib.get_close_matches(name, QUERY_DIMENSIONS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise InputError(f"unknown dimension {name!r}; {hint}choose from {', '.join(QUERY_DIMENSIONS)}", field=option)


def parse_by(text: str | None) -> tuple[str, ...]:
    """``--by model,cost_center`` as dimensions (currency is added by the query, not here)."""
    if not text:
        return ()
    names = [part.strip() for part in text.split(",")]
    if any(not n for n in names):
        raise InputError(f"{text!r}: name dimensions separated by commas, e.g. model,cost_center", field="--by")
    dimensions = tuple(dict.fromkeys(_dimension(n, "--by") for n in names))
    return dimensions


@dataclass(frozen=True)
class Condition:
    """``--where DIM=VALUE``: the dimension equals one of ``values`` (``*`` in a value matches any text)."""

    dimension: str
    values: tuple[str, ...]

    def mask(self, column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        text = pc.cast(column, pa.string())
        exact = [v for v in self.values if "*" not in v]
        masks = [pc.is_in(text, value_set=pa.array(exact, pa.string()))] if exact else []
        for value in self.values:
            if "*" in value:
                pattern = "^" + ".*".join(re.escape(part) for part in value.split("*")) + "$"
                masks.append(pc.match_substring_regex(text, pattern))
        combined = masks[0]
        for more in masks[1:]:
            combined = pc.or_(combined, more)
        return pc.fill_null(combined, False)

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "values": list(self.values)}


def parse_where(texts: Sequence[str]) -> tuple[Condition, ...]:
    """``--where`` options: ``DIM=VALUE``; several for one dimension match any of them (and across
    dimensions, all must hold). An empty value matches the empty text (``api_key_id=``: console calls)."""
    values: dict[str, list[str]] = {}
    for text in texts:
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            raise InputError(f"{text!r} is not DIM=VALUE (e.g. model=qwen-max, model='qwen3*')", field="--where")
        values.setdefault(_dimension(name.strip(), "--where"), []).append(value)
    return tuple(Condition(d, tuple(dict.fromkeys(v))) for d, v in values.items())


@dataclass(frozen=True)
class CostQuery:
    """Months ``first`` to ``last`` (inclusive), grouped ``by``, the rows matching every condition of
    ``where``; ``top`` keeps the N largest rows of each currency and sums the rest as others."""

    first: str
    last: str | None = None
    by: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    top: int | None = None

    def __post_init__(self) -> None:
        check_month(self.first, field="--month")
        if self.last is not None:
            check_month(self.last, field="--to")
            if self.last < self.first:
                raise InputError(f"--to {self.last} is before --month {self.first}", field="--to")
        if len(self.months) > MAX_MONTHS:
            raise InputError(f"{len(self.months)} months asked; at most {MAX_MONTHS} at once", field="--to")
        if self.top is not None and self.top < 1:
            raise InputError(f"--top must be at least 1, not {self.top}", field="--top")

    @property
    def months(self) -> list[str]:
        return months_between(self.first, self.last or self.first)

    @property
    def keys(self) -> tuple[str, ...]:
        """The grouping: the dimensions asked for, then the currency (always)."""
        return (*[d for d in self.by if d != "currency"], "currency")

    @property
    def needs_days(self) -> bool:
        return "billing_date" in self.by or any(c.dimension == "billing_date" for c in self.where)


@dataclass(frozen=True)
class CostRow:
    """One group: its key values (``CostQuery.keys``), exact amounts, token and line counts, and its share
    of the currency's billed total (None when that total is 0)."""

    keys: dict[str, str]
    amounts: dict[str, Decimal]
    counts: dict[str, int]
    share: Decimal | None
    rows: int = 1  # groups summed in this row (more than 1 for the others of --top)

    @property
    def currency(self) -> str:
        return self.keys["currency"]

    @property
    def billed_cost(self) -> Decimal:
        return self.amounts["billed_cost"]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.keys)
        out.update({name: format_decimal(value) for name, value in self.amounts.items()})
        out.update(self.counts)
        out["share"] = None if self.share is None else format_decimal(self.share)
        return out


@dataclass
class CostAnswer:
    """The rows, the others beyond ``top`` and the total of each currency, for the months that could be read."""

    query: CostQuery
    source: str  # costs (the cost summaries) | allocations
    months: list[str]
    problems: list[MonthProblem]
    rows: list[CostRow] = field(default_factory=list)
    others: list[CostRow] = field(default_factory=list)
    totals: list[CostRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "by": list(self.query.keys),
            "where": [c.to_dict() for c in self.query.where],
            "source": self.source,
            "rows": [r.to_dict() for r in self.rows],
            "others": [{**r.to_dict(), "groups": r.rows} for r in self.others],
            "totals": [r.to_dict() for r in self.totals],
            "missing_months": [p.to_dict() for p in self.problems],
        }


def _read(store: ObjectStore, query: CostQuery,
          catalog: Callable[[], PriceCatalog]) -> tuple[Scan, pa.Table | None]:
    """The months' rows that match the query's conditions, with the cost amounts, summed by the query's keys;
    the allocations month by month as they are read (exact sums: summing them again gives the months')."""
    named = [*query.keys, *(c.dimension for c in query.where)]

    def matching(table: pa.Table) -> pa.Table:
        for condition in query.where:
            table = table.filter(condition.mask(table[condition.dimension]))
        return sum_costs(table, query.keys)

    if not query.needs_days:  # only the columns the question names are decoded
        scan = scan_cost_summaries(store, query.months, catalog,
                                   [*dict.fromkeys([*named, *COST_AMOUNTS, *COST_COUNTS])])
        table = concat(scan)  # summaries are small: matched and summed at once
        return scan, None if table is None else matching(table)
    prices = cache(catalog)  # loaded once, for the first month read

    def costed(table: pa.Table) -> pa.Table:
        if "billing_date" in table.column_names:  # a DATE column in newer months: grouped as its ISO text
            table = table.set_column(table.column_names.index("billing_date"), "billing_date",
                                     pc.cast(table["billing_date"], pa.string()))
        return matching(with_cost_amounts(table, prices()))

    scan = scan_allocations(store, query.months, [*dict.fromkeys([*NEEDED_COLUMNS, *named])], reduce=costed)
    return scan, concat(scan)


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else (part / whole).quantize(SHARE_STEP, rounding=ROUND_HALF_EVEN)


def _row(record: dict[str, Any], keys: Sequence[str], total: Decimal | None, groups: int = 1) -> CostRow:
    amounts = {name: record[name] for name in MONEY_FIELDS}
    return CostRow({k: "" if record[k] is None else str(record[k]) for k in keys}, amounts,
                   {name: int(record[name]) for name in COUNT_FIELDS},
                   None if total is None else _share(amounts["billed_cost"], total), groups)


def _sum(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {name: sum((r[name] for r in records), ZERO) for name in MONEY_FIELDS}
    out.update({name: sum(int(r[name]) for r in records) for name in COUNT_FIELDS})
    return out


def ask_costs(store: ObjectStore, query: CostQuery,
              catalog: Callable[[], PriceCatalog] = load_catalog) -> CostAnswer:
    """Answer ``query`` from the published months of ``store``; months that cannot be read are listed in
    ``CostAnswer.problems`` (missing, or to be run again), never guessed.

    ``catalog()`` gives the prices that value free quota of months summed from their allocations here
    (default: the shipped catalog); it is not loaded when every month has its cost summary.
    """
    scan, table = _read(store, query, catalog)
    answer = CostAnswer(query, "allocations" if query.needs_days else "costs", scan.months, scan.problems)
    if table is None:
        return answer
    grouped = sum_costs(table, query.keys)  # the months' sums, summed
    records = grouped.to_pylist()
    for currency in sorted({r["currency"] for r in records}):
        mine = [r for r in records if r["currency"] == currency]
        total = _sum(mine)
        mine.sort(key=lambda r: (-r["billed_cost"], [str(r[k]) for k in query.keys]))
        kept, rest = (mine, []) if query.top is None else (mine[:query.top], mine[query.top:])
        answer.rows += [_row(r, query.keys, total["billed_cost"]) for r in kept]
        if rest:
            answer.others.append(_row({**_sum(rest), "currency": currency}, ["currency"], total["billed_cost"],
                                      groups=len(rest)))
        answer.totals.append(_row({**total, "currency": currency}, ["currency"], total["billed_cost"]))
    return answer


__all__ = ["Condition", "CostAnswer", "CostQuery", "CostRow", "ask_costs", "parse_by", "parse_where"]
