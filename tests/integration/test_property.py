"""Property: for random bills and mappings, billed money in equals billed money out, by workspace and overall."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import datetime
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
                            mapping, now=datetime(2026, 5, 21))
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
