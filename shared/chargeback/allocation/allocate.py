"""From per-day bill aggregates to normalized lines and exact allocation rows, as Arrow tables.

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
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.bills.instance_id import parse_instance_id
from chargeback.columns import ALLOCATION_COLUMNS, LINE_AMOUNTS, LINE_COLUMNS, LINE_DIMENSIONS, UNALLOCATED
from chargeback.config.cost_centers import FixedShares
from chargeback.config.file import ConfigFile
from chargeback.money import MONEY_TYPE, ZERO, finest_places, split_exact
from chargeback.vectors import map_distinct

FEE_TYPES = {
    "云资源按量费用": "pay_as_you_go",
    "按量付费": "pay_as_you_go",
    "后付费": "pay_as_you_go",
    "payasyougo": "pay_as_you_go",
    "pay-as-you-go": "pay_as_you_go",
    "免费额度": "free_quota",
    "freequota": "free_quota",
    "free quota": "free_quota",
    "": "pay_as_you_go",
}
CENT = Decimal("0.01")

LINE_SCHEMA = pa.schema(
    [pa.field(c, pa.string()) for c in LINE_DIMENSIONS]
    + [pa.field(a, MONEY_TYPE) for a in LINE_AMOUNTS]
    + [pa.field("line_count", pa.int64())]
)

ALLOCATION_SCHEMA = pa.schema([
    pa.field(c, MONEY_TYPE if c in LINE_AMOUNTS else pa.int64() if c == "line_count"
             else pa.float64() if c == "share" else pa.string())
    for c in ALLOCATION_COLUMNS
])

Row = dict[str, object]


def _fee_type(raw: str) -> str:
    raw = raw.strip()
    return FEE_TYPES.get(raw.lower(), FEE_TYPES.get(raw, raw))


def _iso_date(raw: str) -> str:
    digits = raw.replace("-", "").replace("/", "")
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"


def _instance_parts(raw: str) -> dict[str, str]:
    parsed = parse_instance_id(raw)
    return {
        "workspace_id": parsed.workspace_id, "api_key_id": parsed.api_key_id, "model": parsed.model,
        "usage_type": parsed.usage_type, "io_type": parsed.io_type, "context_tier": parsed.context_tier,
        "channel": parsed.channel, "call_source": parsed.call_source if parsed.valid else "unattributed",
        "free_quota_stop": parsed.free_quota_stop,
    }


def _instance_part(part: str, raw: str) -> str:
    return _instance_parts(raw)[part]  # parse_instance_id is cached: each distinct ID is parsed once


def normalize_table(aggregates: pa.Table, month: str) -> pa.Table:
    """Normalized lines (``LINE_SCHEMA``) from the reader's aggregates, merged on the normalized keys, sorted."""
    n = aggregates.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "billing_month": pa.array([month] * n, pa.string()),
        "billing_date": map_distinct(aggregates["billing_date"], _iso_date),
        "product_code": pa.array(["sfm"] * n, pa.string()),
        "fee_type": map_distinct(aggregates["fee_type"], _fee_type),
        **{part: map_distinct(aggregates["instance_id"], partial(_instance_part, part))
           for part in _instance_parts("")},
    }
    for name in LINE_DIMENSIONS:
        if name not in columns:
            columns[name] = aggregates[name]
    table = pa.table({**{d: columns[d] for d in LINE_DIMENSIONS},
                      **{a: aggregates[a] for a in LINE_AMOUNTS}, "line_count": aggregates["line_count"]})
    grouped = table.group_by(list(LINE_DIMENSIONS), use_threads=False).aggregate(
        [(a, "sum") for a in (*LINE_AMOUNTS, "line_count")])
    grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    return grouped.select(list(LINE_COLUMNS)).cast(LINE_SCHEMA).sort_by([(d, "ascending") for d in LINE_DIMENSIONS])


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
    parts = [direct.select(list(ALLOCATION_COLUMNS)).cast(ALLOCATION_SCHEMA)]
    if split_rows:
        parts.append(pa.Table.from_pylist(split_rows, schema=ALLOCATION_SCHEMA))
    result = pa.concat_tables(parts)
    order = [(c, "ascending") for c in ALLOCATION_COLUMNS if c not in LINE_AMOUNTS and c not in ("share", "line_count")]
    order += [("list_unit_price", "ascending")]
    return result.sort_by(order)


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


__all__ = ["ALLOCATION_SCHEMA", "LINE_SCHEMA", "allocate", "allocate_table", "normalize_table", "to_table"]
