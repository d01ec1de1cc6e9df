"""Exact allocation rows from normalized lines (``chargeback.bills.normalize.LINE_SCHEMA``), as Arrow tables.

Pure functions: tables, a mapping and usage in, tables out, vectorized: keys, workspaces and usage splits are
decided once per distinct (billing date, API key, workspace), the rules as column masks over all lines. Who pays
for a line, in this order:

1. the usage split of its API key (``usage_splits``): the line is split among the consumers' cost centers in
   proportion to their tokens (``chargeback.allocation.usage``);
2. the first rule that matches and holds on the billing date (``rules``);
3. the cost center of its API key on the billing date (``api_keys``, the inventory);
4. the cost center of its workspace, else ``unallocated``.

Lines decided by 3 or 4 without a paying API key form the pools ``shared_costs`` may split: console lines (no
API key) and lines of unmapped keys, shared ``keep``, ``even``, ``proportional`` (to the cost of each cost center
that the first three steps attributed in the same workspace, month and currency) or by ``fixed`` percentages.
``allocation_rule`` says what decided (``chargeback.columns.ALLOCATION_RULES``). Every split adds up exactly
(largest remainder at the data's finest decimal, at least cents); only the lines that are split pass through
Python, one Decimal at a time. Prepaid plans' coverage and cost are added last
(:mod:`chargeback.allocation.prepaid`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.allocation.prepaid import PREPAID_COLUMNS, add_prepaid_costs
from chargeback.allocation.usage import NO_USAGE, UsageData
from chargeback.bills.normalize import LINE_SCHEMA
from chargeback.columns import (
    ALLOCATION_AMOUNTS,
    ALLOCATION_COLUMNS,
    COST_CENTER_PATH,
    LINE_AMOUNTS,
    LINE_FLAGS,
    REPORTING_BILLED_COST,
    REPORTING_CURRENCY,
    RULE_API_KEY,
    RULE_UNALLOCATED,
    RULE_USAGE_SPLIT,
    RULE_USAGE_SPLIT_UNKNOWN,
    RULE_WORKSPACE,
    UNALLOCATED,
)
from chargeback.config.cost_centers import FixedShares
from chargeback.config.file import ConfigFile, owner_in
from chargeback.config.rules import TAG_PREFIX, TAGS_COLUMN, WILDCARD, line_column, pattern_regex, tag_value
from chargeback.errors import InputError
from chargeback.money import MONEY_TYPE, ZERO, finest_places, format_decimal, split_exact
from chargeback.vectors import map_distinct, sum_by

CENT = Decimal("0.01")

ALLOCATION_SCHEMA = pa.schema([
    pa.field(c, MONEY_TYPE if c in ALLOCATION_AMOUNTS else pa.int64() if c == "line_count"
             else pa.float64() if c == "share" else pa.bool_() if c in LINE_FLAGS else pa.string())
    for c in ALLOCATION_COLUMNS
])
DERIVED_COLUMNS = (COST_CENTER_PATH, REPORTING_CURRENCY, REPORTING_BILLED_COST)
"""Columns that follow from a row's cost center and amount, added once every row has its cost center."""
_SPLIT_SCHEMA = pa.schema([f for f in ALLOCATION_SCHEMA if f.name not in (*DERIVED_COLUMNS, *PREPAID_COLUMNS)])
_RESOLVED = ("cost_center", "allocation_rule", "pool")
_BY_USAGE = "usage"  # the pool marker of lines split by usage
_SEPARATOR = "\x00"
_REPORTING_PLACES = 12

Row = dict[str, object]
Resolution = tuple[str, str, str]  # cost center, allocation rule, pool ('' when paid, console, unmapped, usage)


@dataclass(frozen=True)
class Allocation:
    """The allocation rows of some lines, and what the run summary should say about how they were decided."""

    table: pa.Table
    warnings: tuple[str, ...] = ()


def allocate_table(lines: pa.Table, mapping: ConfigFile, usage: UsageData = NO_USAGE) -> pa.Table:
    """Allocation rows (``ALLOCATION_SCHEMA``) whose amounts add up exactly to the lines' amounts."""
    return allocate_lines(lines, mapping, usage).table


