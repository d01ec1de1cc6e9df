"""A month with subscription-deduction lines (hand-made normalized lines: savings plan and resource pack
coverage), allocated by ``chargeback allocate`` as the deployed path does: it reconciles to the bill's payable,
shows what the plans covered per cost center (run summary and manifest), publishes the coverage as FOCUS
commitment columns that pass the FOCUS 1.2 rules, reconciles list to billed with the deduction named, and its
statements charge the effective cost under ``charge_basis: effective``."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chargeback.cli import main
from chargeback.storage import LocalObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.read import read_allocations
from tests.support import focus_conformance as conformance
from tests.support.allocations import row
from tests.support.warehouse import publish_month

D = Decimal
MONTH = "2026-05"
MAPPING = """\
cost_centers:
  search: {owners: [lead@search.example.com], api_keys: ["2100001"], workspaces: [llm-search]}
  research: {owners: [ana@research.example.com], api_keys: ["2300001"]}
shared_costs: {console: even}
delivery: {sender: "Chargeback <chargeback@example.com>"}
"""
PLANS = """\
prepaid:
  charge_basis: effective
  plans:
    - {id: spn-0123abcd, name: 2026 savings plan, kind: savings_plan, models: [qwen-plus], price_per_list_value: "0.6"}
    - {kind: resource_pack, models: [qwen-max], price_per_unit: "0.002", unit: 千tokens}
