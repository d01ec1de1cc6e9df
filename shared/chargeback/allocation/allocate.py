"""Exact allocation rows from normalized lines (``chargeback.bills.normalize.LINE_SCHEMA``), as Arrow tables.

Pure functions: tables and a mapping in, tables out, vectorized. A line goes to the cost center of its API key
(when mapped on its billing date), else of its workspace, else ``unallocated``. Console lines (no API key) and
lines of unmapped keys form pools that ``shared_costs`` may split: ``keep``, ``even``, ``proportional`` (to the
key-attributed cost of each cost center in the same workspace, month and currency) or ``fixed`` percentages.
Every split adds up exactly (largest remainder at the data's finest decimal, at least cents); only the lines
that are split pass through Python, one Decimal at a time.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.bills.normalize import LINE_SCHEMA
from chargeback.columns import (
    ALLOCATION_AMOUNTS,
    ALLOCATION_COLUMNS,
    COST_CENTER_PATH,
    LINE_AMOUNTS,
    REPORTING_BILLED_COST,
    REPORTING_CURRENCY,
    UNALLOCATED,
)
from chargeback.config.cost_centers import FixedShares
from chargeback.config.file import ConfigFile
from chargeback.money import MONEY_TYPE, ZERO, finest_places, split_exact
from chargeback.vectors import map_distinct

CENT = Decimal("0.01")

ALLOCATION_SCHEMA = pa.schema([
    pa.field(c, MONEY_TYPE if c in ALLOCATION_AMOUNTS else pa.int64() if c == "line_count"
             else pa.float64() if c == "share" else pa.string())
    for c in ALLOCATION_COLUMNS
])
DERIVED_COLUMNS = (COST_CENTER_PATH, REPORTING_CURRENCY, REPORTING_BILLED_COST)
"""Columns that follow from a row's cost center and amount, added once every row has its cost center."""
_SPLIT_SCHEMA = pa.schema([f for f in ALLOCATION_SCHEMA if f.name not in DERIVED_COLUMNS])

Row = dict[str, object]


def _resolve(mapping: ConfigFile, day: str, api_key: str, workspace: str) -> tuple[str, str, str]:
    """(cost center, rule, pool) of a line: pool '' when its API key pays, else console or unmapped."""
    when = date.fromisoformat(day)
    owner = mapping.key_owner(api_key, when)
    if owner:
        return owner, "api_key", ""
    pool = "console" if not api_key else "unmapped"
    workspace_owner = mapping.workspace_owner(workspace, when)
    if workspace_owner:
        return workspace_owner, "workspace", pool
    return UNALLOCATED, UNALLOCATED, pool


def allocate_table(lines: pa.Table, mapping: ConfigFile) -> pa.Table:
    """Allocation rows (``ALLOCATION_SCHEMA``) whose amounts add up exactly to the lines' amounts."""
    combo = pc.binary_join_element_wise(lines["billing_date"], lines["api_key_id"], lines["workspace_id"], "\x00")
    distinct = pc.unique(combo)
    resolved = [_resolve(mapping, *value.split("\x00")) for value in distinct.to_pylist()]
    positions = pc.index_in(combo, value_set=distinct)
    table = lines
    for index, name in enumerate(("cost_center", "allocation_rule", "pool")):
        table = table.append_column(name, pc.take(pa.array([r[index] for r in resolved], pa.string()), positions))

    shared = _shared_pools(mapping)
    is_pool = pc.is_in(table["pool"], value_set=pa.array(sorted(shared), pa.string()))
    paid = pc.equal(table["pool"], "")
    weights = _weights(table.filter(paid))
    to_split = table.filter(is_pool).to_pylist()
    kept = table.filter(pc.invert(is_pool))
    direct = kept.append_column("share", pa.array([1.0] * kept.num_rows, pa.float64()))
    split_rows: list[Row] = []
    if to_split:
        quantum = min(finest_quantum(lines), CENT)
        for row in to_split:
            split_rows.extend(_split(row, shared[str(row["pool"])], weights, quantum))
    parts = [direct.select(_SPLIT_SCHEMA.names).cast(_SPLIT_SCHEMA)]
    if split_rows:
        parts.append(pa.Table.from_pylist(split_rows, schema=_SPLIT_SCHEMA))
    result = _with_derived(pa.concat_tables(parts), mapping)
    order = [(c, "ascending") for c in ALLOCATION_COLUMNS
             if c not in ALLOCATION_AMOUNTS and c not in ("share", "line_count")]
    order += [("list_unit_price", "ascending")]
    return result.sort_by(order)