def allocate_lines(lines: pa.Table, mapping: ConfigFile, usage: UsageData = NO_USAGE) -> Allocation:
    """``allocate_table`` with the warnings of its usage splits (unknown consumers, days without usage)."""
    table = _resolved(lines, mapping, usage)
    quantum = min(finest_quantum(lines), CENT)
    notes = _SplitNotes()
    usage_rows: list[Row] = []
    by_usage, table = _parted(table, pc.equal(table["pool"], _BY_USAGE))
    for row in by_usage.to_pylist():
        usage_rows.extend(_split_by_usage(row, mapping, usage, quantum, notes))

    shared = _shared_pools(mapping)
    pooled, kept = _parted(table, pc.is_in(table["pool"], value_set=pa.array(sorted(shared), pa.string())))
    weights = _weights(kept.filter(pc.equal(kept["pool"], "")), usage_rows) if shared else {}
    del table, by_usage
    split_rows: list[Row] = [*usage_rows]
    for row in pooled.to_pylist():
        split_rows.extend(_split(row, shared[str(row["pool"])], weights, quantum))
    direct = kept.append_column("share", pa.array([1.0] * kept.num_rows, pa.float64()))
    parts = [direct.select(_SPLIT_SCHEMA.names).cast(_SPLIT_SCHEMA)]
    del kept, direct, pooled
    if split_rows:
        parts.append(pa.Table.from_pylist(split_rows, schema=_SPLIT_SCHEMA))
    result = _with_derived(add_prepaid_costs(pa.concat_tables(parts), mapping.prepaid), mapping)
    del parts
    order = [(c, "ascending") for c in ALLOCATION_COLUMNS
             if c not in ALLOCATION_AMOUNTS and c not in ("share", "line_count")]
    order += [("list_unit_price", "ascending")]
    return Allocation(result.sort_by(order), tuple(notes.warnings(mapping, usage)))


def _parted(table: pa.Table, mask: pa.Array | pa.ChunkedArray) -> tuple[pa.Table, pa.Table]:
    """(rows where ``mask`` holds, the others). Where it holds for none (the common case: most lines are paid
    directly), the table itself is the second: filtering would copy every column of every line."""
    if not pc.any(mask).as_py():
        return table.slice(0, 0), table
    return table.filter(mask), table.filter(pc.invert(mask))


# ---------------------------------------------------------------------------------------------- who decides


def decision_columns(mapping: ConfigFile) -> list[str]:
    """The line columns that can decide who pays: date, API key, workspace, and those the rules match on."""
    columns = list(_BASE_DECISION)
    for rule in mapping.rules:
        for key in rule.match:
            if line_column(key) not in columns:
                columns.append(line_column(key))
    return columns


_BASE_DECISION = ("billing_date", "api_key_id", "workspace_id")


