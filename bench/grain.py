"""Every contender's result brought to the allocation grain and compared, group by group, with the generator's.

The grain is (billing date, account, workspace, API key, model, usage type, channel, fee type, currency, unit,
list price) with exact sums of usage, list cost, discount, coupon and payable and the count of bill lines. A
contender's output is read after its timed run: the peers' Parquet file as written, and the pipeline's
``lines/billing_month=M/lines.parquet``, whose finer grain (commodity, billing item, region, ... all given by
the instance) is summed up to the same keys and whose fee types are mapped back to the bill's words. Dates
become YYYY-MM-DD, prices and amounts plain decimal text, so equal numbers compare equal however they are
typed. Nothing here is timed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from billgen import AMOUNTS, GRAIN, Dataset, plain, summarize
from chargeback.warehouse.tables import in_pipeline_types

# The pipeline's fee-type vocabulary back to the bill's (chargeback.columns: fee_type).
OUR_FEE_TYPES = {"pay_as_you_go": "云资源按量费用", "free_quota": "免费额度"}

Key = tuple[str, ...]
Sums = tuple[Decimal | int, ...]  # AMOUNTS, then line_count


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _price(value: Any) -> str:
    text = _text(value).strip()
    try:
        return plain(Decimal(text)) if text else ""
    except ArithmeticError:
        return text


def rows_to_grain(rows: list[dict[str, Any]], *, fee_types: dict[str, str] | None = None) -> dict[Key, Sums]:
    """Grain rows keyed and summed (rows already at the grain stay as they are)."""
    out: dict[Key, list[Any]] = {}
    for row in rows:
        key = [_text(row[name]) for name in GRAIN]
        key[GRAIN.index("list_unit_price")] = _price(row["list_unit_price"])
        if fee_types:
            at = GRAIN.index("fee_type")
            key[at] = fee_types.get(key[at], key[at])
        sums = out.setdefault(tuple(key), [Decimal(0)] * len(AMOUNTS) + [0])
        for i, name in enumerate(AMOUNTS):
            sums[i] += row[name] if row[name] is not None else Decimal(0)
        sums[-1] += int(row["line_count"])
    return {key: tuple(value) for key, value in out.items()}


def read_parquet_rows(path: Path) -> list[dict[str, Any]]:
    """The published lines' grain and sums, in the pipeline's types (``billing_date`` as ISO text)."""
    return in_pipeline_types(pq.read_table(path, columns=[*GRAIN, *AMOUNTS, "line_count"])).to_pylist()


def expected_grain(dataset: Dataset) -> dict[Key, Sums]:
    return rows_to_grain(dataset.expected_grain())


def compare(got: dict[Key, Sums], want: dict[Key, Sums]) -> list[str]:
    """What differs (empty when every group and every sum is equal)."""
    if got == want:
        return []
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differing = [k for k in want if k in got and got[k] != want[k]]
    problems = [f"{len(got)} groups, {len(want)} expected: {len(missing)} missing, {len(extra)} unexpected, "
                f"{len(differing)} with other sums"]
    for label, keys in (("missing", missing), ("unexpected", extra)):
        problems += [f"{label}: {dict(zip(GRAIN, k, strict=True))}" for k in keys[:2]]
    for k in differing[:3]:
        names = [*AMOUNTS, "line_count"]
        diffs = {n: (str(a), str(b)) for n, a, b in zip(names, got[k], want[k], strict=True) if a != b}
        problems.append(f"at {dict(zip(GRAIN, k, strict=True))}: (got, expected) {diffs}")
    return problems


def totals(grain: dict[Key, Sums]) -> dict[str, Any]:
    """The summary roll-up of a grain (the same one the generator writes into dataset.json)."""
    rows = [{**dict(zip(GRAIN, k, strict=True)), **dict(zip([*AMOUNTS, "line_count"], v, strict=True))}
            for k, v in grain.items()]
    return summarize(rows)


def check_ours(warehouse: Path, month: str, dataset: Dataset) -> tuple[dict[Key, Sums] | None, list[str]]:
    """The pipeline's grain from its warehouse, and what its manifest says that it should not."""
    lines = warehouse / "lines" / f"billing_month={month}" / "lines.parquet"
    manifest_path = warehouse / "manifests" / f"billing_month={month}" / "manifest.json"
    if not lines.exists() or not manifest_path.exists():
        return None, [f"no lines.parquet or manifest.json for billing_month={month} in the warehouse"]
    grain = rows_to_grain(read_parquet_rows(lines), fee_types=OUR_FEE_TYPES)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    want = {cur: Decimal(v) for cur, v in dataset.expected["billed_cost"].items()}
    got = {cur: Decimal(str(v)) for cur, v in (manifest.get("totals") or {}).items()}
    if got != want:
        problems.append(f"manifest totals {manifest.get('totals')} != expected {dataset.expected['billed_cost']}")
    counts = manifest.get("counts") or {}
    for ours, theirs in (("model_studio_rows", "rows_model_studio"), ("other_product_rows", "rows_other_product")):
        if counts.get(ours) != dataset.expected[theirs]:
            problems.append(f"manifest counts.{ours} {counts.get(ours)} != {dataset.expected[theirs]}")
    return grain, problems
