"""The ``warehouse`` section: a year of 1M allocation rows a month, and how fast ``chargeback costs`` asks it.

The warehouse is built through the product's own code, month by month: generated normalized lines (the
table the bill reader hands on) are allocated with a generated mapping (``allocation.allocate_table``),
summed (``queries.summary.cost_summary``) and published with ``warehouse.publish.publish_month``: lines,
allocations, cost summary, manifest last, the layout and bytes of ``chargeback allocate`` without the CSV
and FOCUS copies, which the queries do not read and which would take most of the hour a year of 1M-row
months needs to build that way.

The lines have the structure of a large organisation: 24 workspaces on two accounts (CNY and USD), about
450 API keys of 40 cost centers (a tenth unmapped), each calling 20 token models (input, output and cached
input) and some an image and a video model, console calls shared in proportion, 3% free-quota lines; every
instance is used every day, so a month holds about ``rows`` allocation rows (one per day, instance, fee
type and cost center).

Then, median of ``--query-repeat`` runs each:

- ``costs``: ``ask_costs`` grouped by model over the 12 months, in one process (the query alone);
- ``costs_command``: ``chargeback costs ... --by model --format json`` as a fresh process (start-up included);
- ``costs_by_day``: ``ask_costs`` grouped by billing date (reads the allocations, not the summary);
- ``duckdb_allocations``: one DuckDB SQL query over the allocations' Parquet, grouped by model and currency
  with the same exact sums: the query a user would write without the summary.

Every answer is checked against the exact totals the generator summed (in integers of 1e-12), and the two
answers by model against each other, group by group.

    python bench/warehouse.py --out bench/data/warehouse --months 12 --rows 1000000   # build only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).resolve().parent
FIRST_MONTH = "2025-01"
GENERATOR_VERSION = "1"
TARGET_QUERY_S = 0.5  # "well under a second" (issue 15)
SCALE = 12

CNY_ACCOUNT, USD_ACCOUNT = "1000000000000001", "5000000000000001"
# (model, usage types with their list price per unit, unit, billing item)
TOKEN_MODELS_CNY = [(f"qwen-bench-{i:02d}", (("input_token", 4 + i * 3), ("output_token", 16 + i * 12),
                                             ("input_token_cache", 1 + i)))
                    for i in range(26)]
TOKEN_MODELS_USD = [(f"qwen-intl-{i:02d}", (("input_token", 2 + i), ("output_token", 8 + i * 4))) for i in range(6)]
IMAGE_MODEL = ("wanx-bench-image", (("images", 2_000_000),))  # 0.2 per image, in units of 1e-7
VIDEO_MODEL = ("happyhorse-bench", (("1080P", 16_000_000),))  # 1.6 per second


def _months(first: str, count: int) -> list[str]:
    year, month = int(first[:4]), int(first[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _days(month: str) -> list[str]:
    import calendar

    year, mon = int(month[:4]), int(month[5:])
    return [f"{month}-{d:02d}" for d in range(1, calendar.monthrange(year, mon)[1] + 1)]


def _decimal_array(units: np.ndarray, scale_from: int = 7) -> pa.Array:
    """decimal128(38, 12) values from non-negative int64 integers of 10**-scale_from."""
    low = units.astype(np.int64) * 10 ** (SCALE - scale_from)
    words = np.empty(2 * len(low), np.int64)
    words[0::2], words[1::2] = low, low >> 63
    return pa.Array.from_buffers(pa.decimal128(38, SCALE), len(low), [None, pa.py_buffer(words.tobytes())])


def instances(rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The month's instances (about ``rows / 30``), each with its account, workspace, key, model and price."""
    wanted = max(1, rows // 30)
    workspaces = [f"llm-bench{i:04d}cny0000" for i in range(20)] + [f"llm-bench{i:04d}usd0000" for i in range(4)]
    columns: dict[str, list[Any]] = {k: [] for k in ("account", "workspace", "api_key", "model", "usage_type",
                                                     "price", "unit", "item", "channel", "currency")}

    def add(account: str, workspace: str, key: str, model: str, usage_type: str, price: int, unit: str,
            item: str, channel: str, currency: str) -> None:
        for name, value in zip(columns, (account, workspace, key, model, usage_type, price, unit, item, channel,
                                         currency), strict=True):
            columns[name].append(value)

    key_number = 2_100_000
    while len(columns["model"]) < wanted:
        key_number += 1
        usd = key_number % 10 == 0
        workspace = workspaces[20 + key_number % 4] if usd else workspaces[key_number % 20]
        account, currency = (USD_ACCOUNT, "USD") if usd else (CNY_ACCOUNT, "CNY")
        models = TOKEN_MODELS_USD if usd else TOKEN_MODELS_CNY
        for index in rng.choice(len(models), size=min(len(models), 20), replace=False):
            model, types = models[index]
            for usage_type, price in types:
                add(account, workspace, str(key_number), model, usage_type, price, "千tokens", "token_number", "",
                    currency)
        if not usd and key_number % 7 == 0:
            for model, types in (IMAGE_MODEL, VIDEO_MODEL):
                usage_type, price = types[0]
                unit, item = ("张", "image_number") if model == IMAGE_MODEL[0] else ("秒", "video_duration")
                add(account, workspace, str(key_number), model, usage_type, price, unit, item, "", currency)
    for workspace in workspaces[:20]:  # console calls in every CNY workspace
        for model, types in TOKEN_MODELS_CNY[:4]:
            for usage_type, price in types:
                add(CNY_ACCOUNT, workspace, "", model, usage_type, price, "千tokens", "token_number", "bmp", "CNY")
    return {k: np.array(v) for k, v in columns.items()}


def _instance_columns(inst: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """The text columns of each instance, made once and taken for every day."""
    key, workspace, model = inst["api_key"].tolist(), inst["workspace"].tolist(), inst["model"].tolist()
    usage_type, channel, price = inst["usage_type"].tolist(), inst["channel"].tolist(), inst["price"].tolist()
    io_type = ["cached_input" if "cache" in t else "input" if t.endswith("input_token")
               else "output" if t.endswith("output_token") else "unit"
               for t in usage_type]
    currency = inst["currency"].tolist()
    return {
        "account_id": pa.array(inst["account"].tolist()), "payer_account_id": pa.array(inst["account"].tolist()),
        "commodity_code": pa.array(["sfm_inference_public_intl" if c == "USD" else "sfm_inference_public_cn"
                                    for c in currency]),
        "billing_item": pa.array(inst["item"].tolist()),
        "instance_id": pa.array([";".join(parts) + ";0" for parts in zip(key, workspace, model, usage_type, channel,
                                                                         strict=True)]),
        "workspace_id": pa.array(workspace), "api_key_id": pa.array(key), "model": pa.array(model),
        "usage_type": pa.array(usage_type), "io_type": pa.array(io_type), "channel": pa.array(channel),
        "call_source": pa.array(["api" if k else "console" for k in key]), "currency": pa.array(currency),
        "usage_unit": pa.array(inst["unit"].tolist()),
        "price_unit": pa.array(["元/" + u for u in inst["unit"].tolist()]),
        "list_unit_price": pa.array([str(Decimal(p).scaleb(-7).normalize()) for p in price]),
    }


def month_lines(month: str, inst: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[pa.Table, dict[str, int]]:
    """The month's normalized lines (``LINE_SCHEMA``): every instance on every day; a few free-quota lines.

    Returns the lines and the exact billed total per currency in integers of 1e-12.
    """
    from chargeback.bills.normalize import LINE_SCHEMA

    days = _days(month)
    n_inst, n = len(inst["model"]), len(inst["model"]) * len(days)
    pick = np.tile(np.arange(n_inst), len(days))
    day = np.repeat(np.array(days), n_inst)
    is_token = inst["unit"][pick] == "千tokens"
    usage = np.where(is_token, rng.integers(1, 5_000_000, n), rng.integers(1, 40, n) * 1000)  # 1e-3 units
    free = (rng.random(n) < 0.03) & is_token
    price = inst["price"][pick]  # 1e-7 per unit
    list_cost = usage * price // 1000  # 1e-7, rounded down as the bill rounds its list price x usage
    promoted = (inst["model"][pick] == VIDEO_MODEL[0])
    discount = np.where(promoted, list_cost // 5, 0)
    billed = np.where(free, 0, list_cost - discount)
    list_cost, discount = np.where(free, 0, list_cost), np.where(free, 0, discount)
    deducted = np.where(free, usage, 0)
    billed_usage = np.where(free, 0, usage)

    per_instance = _instance_columns(inst)
    taken = pa.array(pick)

    def take(name: str) -> pa.Array:
        return per_instance[name].take(taken)

    free_mask = pa.array(free)
    columns = {
        "billing_month": pa.array([month] * n), "billing_date": pa.array(day),
        **{name: take(name) for name in ("account_id", "payer_account_id", "commodity_code", "billing_item",
                                         "instance_id", "workspace_id", "api_key_id", "model", "usage_type",
                                         "io_type", "channel", "call_source", "currency", "usage_unit",
                                         "price_unit")},
        "product_code": pa.array(["sfm"] * n), "context_tier": pa.array([""] * n),
        "free_quota_stop": pa.array(["0"] * n), "region": pa.array(["cn-beijing"] * n),
        "fee_type": pa.array(np.where(free, "free_quota", "pay_as_you_go")),
        "list_unit_price": pc.if_else(free_mask, "0", take("list_unit_price")),
        "usage": _decimal_array(billed_usage, 3), "usage_before_deduction": _decimal_array(usage, 3),
        "deducted_usage": _decimal_array(deducted, 3), "list_cost": _decimal_array(list_cost),
        "discount": _decimal_array(discount), "coupon": _decimal_array(np.zeros(n, np.int64)),
        "billed_cost": _decimal_array(billed), "line_count": pa.array(rng.integers(1, 1441, n)),
    }
    zero = _decimal_array(np.zeros(n, np.int64))
    for field in LINE_SCHEMA:  # what the generated bills do not vary: no names, tags or plans, no batch calls
        if field.name not in columns:
            columns[field.name] = (pa.array([False] * n) if pa.types.is_boolean(field.type)
                                   else zero if pa.types.is_decimal(field.type) else pa.array([""] * n))
    table = pa.table({name: columns[name] for name in LINE_SCHEMA.names}).cast(LINE_SCHEMA)
    currency = inst["currency"][pick]
    totals = {c: int(billed[currency == c].sum()) * 10 ** (SCALE - 7) for c in sorted(set(currency.tolist()))}
    return table, totals


def mapping_yaml(inst: dict[str, np.ndarray]) -> str:
    """40 cost centers owning the API keys (a tenth left unmapped), console shared in proportion."""
    keys = sorted({k for k in inst["api_key"].tolist() if k})
    centers: dict[int, list[str]] = {}
    for index, key in enumerate(keys):
        if index % 10 != 9:
            centers.setdefault(index % 40, []).append(key)
    lines = ["cost_centers:"]
    for center, owned in sorted(centers.items()):
        lines.append(f"  cc{center:02d}:")
        lines.append(f"    api_keys: [{', '.join(repr(k) for k in owned)}]")
    lines += ["shared_costs:", "  console: proportional", "  unmapped: keep"]
    return "\n".join(lines) + "\n"


def fingerprint(months: int, rows: int) -> str:
    source = Path(__file__).read_bytes()
    return hashlib.sha256(f"{GENERATOR_VERSION}:{months}:{rows}:".encode() + source).hexdigest()[:16]


def build(root: Path, months: int, rows: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Build (or reuse) the warehouse under ``root``; returns its description with the expected totals."""
    from chargeback.allocation.allocate import allocate_table
    from chargeback.config.file import parse_config_file
    from chargeback.pricing.catalog import load_catalog
    from chargeback.queries.summary import cost_summary
    from chargeback.storage import LocalObjectStore
    from chargeback.warehouse import layout
    from chargeback.warehouse.manifest import Counts, Manifest
    from chargeback.warehouse.publish import parquet_bytes, publish_month

    stamp = root / "warehouse.json"
    wanted = fingerprint(months, rows)
    if stamp.exists():
        described: dict[str, Any] = json.loads(stamp.read_text(encoding="utf-8"))
        if described.get("fingerprint") == wanted:
            log(f"warehouse: reusing {root}")
            return described
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    store = LocalObjectStore(root / "wh")
    rng = np.random.default_rng(2026)
    inst = instances(rows, rng)
    mapping_text = mapping_yaml(inst)
    (root / "mapping.yaml").write_text(mapping_text, encoding="utf-8")
    mapping = parse_config_file(mapping_text, source=str(root / "mapping.yaml"))
    started = time.perf_counter()
    totals: dict[str, int] = {}
    rows_by_month: dict[str, int] = {}
    now = datetime(2026, 1, 5, 10, tzinfo=UTC)
    catalog = load_catalog(mapping.prices)
    for month in _months(FIRST_MONTH, months):
        lines, month_totals = month_lines(month, inst, rng)
        for currency, value in month_totals.items():
            totals[currency] = totals.get(currency, 0) + value
        allocations = allocate_table(lines, mapping)
        summary = cost_summary(allocations, catalog)
        manifest = Manifest(month=month, status="final", fingerprint=f"bench {month}", ingested_at=now,
                            family="v2", mapping_version=mapping.version, allocated=True,
                            counts=Counts(lines=lines.num_rows, allocation_rows=allocations.num_rows),
                            totals={c: Decimal(v).scaleb(-SCALE) for c, v in sorted(month_totals.items())})
        publish_month(store, [(layout.lines_key(month), lambda t=lines: parquet_bytes(t)),
                              (layout.allocations_key(month), lambda t=allocations: parquet_bytes(t)),
                              (layout.costs_key(month), lambda t=summary: parquet_bytes(t))], manifest, None)
        rows_by_month[month] = allocations.num_rows
        log(f"warehouse: {month}: {lines.num_rows:,d} lines, {allocations.num_rows:,d} allocation rows, "
            f"{summary.num_rows:,d} summary rows ({time.perf_counter() - started:.0f} s)")
        del lines, allocations, summary
    sizes = {table: sum(p.stat().st_size for p in (root / "wh" / table).rglob("*.parquet"))
             for table in ("allocations", "costs")}
    described = {"fingerprint": wanted, "months": _months(FIRST_MONTH, months), "instances": len(inst["model"]),
                 "allocation_rows": rows_by_month, "parquet_bytes": sizes,
                 "totals": {c: str(Decimal(v).scaleb(-SCALE)) for c, v in sorted(totals.items())},
                 "build_seconds": round(time.perf_counter() - started)}
    stamp.write_text(json.dumps(described, indent=2) + "\n", encoding="utf-8")
    return described


# ---------------------------------------------------------------------------------------------------------
# The section


def _timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def _stats(seconds: list[float]) -> dict[str, Any]:
    return {"median_seconds": round(median(seconds), 3), "min_seconds": round(min(seconds), 3),
            "max_seconds": round(max(seconds), 3), "runs": [round(s, 3) for s in seconds]}


DUCKDB_QUERY = """
SELECT model, currency, sum(billed_cost) AS billed_cost, sum(list_cost) AS list_cost,
       sum(discount) AS discount, sum(coupon) AS coupon, sum(line_count) AS line_count
FROM read_parquet({files}) GROUP BY ALL
"""


def run_section(ctx: Any) -> dict[str, Any]:
    from chargeback.queries.costs import CostQuery, ask_costs
    from chargeback.storage import LocalObjectStore
    from measure import measure

    args = ctx.args
    root = Path(ctx.data_dir) / f"warehouse-{args.warehouse_months}x{args.warehouse_rows}"
    described = build(root, args.warehouse_months, args.warehouse_rows, ctx.log)
    months = described["months"]
    store = LocalObjectStore(root / "wh")
    expected = {c: Decimal(v) for c, v in described["totals"].items()}
    problems: list[str] = []
    repeat = args.query_repeat

    def check(name: str, totals: dict[str, Decimal]) -> None:
        if totals != expected:
            problems.append(f"{name}: totals {totals} differ from the generator's {expected}")

    by_model = CostQuery(months[0], months[-1], by=("model",))
    costs_seconds, answer = _timed(lambda: ask_costs(store, by_model), repeat)
    check("costs by model", {t.currency: t.billed_cost for t in answer.totals})
    if answer.problems:
        problems += [p.message for p in answer.problems]
    ours = {(r.keys["model"], r.currency): r.billed_cost for r in answer.rows}

    by_day = CostQuery(months[0], months[-1], by=("billing_date",))
    day_seconds, day_answer = _timed(lambda: ask_costs(store, by_day), max(1, repeat // 2))
    check("costs by billing_date", {t.currency: t.billed_cost for t in day_answer.totals})

    command = [*ctx.chargeback, "costs", "--warehouse", (root / "wh").as_uri(), "--month", months[0], "--to",
               months[-1], "--by", "model", "--format", "json"]
    command_runs = [measure(command, timeout=600) for _ in range(repeat)]
    for run in command_runs:
        if run.returncode != 0:
            problems.append(f"chargeback costs: exit {run.returncode}: {run.stderr.strip()[-300:]}")
    if command_runs and command_runs[-1].returncode == 0:
        document = json.loads(command_runs[-1].stdout)
        check("chargeback costs", {t["currency"]: Decimal(t["billed_cost"]) for t in document["totals"]})

    duck: dict[str, Any] = {}
    try:
        import duckdb
    except ImportError:
        duck = {"error": "duckdb is not installed"}
    else:
        files = sorted(str(p) for p in (root / "wh" / "allocations").rglob("*.parquet"))
        connection = duckdb.connect()
        connection.execute(f"SET threads = {max(1, __import__('os').cpu_count() or 1)}")
        duck_seconds, result = _timed(
            lambda: connection.sql(DUCKDB_QUERY.format(files=files)).fetchall(), max(1, repeat // 2))
        theirs = {(model, currency): billed for model, currency, billed, *_ in result}
        if theirs != ours:
            differing = len(set(theirs.items()) ^ set(ours.items()))
            problems.append(f"DuckDB's billed cost by model differs from ours in {differing} groups")
        duck = {**_stats(duck_seconds), "engine": f"duckdb {duckdb.__version__}"}

    section = {
        "warehouse": described,
        "query": f"costs --month {months[0]} --to {months[-1]} --by model",
        "groups": len(answer.rows),
        "costs": _stats(costs_seconds),
        "costs_command": {**_stats([r.seconds for r in command_runs]),
                          "peak_rss_mb": max((r.peak_rss_mb for r in command_runs), default=None),
                          "median_cpu_seconds": round(median(r.cpu_seconds for r in command_runs), 3),
                          "load": [min(r.load_before for r in command_runs), max(r.load_after for r in command_runs)]},
        "costs_by_day": {**_stats(day_seconds), "groups": len(day_answer.rows)},
        "duckdb_allocations": duck,
        "problems": problems,
    }
    section["targets"] = [{"target": "a grouped `costs` query over 12 months of 1M rows (the query, in process)",
                           "measured": section["costs"]["median_seconds"], "limit": TARGET_QUERY_S, "unit": "s",
                           "ok": section["costs"]["median_seconds"] < TARGET_QUERY_S}]
    ctx.log(f"warehouse: costs by model {section['costs']['median_seconds']:.3f} s in process, "
            f"{section['costs_command']['median_seconds']:.3f} s as a command; by day "
            f"{section['costs_by_day']['median_seconds']:.2f} s; DuckDB over the allocations "
            f"{duck.get('median_seconds', 'n/a')} s")
    return section


def render_section(section: dict[str, Any]) -> list[str]:
    w = section["warehouse"]
    rows = sum(w["allocation_rows"].values())
    mb = {k: v / (1024 * 1024) for k, v in w["parquet_bytes"].items()}
    recorded = f" (recorded {section['recorded_at'][:10]})" if section.get("recorded_at") else ""
    per_month = rows // len(w["months"])
    lines = [
        f"**Asking the warehouse**{recorded}. A warehouse of {len(w['months'])} months, {rows:,d} allocation rows "
        f"({per_month:,d} a month, {w['instances']:,d} instances every day), allocated and published in "
        f"{w['build_seconds']} s: {mb['allocations']:,.0f} MB of allocations Parquet, {mb['costs']:,.1f} MB of cost "
        f"summaries. The question: `{section['query']}` ({section['groups']} groups). Median of "
        f"{len(section['costs']['runs'])} runs:",
        "",
        "| how | wall s (min to max) | |",
        "|---|---:|---|",
    ]

    def line(label: str, entry: dict[str, Any], note: str = "") -> None:
        if entry.get("median_seconds") is None:
            lines.append(f"| {label} | {entry.get('error', 'not measured')} | |")
            return
        lines.append(f"| {label} | {entry['median_seconds']:.3f} ({entry['min_seconds']:.3f} to "
                     f"{entry['max_seconds']:.3f}) | {note} |")

    line("`ask_costs`, by model, in process (reads the cost summaries)", section["costs"])
    cmd = section["costs_command"]
    line("`chargeback costs --by model --format json`, a fresh process", cmd,
         f"start-up included; CPU {cmd['median_cpu_seconds']:.2f} s, peak RSS {cmd['peak_rss_mb']:.0f} MB")
    line("`ask_costs`, by billing date (reads the allocations)", section["costs_by_day"],
         f"{section['costs_by_day']['groups']:,d} groups")
    duck = section["duckdb_allocations"]
    line(f"{duck.get('engine', 'DuckDB')}, one SQL query by model over the allocations", duck, "same sums")
    for t in section["targets"]:
        lines.append("")
        lines.append(f"Target (issue 15): {t['target']} < {t['limit']:g} s: {t['measured']:.3f} s, "
                     f"{'pass' if t['ok'] else '**fail**'}.")
    return lines


def section_problems(section: dict[str, Any]) -> list[str]:
    return list(section["problems"])


def failed_targets(section: dict[str, Any]) -> list[str]:
    return [t["target"] for t in section["targets"] if not t["ok"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE / "data" / "warehouse"))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    described = build(Path(args.out), args.months, args.rows, lambda text: print(text, file=sys.stderr))
    print(json.dumps(described, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