def _column(lines: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    """A line column; '' for one the lines do not carry (a bill format without tags, say)."""
    if name in lines.column_names:
        return pc.fill_null(lines[name], "")
    return pa.array([""] * lines.num_rows, pa.string())


def _resolved(lines: pa.Table, mapping: ConfigFile, usage: UsageData) -> pa.Table:
    """The lines with who pays (cost center, rule, pool).

    Usage splits, API keys and workspaces are decided once per distinct (billing date, API key, workspace); the
    rules are evaluated as column masks over all lines, and the first that holds overrides the keys and
    workspaces (not a usage split).
    """
    combo = pc.binary_join_element_wise(*(_column(lines, c) for c in _BASE_DECISION), _SEPARATOR)
    distinct = pc.unique(combo)
    decide = _decider(mapping, usage)
    resolved = [decide(*value.split(_SEPARATOR)) for value in distinct.to_pylist()]
    positions = pc.index_in(combo, value_set=distinct)
    columns = {name: pc.take(pa.array([r[index] for r in resolved], pa.string()), positions)
               for index, name in enumerate(_RESOLVED)}
    if mapping.rules:
        choice = _first_rule(lines, mapping)
        ruled = pc.and_(pc.greater_equal(choice, 0), pc.not_equal(columns["pool"], _BY_USAGE))
        chosen = pc.max_element_wise(choice, 0)
        rules = list(enumerate(mapping.rules, start=1))
        centers = pc.take(pa.array([rule.cost_center for _, rule in rules], pa.string()), chosen)
        labels = pc.take(pa.array([rule.label(position) for position, rule in rules], pa.string()), chosen)
        columns = {"cost_center": pc.if_else(ruled, centers, columns["cost_center"]),
                   "allocation_rule": pc.if_else(ruled, labels, columns["allocation_rule"]),
                   "pool": pc.if_else(ruled, "", columns["pool"])}
    table = lines
    for name in _RESOLVED:
        table = table.append_column(name, columns[name])
    return table


def _first_rule(lines: pa.Table, mapping: ConfigFile) -> pa.Array:
    """The index of the first rule that holds for each line (on its billing date), -1 where none does."""
    choice = pa.array([-1] * lines.num_rows, pa.int64())
    days = _column(lines, "billing_date")
    for index in reversed(range(len(mapping.rules))):
        rule = mapping.rules[index]
        mask = pa.array([True] * lines.num_rows, pa.bool_())
        for key, pattern in rule.match.items():
            mask = pc.and_(mask, _matching(_match_values(lines, key), pattern))
        if rule.valid_from is not None:
            mask = pc.and_(mask, pc.greater_equal(days, rule.valid_from.isoformat()))  # ISO dates sort as text
        if rule.valid_until is not None:
            mask = pc.and_(mask, pc.less_equal(days, rule.valid_until.isoformat()))
        choice = pc.if_else(mask, index, choice)
    return choice


def _match_values(lines: pa.Table, key: str) -> pa.ChunkedArray | pa.Array:
    """The values a match key reads: a line column, or one tag's value out of ``tags``."""
    if key.startswith(TAG_PREFIX):
        tag = key[len(TAG_PREFIX):]
        return map_distinct(_column(lines, TAGS_COLUMN), lambda tags: tag_value(tags, tag))
    return _column(lines, line_column(key))


def _matching(values: pa.ChunkedArray | pa.Array, pattern: str) -> pa.ChunkedArray | pa.Array:
    """Which values match ``pattern``: the exact text, or (with ``*``) a non-empty value of that shape."""
    if WILDCARD not in pattern:
        return pc.equal(values, pattern)
    return pc.and_(pc.not_equal(values, ""), pc.match_substring_regex(values, pattern_regex(pattern)))


def _decider(mapping: ConfigFile, usage: UsageData) -> Callable[[str, str, str], Resolution]:
    """Who pays for a (billing date, API key, workspace), rules aside: usage split, API key, workspace."""

    keys = mapping.owner_index("api_keys")
    split_months = {api_key: split for api_key, split in usage.splits.items()
                    if mapping.usage_split(api_key) is not None}

    def decide(day: str, api_key: str, workspace: str) -> Resolution:
        when = date.fromisoformat(day)
        split = split_months.get(api_key)
        if split is not None and split.has_month(day[:7]):
            return "", RULE_USAGE_SPLIT, _BY_USAGE
        owner = owner_in(keys, api_key, when, workspace) if api_key else None
        if owner:
            return owner, RULE_API_KEY, ""
        pool = "console" if not api_key else "unmapped"
        workspace_owner = mapping.workspace_owner(workspace, when)
        if workspace_owner:
            return workspace_owner, RULE_WORKSPACE, pool
        return UNALLOCATED, RULE_UNALLOCATED, pool

    return decide


# ---------------------------------------------------------------------------------------------- usage splits


class _SplitNotes:
    """What the usage splits of a month did that a person should know: unknown consumers, fallbacks."""

    def __init__(self) -> None:
        self.unknown: dict[str, set[tuple[str, str]]] = defaultdict(set)  # key -> (month, consumer)
        self.unknown_cost: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)  # key, owner, currency
        self.fallback_days: dict[tuple[str, str], set[str]] = defaultdict(set)  # key, basis -> days

    def warnings(self, mapping: ConfigFile, usage: UsageData) -> list[str]:
        found: list[str] = []
        for api_key, consumers in sorted(self.unknown.items()):
            names = ", ".join(f"{c} ({usage.splits[api_key].month_tokens(month)[c]:,} tokens in {month})"
                              for month, c in sorted(consumers))
            went = "; ".join(f"{format_decimal(amount)} {currency} to {owner!r}" for (key, owner, currency), amount
                             in sorted(self.unknown_cost.items()) if key == api_key)
            found.append(f"usage split of API key {api_key!r}: consumers neither in 'consumers' nor cost centers: "
                         f"{names}; their share went to the key's own cost center: {went}")
        words = {"month": "the month's usage", "day_all_models": "that day's usage of all models",
                 "month_all_models": "the month's usage of all models"}
        for (api_key, basis), days in sorted(self.fallback_days.items()):
            found.append(f"usage split of API key {api_key!r}: no usage of the line's model and day in "
                         f"{usage.splits[api_key].location} for {', '.join(sorted(days))}: split by "
                         f"{words[basis]}")
        return found