"""

# search's key: 10 CNY list of qwen-plus, 8 of it covered by the savings plan; research's: 4 CNY of qwen-max,
# all of it covered by a resource pack (2,000 thousand tokens); a console line of 1 CNY list, 0.5 covered (no plan
# priced for qwen-turbo: its deduction), shared evenly by the two keys used in its workspace; an uncovered line
LINES = [
    row("2026-05-14", "2", usage="12500", list_cost="10", commitment_list_cost="8", commitment_deducted="8",
        commitment_after_deduction="2"),
    row("2026-05-14", "0", api_key_id="2300001", workspace_id="llm-research", model="qwen-max", usage="2000",
        deducted_usage="2000", list_unit_price="0.002", list_cost="4", commitment_list_cost="4",
        commitment_deducted="4", cost_center="research"),
    row("2026-05-15", "0.5", api_key_id="", channel="bmp", call_source="console", model="qwen-turbo",
        usage="1000", list_unit_price="0.001", list_cost="1", commitment_list_cost="0.5", commitment_deducted="0.5",
        commitment_after_deduction="0.5", allocation_rule="workspace"),
    row("2026-05-16", "1.5", api_key_id="2300001", cost_center="research"),  # in search's workspace
]
PAYABLE = D("4")


@pytest.fixture
def month(tmp_path: Path) -> tuple[LocalObjectStore, Path]:
    store = LocalObjectStore(tmp_path / "warehouse")
    publish_month(store, MONTH, LINES)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING + PLANS, encoding="utf-8")
    return store, mapping


def test_the_month_reconciles_to_the_payable_and_shows_what_plans_covered(
        month: tuple[LocalObjectStore, Path], capsys: pytest.CaptureFixture[str]) -> None:
    store, mapping = month
    assert main(["allocate", "--warehouse", str(store.root), "--month", MONTH, "--mapping", str(mapping)]) == 0
    out = capsys.readouterr().out
    manifest = read_manifest(store, MONTH)
    assert manifest is not None
    assert manifest.totals == {"CNY": PAYABLE}  # billed: the bill's payable, plans or not
    assert manifest.totals_by_cost_center == {"search": {"CNY": D("2.25")}, "research": {"CNY": D("1.75")}}
    assert manifest.covered_by_cost_center == {"search": {"CNY": D("8.25")}, "research": {"CNY": D("4.25")}}
    assert "    search: 2.25 CNY (prepaid plans covered 8.25 CNY at list price)" in out
    assert "    research: 1.75 CNY (prepaid plans covered 4.25 CNY at list price)" in out
    allocations = read_allocations(store, MONTH)
    assert allocations is not None
    effective = {c: sum(g["effective_cost"], D(0)) for c, g in allocations.groupby("cost_center")}
    # search: 2 + 0.6 x 8 and half the console line (0.25 + 0.25); research: 0 + 2,000 x 0.002, 1.5 and the other
    # half
    assert effective == {"search": D("2") + D("4.8") + D("0.5"), "research": D("4") + D("1.5") + D("0.5")}
    assert sum(allocations["billed_cost"], D(0)) == PAYABLE


def test_the_plans_are_focus_commitments(month: tuple[LocalObjectStore, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    store, mapping = month
    assert main(["allocate", "--warehouse", str(store.root), "--month", MONTH, "--mapping", str(mapping)]) == 0
    table = pq.read_table(io.BytesIO(store.read_bytes(layout.focus_key(MONTH))))
    assert [str(f) for f in conformance.check(table)] == []
    assert [str(f) for f in conformance.check_csv(store.read_bytes(layout.focus_key(MONTH, "csv")), table)] == []
    commitments = {(r["x_CostCenter"], r["x_Model"]): r for r in table.to_pylist() if r["CommitmentDiscountId"]}
    plan = commitments[("search", "qwen-plus")]
    assert (plan["CommitmentDiscountId"], plan["CommitmentDiscountName"], plan["CommitmentDiscountType"]) == (
        "spn-0123abcd", "2026 savings plan", "Savings Plan")
    assert (plan["CommitmentDiscountCategory"], plan["CommitmentDiscountQuantity"], plan["CommitmentDiscountUnit"],
            plan["PricingCategory"], plan["EffectiveCost"]) == ("Spend", D("8"), "CNY", "Committed", D("6.8"))
    pack = commitments[("research", "qwen-max")]
    assert pack["BillingAccountId"] == "1234567890123456"  # the lines name no payer: the owner's account pays
    assert (pack["CommitmentDiscountId"], pack["CommitmentDiscountType"], pack["CommitmentDiscountCategory"],
            pack["CommitmentDiscountQuantity"], pack["CommitmentDiscountUnit"]) == (
        "sfm-resource_pack:1234567890123456", "Resource Pack", "Usage", D("2000"), "1000 Tokens")
    console = [r for r in commitments.values() if r["x_Model"] == "qwen-turbo"]
    assert {r["CommitmentDiscountType"] for r in console} == {"Subscription Deduction"}
    assert {r["x_AllocatedMethodId"] for r in console} == {"console:even"}


def test_reconcile_names_the_deduction(month: tuple[LocalObjectStore, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = month
    assert main(["reconcile", "--warehouse", str(store.root), "--month", MONTH, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = data[0] if isinstance(data, list) else data
    assert report["explained"]["prepaid_plans"] == "12.5"
    assert report["unexplained"] == "0"


@pytest.mark.parametrize(("basis", "totals"), [("billed", {"search": "2.25", "research": "1.75"}),
                                               ("effective", {"search": "7.3", "research": "6"})])
def test_statements_charge_the_basis_the_mapping_names(month: tuple[LocalObjectStore, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], basis: str,
                                                       totals: dict[str, str]) -> None:
    store, mapping = month
    mapping.write_text(MAPPING + PLANS.replace("charge_basis: effective", f"charge_basis: {basis}"),
                       encoding="utf-8")
    assert main(["allocate", "--warehouse", str(store.root), "--month", MONTH, "--mapping", str(mapping)]) == 0
    capsys.readouterr()
    for center, total in totals.items():
        assert main(["report", "--warehouse", str(store.root), "--month", MONTH, "--mapping", str(mapping),
                     "--outbox", str(tmp_path / "outbox"), "--dry-run", "--only", center]) == 0
        [line] = capsys.readouterr().out.splitlines()
        assert line.startswith("would_send") and f"CNY {total}" in line, line
