"""From per-day bill aggregates to normalized lines and exact allocation rows.

Pure functions: aggregates and a mapping in, rows out. A line goes to the cost center of its API key (when
mapped on its billing date), else of its workspace, else ``unallocated``. Console lines (no API key) and
lines of unmapped keys form pools that ``shared_costs`` may split: ``keep``, ``even``, ``proportional`` (to the
key-attributed cost of each cost center in the same workspace, month and currency) or ``fixed`` percentages.
Every split adds up exactly (largest remainder at the data's finest decimal, at least cents).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pyarrow as pa

from chargeback.allocation.mapping import FixedShares, Mapping
from chargeback.bills.headers import AMOUNT_FIELDS
from chargeback.bills.instance_id import parse_instance_id
from chargeback.columns import ALLOCATION_COLUMNS, LINE_AMOUNTS, LINE_COLUMNS, LINE_DIMENSIONS, UNALLOCATED
from chargeback.money import MONEY_TYPE, ZERO, quantum_of, split_exact

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

Line = dict[str, object]
CENT = Decimal("0.01")


def _fee_type(raw: str) -> str:
    return FEE_TYPES.get(raw.strip().lower(), FEE_TYPES.get(raw.strip(), raw.strip()))


def _iso_date(raw: str) -> str:
    digits = raw.replace("-", "").replace("/", "")
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"


def normalize_lines(aggregates: pa.Table, month: str) -> list[Line]:
    """Normalized lines (``LINE_COLUMNS``) from the reader's aggregates, merged on the normalized keys."""
    merged: dict[tuple[object, ...], Line] = {}
    for row in aggregates.to_pylist():
        parsed = parse_instance_id(row["instance_id"])
        dims: Line = {
            "billing_month": month,
            "billing_date": _iso_date(row["billing_date"]),
            "account_id": row["account_id"],
            "product_code": "sfm",
            "commodity_code": row["commodity_code"],
            "billing_item": row["billing_item"],
            "instance_id": row["instance_id"],
            "workspace_id": parsed.workspace_id,
            "api_key_id": parsed.api_key_id,
            "model": parsed.model,
            "usage_type": parsed.usage_type,
            "io_type": parsed.io_type,
            "context_tier": parsed.context_tier,
            "channel": parsed.channel,
            "call_source": parsed.call_source if parsed.valid else "unattributed",
            "free_quota_stop": parsed.free_quota_stop,
            "fee_type": _fee_type(row["fee_type"]),
            "currency": row["currency"],
            "usage_unit": row["usage_unit"],
            "list_unit_price": row["list_unit_price"],
            "price_unit": row["price_unit"],
            "region": row["region"],
        }
        key = tuple(dims[d] for d in LINE_DIMENSIONS)
        line = merged.get(key)
        if line is None:
            line = {**dims, **{a: ZERO for a in LINE_AMOUNTS}, "line_count": 0}
            merged[key] = line
        for amount in AMOUNT_FIELDS:
            line[amount] = line[amount] + row[amount]
        line["line_count"] = int(line["line_count"]) + int(row["line_count"])  # type: ignore[call-overload]
    return [merged[k] for k in sorted(merged, key=lambda k: tuple(str(v) for v in k))]


@dataclass(frozen=True)
class _Resolved:
    cost_center: str
    rule: str  # api_key | workspace | unallocated
    pool: str | None  # console | unmapped | None (the key pays)


def _resolve(line: Line, mapping: Mapping) -> _Resolved:
    day = date.fromisoformat(str(line["billing_date"]))
    api_key = str(line["api_key_id"])
    owner = mapping.key_owner(api_key, day)
    if owner:
        return _Resolved(owner, "api_key", None)
    pool = "console" if not api_key else "unmapped"
    workspace_owner = mapping.workspace_owner(str(line["workspace_id"]), day)
    if workspace_owner:
        return _Resolved(workspace_owner, "workspace", pool)
    return _Resolved(UNALLOCATED, UNALLOCATED, pool)


def allocate(lines: list[Line], mapping: Mapping) -> list[Line]:
    """Allocation rows (``ALLOCATION_COLUMNS``) whose amounts add up exactly to the lines' amounts."""
    resolved = [_resolve(line, mapping) for line in lines]
    # key-attributed cost per (workspace, currency) and cost center: the weights of `proportional`
    weights: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line, res in zip(lines, resolved, strict=True):
        if res.pool is None:
            weights[(str(line["workspace_id"]), str(line["currency"]))][res.cost_center] += line["billed_cost"]  # type: ignore[operator]
    # the data's finest decimal, never coarser than a cent, so a split of whole amounts still reads naturally
    quantum = min(quantum_of([line[a] for line in lines for a in LINE_AMOUNTS]), CENT)  # type: ignore[misc]
    rows: list[Line] = []
    for line, res in zip(lines, resolved, strict=True):
        base = {c: line[c] for c in ALLOCATION_COLUMNS if c in line}
        recipients = _recipients(line, res, mapping, weights)
        if recipients is None:
            rows.append({**base, "cost_center": res.cost_center, "allocation_rule": res.rule, "share": 1.0})
            continue
        rule_name, shares = recipients
        centers = list(shares)
        split = {a: split_exact(line[a], list(shares.values()), quantum) for a in LINE_AMOUNTS}  # type: ignore[arg-type]
        counts = split_exact(Decimal(int(line["line_count"])), list(shares.values()), Decimal(1))  # type: ignore[call-overload]
        total_weight = sum(shares.values(), ZERO)
        for i, center in enumerate(centers):
            share = float(shares[center] / total_weight) if total_weight else 1.0 / len(centers)
            rows.append({
                **base,
                **{a: split[a][i] for a in LINE_AMOUNTS},
                "line_count": int(counts[i]),
                "cost_center": center,
                "allocation_rule": f"{res.pool}:{rule_name}",
                "share": share,
            })
    return rows


def _recipients(
    line: Line, res: _Resolved, mapping: Mapping, weights: dict[tuple[str, str], dict[str, Decimal]]
) -> tuple[str, dict[str, Decimal]] | None:
    """(rule name, weight per cost center) for a pool line that is shared, else None (it stays)."""
    if res.pool is None:
        return None
    rule = getattr(mapping.shared_costs, res.pool)
    if rule == "keep":
        return None
    if isinstance(rule, FixedShares):
        return "fixed", {c: w for c, w in sorted(rule.fixed.items()) if w > 0}
    used = weights.get((str(line["workspace_id"]), str(line["currency"])))
    if not used:
        return None
    centers = sorted(used)
    if rule == "even":
        return "even", {c: Decimal(1) for c in centers}
    positive = {c: used[c] for c in centers if used[c] > 0}
    if not positive:
        return "proportional", {c: Decimal(1) for c in centers}
    return "proportional", positive


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


def to_table(rows: Iterable[Line], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table with ``schema`` (column order and types of the public contract)."""
    rows = list(rows)
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}, schema=schema)


__all__ = ["ALLOCATION_SCHEMA", "LINE_COLUMNS", "LINE_SCHEMA", "allocate", "normalize_lines", "to_table"]
