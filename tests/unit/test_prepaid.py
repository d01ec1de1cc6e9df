"""Prepaid plans on hand-made normalized lines: what a plan covered (at list value) and what the usage cost
with the plan's amortized cost, split with the rows, priced by the configuration or the bill's deduction; the
billed totals stay the bill's payable."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from chargeback.allocation.allocate import allocate
from chargeback.allocation.prepaid import amortized, charged
from chargeback.columns import LINE_AMOUNTS, LINE_DIMENSIONS, LINE_FLAGS
from chargeback.config.file import parse_config_file
from chargeback.config.prepaid import PlanPrice
from chargeback.errors import ConfigError

D = Decimal
WS = "llm-ws0000000000000a"


def line(api_key: str, billed: str, *, list_cost: str, covered: str = "0", deducted: str = "0",
         after: str = "0", deducted_usage: str = "0", model: str = "qwen-plus", day: str = "2026-05-14",
         unit: str = "千tokens") -> dict[str, object]:
    """One normalized line; ``covered`` is the bill's 订阅抵扣目录总价, ``deducted`` its 订阅抵扣金额."""
    row: dict[str, object] = {d: "" for d in LINE_DIMENSIONS}
    row.update({f: False for f in LINE_FLAGS})
    row.update({a: D(0) for a in LINE_AMOUNTS})
    row.update(billing_month=day[:7], billing_date=day, workspace_id=WS, api_key_id=api_key, model=model,
               usage_type="input_token", io_type="input", currency="CNY", fee_type="pay_as_you_go",
               usage_unit=unit, list_unit_price="0.0008", line_count=1, billed_cost=D(billed), list_cost=D(list_cost),
               usage=D(billed) / D("0.0008"), deducted_usage=D(deducted_usage), commitment_list_cost=D(covered),
               commitment_deducted=D(deducted), commitment_after_deduction=D(after))
    return row


MAPPING = f"""
cost_centers:
  search: {{api_keys: ["1"], workspaces: [{WS}]}}
  research: {{api_keys: ["2"]}}
shared_costs: {{console: even}}
"""

# May 2026: the search key covered in full by a plan, research partly; a console line partly covered, shared
# evenly by the two cost centers whose keys were used
LINES = [
    line("1", "0", list_cost="0.8", covered="0.8", deducted="0.8", deducted_usage="1000"),
    line("2", "0.4", list_cost="1", covered="0.6", deducted="0.6", after="0.4", deducted_usage="750"),
    line("", "0.2", list_cost="0.5", covered="0.3", deducted="0.3", after="0.2", deducted_usage="375"),
    line("1", "0.25", list_cost="0.25"),  # not covered
]


