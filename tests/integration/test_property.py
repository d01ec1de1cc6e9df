"""Property: for random bills and mappings, billed money in equals billed money out, by workspace and overall."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargeback.config.file import parse_config_file
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore
from tests.support.bills import v2_csv, v2_row

KEYS = ["", "2100001", "2100002", "2300003", "2400004"]
WORKSPACES = ["llm-ws0000000000000a", "llm-ws0000000000000b", "llm-ws0000000000000c"]
CENTERS = ["search", "research", "ads"]
RULES = ["keep", "even", "proportional", "{fixed: {search: 50, research: 30, ads: 20}}"]

amounts = st.decimals(min_value=0, max_value=1000, places=7, allow_nan=False, allow_infinity=False)
rows = st.lists(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(WORKSPACES), st.integers(1, 28), amounts,
              st.sampled_from(["CNY", "USD"])),
    min_size=1, max_size=25,
)
mappings = st.tuples(
    st.dictionaries(st.sampled_from(KEYS[1:]), st.tuples(st.sampled_from(CENTERS), st.integers(0, 28)), max_size=4),
    st.dictionaries(st.sampled_from(WORKSPACES), st.sampled_from(CENTERS), max_size=2),
    st.sampled_from(RULES), st.sampled_from(RULES),
)


def mapping_yaml(keys, workspaces, console, unmapped) -> str:
    lines = ["cost_centers:"]
    for center in CENTERS:
        key_items = [f'{{id: "{k}", from: 2026-05-{max(d, 1):02d}}}' if d else f'"{k}"'
                     for k, (c, d) in sorted(keys.items()) if c == center]
        ws_items = [w for w, c in sorted(workspaces.items()) if c == center]
        lines.append(f"  {center}: {{api_keys: [{', '.join(key_items)}], workspaces: [{', '.join(ws_items)}]}}")
    lines.append(f"shared_costs: {{console: {console}, unmapped: {unmapped}}}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, mappings)
def test_billed_money_in_equals_money_out(bill_rows, mapping_parts):
    mapping = parse_config_file(mapping_yaml(*mapping_parts))
    expected_ws: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    csv_rows = []
    for key, ws, day, amount, currency in bill_rows:
        channel = "" if key else "bmp"
        csv_rows.append(v2_row(f"{key};{ws};qwen-plus;input_token;{channel};0", str(amount),
                               date=f"202605{day:02d}", currency=currency))
        expected_ws[(ws, currency)] += amount
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src/bills/202605/20260520120000"
        src.mkdir(parents=True)
        (src / "1_2_consumeDetailBillV2_202605.csv").write_bytes(v2_csv(csv_rows))
        summary = run_month(LocalObjectStore(Path(tmp) / "src"), LocalObjectStore(Path(tmp) / "wh"), "2026-05",
                            mapping, now=datetime(2026, 5, 21, tzinfo=UTC))
        table = pq.read_table(Path(tmp) / "wh/allocations/billing_month=2026-05/allocations.parquet").to_pylist()
    got_ws: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in table:
        got_ws[(row["workspace_id"], row["currency"])] += row["billed_cost"]
    assert {k: v for k, v in got_ws.items()} == {k: v for k, v in expected_ws.items()}
    overall: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), value in expected_ws.items():
        overall[currency] += value
    assert summary.totals == dict(overall)
    assert sum(r["line_count"] for r in table) == len(bill_rows)
    assert all(r["cost_center"] in [*CENTERS, "unallocated", *WORKSPACES] for r in table)


# ---------------------------------------------------------------------------------------------- rules, splits, pools

SHARED_KEY = "2100001"
CONSUMERS = ["team-a", "team-b", "search", "ghost"]  # 'search' is a cost center, 'ghost' nobody's
MATCHES = ['{model: "qwen-max*"}', "{call_source: console}", f"{{workspace: {WORKSPACES[1]}}}",
           '{tag.team: "*"}', f'{{api_key: "{KEYS[2]}", model: qwen-plus}}', '{io_type: output}']

normalized = st.lists(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(WORKSPACES), st.integers(1, 28),
              st.decimals(min_value=-50, max_value=1000, places=7, allow_nan=False, allow_infinity=False),
              st.sampled_from(["CNY", "USD"]), st.sampled_from(["qwen-max", "qwen-max-latest", "qwen-plus"]),
              st.sampled_from(["input", "output"]), st.sampled_from(["", "team=search", "env=prod;team=ads"]),
              st.integers(1, 5)),
    min_size=1, max_size=30,
)
rule_sets = st.lists(st.tuples(st.sampled_from(MATCHES), st.sampled_from(CENTERS), st.integers(0, 28)), max_size=4)
usage_records = st.lists(st.tuples(st.integers(1, 28), st.sampled_from(CONSUMERS), st.integers(0, 1000),
                                   st.sampled_from(["qwen-max", "qwen-plus"])), max_size=12)


def full_mapping(keys, workspaces, console, unmapped, rules, split: bool) -> str:
    text = mapping_yaml(keys, workspaces, console, unmapped)
    # the rules' different match sets may overlap: first match wins, which is what is tested
    seen: set[str] = set()
    items = []
    for match, center, day in rules:
        if match in seen:
            continue
        seen.add(match)
        items.append(f"  - {{match: {match}, cost_center: {center}" + (f", from: 2026-05-{day:02d}}}" if day else "}"))
    if items:
        text += "rules:\n" + "\n".join(items) + "\n"
    if split:
        text += (f'usage_splits:\n  - {{api_key: "{SHARED_KEY}", source: gateway.csv, '
                 "consumers: {team-a: research, team-b: ads}}\n")
    return text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(normalized, mappings, rule_sets, usage_records, st.booleans(), st.booleans())
def test_money_in_equals_money_out_with_rules_splits_and_pools(lines_in, mapping_parts, rules, records, split,
                                                               by_model):
    from chargeback.allocation.allocate import allocate_lines, to_table
    from chargeback.allocation.usage import UsageData, read_usage
    from chargeback.bills.normalize import LINE_SCHEMA
    from chargeback.columns import LINE_AMOUNTS, LINE_DIMENSIONS, LINE_FLAGS

    mapping = parse_config_file(full_mapping(*mapping_parts, rules, split))
    lines = []
    for key, ws, day, amount, currency, model, io_type, tags, count in lines_in:
        row: dict[str, object] = {d: "" for d in LINE_DIMENSIONS}
        row.update({f: False for f in LINE_FLAGS})
        row.update(billing_month="2026-05", billing_date=f"2026-05-{day:02d}", workspace_id=ws, api_key_id=key,
                   model=model, io_type=io_type, currency=currency, call_source="api" if key else "console",
                   tags=tags)
        row.update({a: amount if a == "billed_cost" else abs(amount) for a in LINE_AMOUNTS}, line_count=count)
        lines.append(row)
    csv = "date,consumer,tokens" + (",model" if by_model else "") + "\n" + "".join(
        f"2026-05-{day:02d},{consumer},{tokens}" + (f",{model}" if by_model else "") + "\n"
        for day, consumer, tokens, model in records)
    usage = UsageData({SHARED_KEY: read_usage(csv.encode(), "gateway.csv", SHARED_KEY)}, "x") if split \
        else UsageData()
    table = to_table(lines, LINE_SCHEMA)  # tags are a line column
    rows = allocate_lines(table, mapping, usage).table.to_pylist()

    def grouped(items, amount: str) -> dict[tuple, Decimal]:
        out: dict[tuple, Decimal] = defaultdict(Decimal)
        for r in items:
            out[(r["billing_date"], r["workspace_id"], r["api_key_id"], r["model"], r["io_type"],
                 r["currency"])] += Decimal(r[amount])
        return {k: v for k, v in out.items()}

    for amount in (*LINE_AMOUNTS, "line_count"):  # every line's every amount, exactly, wherever it went
        assert grouped(rows, amount) == grouped(lines, amount)
    shared_in = sum((r["billed_cost"] for r in lines if r["api_key_id"] == SHARED_KEY), Decimal(0))
    assert sum((r["billed_cost"] for r in rows if r["api_key_id"] == SHARED_KEY), Decimal(0)) == shared_in
    assert all(r["cost_center"] in [*CENTERS, "unallocated"] for r in rows)
    assert all(r["reporting_billed_cost"] == r["billed_cost"] for r in rows)
    if split and any(t > 0 for _, _, t, _ in records):
        assert {r["allocation_rule"] for r in rows if r["api_key_id"] == SHARED_KEY} <= {
            "usage_split", "usage_split:unknown"}