def _split_by_usage(row: Row, mapping: ConfigFile, usage: UsageData, quantum: Decimal,
                    notes: _SplitNotes) -> list[Row]:
    api_key, day = str(row["api_key_id"]), str(row["billing_date"])
    split, found = mapping.usage_split(api_key), usage.splits[api_key]
    assert split is not None  # only keys with a split and usage in the month come here
    decided = found.weights(day, str(row["model"]))
    assert decided is not None
    tokens, basis = decided
    if basis != "day":
        notes.fallback_days[(api_key, basis)].add(day)
    owner = mapping.key_owner(api_key, date.fromisoformat(day), str(row["workspace_id"])) or UNALLOCATED
    shares: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for consumer, count in tokens.items():
        center = split.cost_center_of(consumer, lambda c: c in mapping.cost_centers)
        if center is None:
            notes.unknown[api_key].add((day[:7], consumer))
            shares[(owner, RULE_USAGE_SPLIT_UNKNOWN)] += count
        else:
            shares[(center, RULE_USAGE_SPLIT)] += count
    rows = _parts(row, dict(sorted(shares.items())), quantum)
    for part in rows:
        if part["allocation_rule"] == RULE_USAGE_SPLIT_UNKNOWN:
            notes.unknown_cost[(api_key, owner, str(row["currency"]))] += part["billed_cost"]  # type: ignore[operator]
    return rows


def _parts(row: Row, shares: Mapping[tuple[str, str], Decimal], quantum: Decimal) -> list[Row]:
    """``row`` split exactly by ``shares`` ((cost center, rule) -> weight): every amount and the line count."""
    weights = list(shares.values())
    split = {a: split_exact(row[a], weights, quantum) for a in LINE_AMOUNTS}  # type: ignore[arg-type]
    counts = split_exact(Decimal(int(row["line_count"])), weights, Decimal(1))  # type: ignore[call-overload]
    total_weight = sum(weights, ZERO)
    return [
        {**row, **{a: split[a][i] for a in LINE_AMOUNTS}, "line_count": int(counts[i]), "cost_center": center,
         "allocation_rule": rule,
         "share": float(shares[(center, rule)] / total_weight) if total_weight else 1.0 / len(shares)}
        for i, (center, rule) in enumerate(shares)
    ]


# ---------------------------------------------------------------------------------------------- pools


def _shared_pools(mapping: ConfigFile) -> dict[str, object]:
    return {pool: rule for pool in ("console", "unmapped")
            if (rule := getattr(mapping.shared_costs, pool)) != "keep"}


Weights = dict[tuple[str, str], dict[str, Decimal]]


def _weights(paid: pa.Table, usage_rows: list[Row]) -> Weights:
    """Attributed billed cost per (workspace, currency) and cost center: the weights of `proportional`."""
    grouped = sum_by(paid, ("workspace_id", "currency", "cost_center"), ("billed_cost",))
    weights: Weights = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in grouped.to_pylist():
        weights[(row["workspace_id"], row["currency"])][row["cost_center"]] += row["billed_cost"]
    for row in usage_rows:
        weights[(str(row["workspace_id"]), str(row["currency"]))][str(row["cost_center"])] += row["billed_cost"]  # type: ignore[operator]
    return weights


def _recipients(row: Row, rule: object, weights: Weights) -> tuple[str, dict[str, Decimal]] | None:
    """(rule name, weight per cost center) for a pool line that is shared, else None (it stays)."""
    if isinstance(rule, FixedShares):
        return "fixed", {c: w for c, w in sorted(rule.fixed.items()) if w > 0}
    used = weights.get((str(row["workspace_id"]), str(row["currency"])))
    if not used:
        return None
    centers = sorted(used)
    if rule == "even":
        return "even", {c: Decimal(1) for c in centers}
    positive = {c: used[c] for c in centers if used[c] > 0}
    return "proportional", positive or {c: Decimal(1) for c in centers}