def by_center(rows: list[dict[str, object]], column: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        center = str(row["cost_center"])
        totals[center] = totals.get(center, D(0)) + D(str(row[column]))
    return totals


def test_without_plan_prices_the_plan_cost_is_the_deduction():
    rows = allocate(LINES, parse_config_file(MAPPING))
    assert sum(r["billed_cost"] for r in rows) == sum(line["billed_cost"] for line in LINES) == D("0.85")
    assert by_center(rows, "billed_cost") == {"search": D("0.35"), "research": D("0.5")}
    assert by_center(rows, "commitment_covered_cost") == {"search": D("0.95"), "research": D("0.75")}
    # billed plus the deductions: 0.8 and half of 0.3 for search, 0.6 and half of 0.3 for research
    assert by_center(rows, "effective_cost") == {"search": D("1.3"), "research": D("1.25")}
    plain = next(r for r in rows if r["commitment_covered_cost"] == 0)
    assert plain["effective_cost"] == plain["billed_cost"] == D("0.25")


def test_a_plan_price_per_list_value():
    mapping = parse_config_file(MAPPING + 'prepaid: {plans: [{id: spn-1, price_per_list_value: "0.6"}]}\n')
    rows = allocate(LINES, mapping)
    # the plan cost 0.6 per 1 of list value it covered: 0.6 x 0.95 and 0.6 x 0.75 on top of the billed cost
    assert by_center(rows, "effective_cost") == {"search": D("0.35") + D("0.57"), "research": D("0.5") + D("0.45")}
    assert by_center(rows, "billed_cost") == {"search": D("0.35"), "research": D("0.5")}


def test_a_resource_pack_priced_per_unit_of_usage_for_its_models_and_days():
    mapping = parse_config_file(MAPPING + """prepaid:
  plans:
    - {kind: resource_pack, models: [qwen-plus], price_per_unit: "0.0002", unit: tokens, from: 2026-05-10}
""")
    rows = allocate([*LINES, line("1", "0", list_cost="0.4", covered="0.4", deducted="0.4", deducted_usage="500",
                                  model="qwen-max")], mapping)
    covered = {(r["model"], r["api_key_id"]): r["effective_cost"] for r in rows if r["commitment_covered_cost"]}
    # 1000 thousand tokens x 1000 tokens x 0.0002 per token; qwen-max is not the pack's: its deduction
    assert covered[("qwen-plus", "1")] == D("200")
    assert covered[("qwen-max", "1")] == D("0.4")
    before = allocate([line("1", "0", list_cost="0.8", covered="0.8", deducted="0.8", deducted_usage="1000",
                            day="2026-05-01")], mapping)
    assert before[0]["effective_cost"] == D("0.8")  # before the pack's first day: the deduction


def test_a_split_line_splits_its_coverage_exactly():
    mapping = parse_config_file("""
cost_centers:
  search: {api_keys: ["1"]}
  research: {api_keys: ["2"]}
shared_costs: {console: even}
""")
    shared = line("", "0.1", list_cost="0.4", covered="0.3", deducted="0.3000001", deducted_usage="1")
    rows = allocate([line("1", "1", list_cost="1"), line("2", "1", list_cost="1"), shared], mapping)
    parts = [r for r in rows if r["allocation_rule"] == "console:even"]
    assert [p["commitment_covered_cost"] for p in parts] == [D("0.15"), D("0.15")]
    assert sum(p["commitment_deducted"] for p in parts) == D("0.3000001")
    assert sum(p["effective_cost"] for p in parts) == D("0.1") + D("0.3000001")
    assert all(p["effective_cost"] == p["billed_cost"] + p["commitment_deducted"] for p in parts)


def test_legacy_bills_give_only_the_deducted_amount():
    rows = allocate([line("1", "0.2", list_cost="1", deducted="0.8")], parse_config_file(MAPPING))
    assert (rows[0]["commitment_covered_cost"], rows[0]["effective_cost"]) == (D("0.8"), D("1.0"))


def test_amortized_rounds_to_the_money_scale():
    plan = PlanPrice(price_per_list_value=D("0.333333333333333"))
    assert amortized(plan, D("1"), D("0"), D("0"), "千tokens") == D("0.333333333333")


def test_statements_charge_the_effective_cost_when_told():
    rows = allocate(LINES, parse_config_file(MAPPING))
    frame = pd.DataFrame(rows)
    assert charged(frame, "billed") is frame
    effective = charged(frame, "effective")
    assert list(effective["billed_cost"]) == list(frame["effective_cost"])
    assert list(frame["billed_cost"]) == [r["billed_cost"] for r in rows]  # the published rows are unchanged
    older = frame.drop(columns=["effective_cost"])
    assert charged(older, "effective") is older


@pytest.mark.parametrize(("text", "message"), [
    ('prepaid: {charge_basis: amortized}\n', "prepaid.charge_basis: must be 'billed' or 'effective'"),
    ('prepaid: {plans: [{price_per_list_value: "0.5", price_per_unit: "0.1", unit: tokens}]}\n',
     "give either price_per_list_value or price_per_unit"),
    ('prepaid: {plans: [{price_per_unit: "0.1"}]}\n', "price_per_unit needs the unit it is per"),
    ('prepaid: {plans: [{price_per_unit: "0.1", unit: parsecs}]}\n', "unit 'parsecs' is not a usage unit"),
    ('prepaid: {plans: [{price_per_list_value: 0.5}]}\n', None),  # YAML's 0.5 read from its text: exact
    ('prepaid: {plans: [{price_per_list_value: "-1"}]}\n', "is not a price"),
    ('prepaid: {plans: [{price_per_list_value: "1", kind: pack}]}\n', "prepaid.plans[0].kind"),
    ('prepaid: {plans: [{price_per_list_value: "1", from: 2026-05-10, until: 2026-05-01}]}\n',
     "until 2026-05-01 is before from 2026-05-10"),
])
def test_the_prepaid_section_is_checked(text, message):
    if message is None:
        assert parse_config_file(text).prepaid.plans[0].price_per_list_value == D("0.5")
        return
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config_file(text)