def _with_derived(table: pa.Table, mapping: ConfigFile) -> pa.Table:
    """``table`` with the cost center path and the reporting currency's amounts, in the public column order."""
    derived = {
        COST_CENTER_PATH: map_distinct(table["cost_center"], mapping.cost_center_path),
        REPORTING_CURRENCY: table["currency"],
        REPORTING_BILLED_COST: table["billed_cost"],
    }
    columns = {name: derived[name] if name in derived else table[name] for name in ALLOCATION_COLUMNS}
    return pa.table(columns).cast(ALLOCATION_SCHEMA)


def _shared_pools(mapping: ConfigFile) -> dict[str, object]:
    return {pool: rule for pool in ("console", "unmapped")
            if (rule := getattr(mapping.shared_costs, pool)) != "keep"}


def _weights(paid: pa.Table) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Key-attributed billed cost per (workspace, currency) and cost center: the weights of `proportional`."""
    grouped = paid.group_by(["workspace_id", "currency", "cost_center"], use_threads=False).aggregate(
        [("billed_cost", "sum")])
    weights: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for row in grouped.to_pylist():
        weights[(row["workspace_id"], row["currency"])][row["cost_center"]] = row["billed_cost_sum"]
    return weights


def _recipients(row: Row, rule: object, weights: dict[tuple[str, str], dict[str, Decimal]]
                ) -> tuple[str, dict[str, Decimal]] | None:
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


def _split(row: Row, rule: object, weights: dict[tuple[str, str], dict[str, Decimal]], quantum: Decimal
           ) -> list[Row]:
    recipients = _recipients(row, rule, weights)
    if recipients is None:
        return [{**row, "share": 1.0}]
    rule_name, shares = recipients
    split = {a: split_exact(row[a], list(shares.values()), quantum) for a in LINE_AMOUNTS}  # type: ignore[arg-type]
    counts = split_exact(Decimal(int(row["line_count"])), list(shares.values()), Decimal(1))  # type: ignore[call-overload]
    total_weight = sum(shares.values(), ZERO)
    return [
        {**row, **{a: split[a][i] for a in LINE_AMOUNTS}, "line_count": int(counts[i]), "cost_center": center,
         "allocation_rule": f"{row['pool']}:{rule_name}",
         "share": float(shares[center] / total_weight) if total_weight else 1.0 / len(shares)}
        for i, center in enumerate(shares)
    ]


def finest_quantum(table: pa.Table) -> Decimal:
    """The finest decimal step any amount of ``table`` carries, e.g. Decimal('0.0000001')."""
    return Decimal(1).scaleb(-max(finest_places(table[name]) for name in LINE_AMOUNTS))


# list-of-dict wrappers, for callers and tests that hold rows


def allocate(lines: list[Row], mapping: ConfigFile) -> list[Row]:
    """``allocate_table`` over rows (dicts with ``LINE_COLUMNS``)."""
    return allocate_table(to_table(lines, LINE_SCHEMA), mapping).to_pylist()


def to_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table with ``schema`` (column order and types of the public contract)."""
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}, schema=schema)


__all__ = ["ALLOCATION_SCHEMA", "allocate", "allocate_table", "to_table"]