def _split(row: Row, rule: object, weights: Weights, quantum: Decimal) -> list[Row]:
    recipients = _recipients(row, rule, weights)
    if recipients is None:
        return [{**row, "share": 1.0}]
    rule_name, shares = recipients
    return _parts(row, {(center, f"{row['pool']}:{rule_name}"): weight for center, weight in shares.items()},
                  quantum)


# ---------------------------------------------------------------------------------------------- derived columns


def _with_derived(table: pa.Table, mapping: ConfigFile) -> pa.Table:
    """``table`` with the cost center path and the reporting currency's amounts, in the public column order."""
    currency, amount = reporting_amounts(table, mapping)
    derived = {
        COST_CENTER_PATH: map_distinct(table["cost_center"], mapping.cost_center_path),
        REPORTING_CURRENCY: currency,
        REPORTING_BILLED_COST: amount,
    }
    columns = {name: derived[name] if name in derived else table[name] for name in ALLOCATION_COLUMNS}
    return pa.table(columns).cast(ALLOCATION_SCHEMA)


def reporting_amounts(table: pa.Table, mapping: ConfigFile) -> tuple[pa.Array | pa.ChunkedArray,
                                                                      pa.Array | pa.ChunkedArray]:
    """(reporting currency, billed cost in it) of each row: the bill's own without ``reporting``; else the
    billed cost times the rate on or before the billing date, rounded half to even at 12 decimals.

    InputError naming every missing rate (currency pair and the first day that needs it).
    """
    if mapping.reporting is None or table.num_rows == 0:
        return table["currency"], table["billed_cost"]
    target = mapping.reporting.currency
    combo = pc.binary_join_element_wise(table["billing_date"], table["currency"], _SEPARATOR)
    distinct = pc.unique(combo)
    rates: list[Decimal] = []
    missing: dict[str, str] = {}
    for value in distinct.to_pylist():
        day, currency = value.split(_SEPARATOR)
        rate = mapping.exchange_rates.rate_on(date.fromisoformat(day), currency, target)
        if rate is None:
            missing[currency] = min(day, missing.get(currency, day))
        rates.append(rate or Decimal(1))
    if missing:
        source = mapping.exchange_rates.source or mapping.source
        needed = "; ".join(f"from {c} to {target} on or before {day}" for c, day in sorted(missing.items()))
        raise InputError(f"no exchange rate {needed}: add the rate to the rates file", source=source,
                         field="reporting.rates")
    rate_type = pa.decimal256(25, _REPORTING_PLACES)
    per_row = pc.take(pa.array(rates, rate_type), pc.index_in(combo, value_set=distinct))
    product = pc.multiply(pc.cast(table["billed_cost"], pa.decimal256(50, _REPORTING_PLACES)), per_row)
    rounded = pc.round(product, ndigits=_REPORTING_PLACES, round_mode="half_to_even")
    return pa.array([target] * table.num_rows, pa.string()), pc.cast(rounded, MONEY_TYPE)


def finest_quantum(table: pa.Table) -> Decimal:
    """The finest decimal step any amount of ``table`` carries, e.g. Decimal('0.0000001')."""
    return Decimal(1).scaleb(-max(finest_places(table[name]) for name in LINE_AMOUNTS))


# list-of-dict wrappers, for callers and tests that hold rows


def allocate(lines: list[Row], mapping: ConfigFile, usage: UsageData = NO_USAGE) -> list[Row]:
    """``allocate_table`` over rows (dicts with ``LINE_COLUMNS``, and any of ``tags``, ``resource_group``,
    ``cost_unit`` the rules match on)."""
    extra = [pa.field(c, pa.string()) for c in decision_columns(mapping)
             if c not in LINE_SCHEMA.names and any(c in r for r in lines)]
    schema = pa.schema([*LINE_SCHEMA, *extra])
    table = pa.table({f.name: pa.array([r[f.name] if f.name in LINE_SCHEMA.names else r.get(f.name, "")
                                        for r in lines], f.type) for f in schema}, schema=schema)
    return allocate_table(table, mapping, usage).to_pylist()


def to_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table with ``schema`` (column order and types of the public contract)."""
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}, schema=schema)


__all__ = ["ALLOCATION_SCHEMA", "Allocation", "allocate", "allocate_lines", "allocate_table", "decision_columns",
           "reporting_amounts", "to_table"]
