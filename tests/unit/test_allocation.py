"""Sharing rules and resolution, on hand-made normalized lines."""

from decimal import Decimal

from chargeback.allocation.allocate import allocate
from chargeback.columns import LINE_AMOUNTS, LINE_DIMENSIONS, LINE_FLAGS
from chargeback.config.file import load_config_file, parse_config_file

WS = "llm-ws0000000000000a"
WS2 = "llm-ws0000000000000b"


def line(api_key: str, cost: str, *, ws: str = WS, day: str = "2026-05-14", currency: str = "CNY", count: int = 1):
    row: dict[str, object] = {d: "" for d in LINE_DIMENSIONS}
    row.update({f: False for f in LINE_FLAGS})
    row.update(billing_month="2026-05", billing_date=day, workspace_id=ws, api_key_id=api_key, model="qwen-plus",
               currency=currency, fee_type="pay_as_you_go")
    row.update({a: Decimal(0) for a in LINE_AMOUNTS})
    row.update(billed_cost=Decimal(cost), list_cost=Decimal(cost), usage=Decimal("3"), line_count=count)
    return row


MAPPING = f"""
cost_centers:
  search: {{workspaces: [{WS}], api_keys: ["1"]}}
  research: {{api_keys: [{{id: "2", from: 2026-05-10}}]}}
shared_costs: {{console: {{console}}, unmapped: {{unmapped}}}}
"""


def mapping(console: str = "keep", unmapped: str = "keep"):
    return parse_config_file(MAPPING.replace("{console}", console).replace("{unmapped}", unmapped))


def by_center(rows):
    out: dict[str, Decimal] = {}
    for row in rows:
        out[row["cost_center"]] = out.get(row["cost_center"], Decimal(0)) + row["billed_cost"]
    return out


LINES = [line("1", "3.00"), line("2", "1.00"), line("", "1.0000001"), line("9", "0.5")]


def test_keep_leaves_pools_with_the_workspace():
    rows = allocate(LINES, mapping())
    assert by_center(rows) == {"search": Decimal("4.5000001"), "research": Decimal("1.00")}
    rules = {(r["api_key_id"], r["allocation_rule"]) for r in rows}
    assert rules == {("1", "api_key"), ("2", "api_key"), ("", "workspace"), ("9", "workspace")}


def test_proportional_splits_by_key_cost_in_the_workspace():
    rows = allocate(LINES, mapping(console="proportional"))
    console = [r for r in rows if r["api_key_id"] == ""]
    assert {r["cost_center"]: r["billed_cost"] for r in console} == {
        "research": Decimal("0.2500000"), "search": Decimal("0.7500001")}
    assert {r["allocation_rule"] for r in console} == {"console:proportional"}
    assert sum(r["billed_cost"] for r in console) == Decimal("1.0000001")
    assert sorted(r["share"] for r in console) == [0.25, 0.75]


def test_even_and_fixed():
    even = [r for r in allocate(LINES, mapping(unmapped="even")) if r["api_key_id"] == "9"]
    assert sorted(r["billed_cost"] for r in even) == [Decimal("0.25"), Decimal("0.25")]
    fixed = [r for r in allocate(LINES, mapping(console="{fixed: {search: 60, research: 40}}"))
             if r["api_key_id"] == ""]
    assert {r["cost_center"]: r["billed_cost"] for r in fixed} == {
        "research": Decimal("0.4000000"), "search": Decimal("0.6000001")}


def test_pool_without_key_users_stays():
    lonely = [line("", "2", ws=WS2)]
    rows = allocate(lonely, mapping(console="proportional"))
    assert [(r["cost_center"], r["allocation_rule"]) for r in rows] == [("unallocated", "unallocated")]


def test_effective_dated_key_before_its_start_falls_back_to_workspace():
    rows = allocate([line("2", "1", day="2026-05-09"), line("2", "1", day="2026-05-10")], mapping())
    assert [(r["billing_date"], r["cost_center"], r["allocation_rule"]) for r in rows] == [
        ("2026-05-09", "search", "workspace"), ("2026-05-10", "research", "api_key")]


def test_default_mapping_makes_each_workspace_its_own_cost_center():
    rows = allocate([line("1", "1"), line("", "2", ws=WS2)], load_config_file(None))
    assert by_center(rows) == {WS: Decimal("1"), WS2: Decimal("2")}


def test_currencies_are_weighted_separately():
    lines = [line("1", "5", currency="CNY"), line("2", "5", currency="USD"), line("", "1", currency="USD")]
    rows = allocate(lines, mapping(console="proportional"))
    console = [r for r in rows if r["api_key_id"] == ""]
    assert [(r["cost_center"], r["currency"], r["billed_cost"]) for r in console] == [("research", "USD", Decimal("1"))]


def test_line_counts_and_other_amounts_are_split_exactly():
    rows = allocate([line("1", "3"), line("2", "1"), line("", "1", count=5)], mapping(console="even"))
    console = [r for r in rows if r["api_key_id"] == ""]
    assert sum(r["line_count"] for r in console) == 5
    assert sum(r["usage"] for r in console) == Decimal("3")
    assert sum(r["list_cost"] for r in console) == Decimal("1")
