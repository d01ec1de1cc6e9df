"""The FOCUS 1.2 export against the conformance rules written from the FOCUS 1.2 specification
(tests/support/focus_conformance.py): the Parquet and CSV of a generated month and of hand-made rows with every
kind of charge pass every rule; each rule fails on a file that breaks it; the README lists the rules checked."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from chargeback.columns import ALLOCATION_AMOUNTS, ALLOCATION_COLUMNS, LINE_AMOUNTS
from chargeback.demo.job import DEMO_MONTH, run_demo
from chargeback.pricing.focus import to_focus, write_focus
from chargeback.storage import LocalObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import read_manifest
from tests.support import focus_conformance as conformance

D = Decimal
README = Path(__file__).parents[2] / "README.md"
W1, W2 = "llm-ex4mple0wksp0001", "llm-ex4mple0wksp0002"


def row(day: str, usage_type: str, billed: str, *, io_type: str = "input", key: str = "2100001", ws: str = W1,
        model: str = "qwen-plus", center: str = "search", rule: str = "api_key", share: float = 1.0,
        price: str = "0.0008", usage: str | None = None, unit: str = "千tokens", fee: str = "pay_as_you_go",
        region: str = "cn-beijing", tier: str = "", batch: bool = False, thinking: bool = False,
        item: str = "token_number", commodity: str = "sfm_inference_public_cn", **amounts: str) -> dict[str, Any]:
    """One allocation row; usage follows from the billed cost and price unless given."""
    values: dict[str, Any] = {
        "billing_month": day[:7], "billing_date": day, "account_id": "1000000000000011",
        "account_name": "team-login", "payer_account_id": "1000000000000001", "payer_account_name": "group-login",
        "workspace_id": ws, "api_key_id": key, "model": model, "usage_type": usage_type, "io_type": io_type,
        "context_tier": tier, "batch": batch, "thinking": thinking, "channel": "" if key else "bmp",
        "call_source": "api" if key else "console", "billing_item": item, "commodity_code": commodity,
        "region": region, "fee_type": fee, "currency": "CNY", "usage_unit": unit, "list_unit_price": price,
        "cost_center": center, "allocation_rule": rule, "share": share, "line_count": 1,
    }
    billed_cost = D(billed)
    list_cost = D(amounts.pop("list_cost", billed))
    quantity = D(usage) if usage is not None else (list_cost / D(price) if D(price) else D(0))
    values.update({a: D(amounts.get(a, "0")) for a in LINE_AMOUNTS})
    values.update(usage=quantity, usage_before_deduction=quantity + D(amounts.get("deducted_usage", "0")),
                  list_cost=list_cost, billed_cost=billed_cost)
    values.update({k: D(v) for k, v in amounts.items() if k.startswith("commitment") or k == "effective_cost"})
    return values


# every kind of charge a month holds: paid tokens of each kind, free quota, images and video, console calls
# split three ways by a shared-pool rule, and a row a prepaid plan covered
ROWS = [
    row("2026-05-01", "input_token", "0.0096"),
    row("2026-05-01", "output_token", "0.02", io_type="output", price="0.002"),
    row("2026-05-02", "context_0-128k_input_token", "0.008", tier="0-128k"),
    row("2026-05-02", "text_input_token_cache", "0.0004", io_type="cached_input", price="0.0002"),
    row("2026-05-02", "input_token_cache_read", "0.0002", io_type="cached_input", price="0.0001"),
    row("2026-05-02", "input_token_cache_creation_5m", "0.01", io_type="cache_write", price="0.001"),
    row("2026-05-03", "input_token_batch", "0.004", price="0.0004", batch=True),
    row("2026-05-03", "output_token_batch", "0.01", io_type="output", price="0.001", batch=True),
    row("2026-05-03", "thinking_output_token", "0.08", io_type="output", price="0.008", thinking=True),
    row("2026-05-04", "audio_input_token", "0.0158", model="qwen3-omni-flash", price="0.0158"),
    row("2026-05-04", "context_0-256k_input_token", "0", model="qwen3.6-plus", fee="free_quota", price="0",
        usage="0", deducted_usage="0.969", tier="0-256k"),
    row("2026-05-05", "images", "0.5", io_type="unit", model="wanx2.1-t2i-plus", price="0.2", unit="张",
        item="image_number", list_cost="0.8", coupon="0.3"),
    row("2026-05-05", "1080P", "6.4", io_type="unit", model="happyhorse-1.0-i2v", price="1.6", unit="秒",
        item="video_duration", commodity="sfm_inferenceHH_public_cn", region="", list_cost="8", discount="1.6"),
    *[row("2026-05-06", "input_token", part, key="", center=center, rule="console:proportional", share=share,
          usage=quantity)
      for center, part, share, quantity in (("search", "0.0032", 1 / 3, "4"), ("research", "0.0032", 1 / 3, "4"),
                                             ("assistants", "0.0032", 1 / 3, "4"))],
    row("2026-05-07", "input_token", "0", usage="100", list_cost="0.08", commitment_list_cost="0.08",
        commitment_deducted="0.08", commitment_covered_cost="0.08", effective_cost="0.048"),
    row("2026-05-07", "input_token", "0.016", ws=W2, usage="120", list_cost="0.096", commitment_list_cost="0.076",
        commitment_deducted="0.08", commitment_covered_cost="0.076", effective_cost="0.0616"),
]


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame([{c: r.get(c) for c in ALLOCATION_COLUMNS} for r in rows], columns=list(ALLOCATION_COLUMNS))
    for amount in ALLOCATION_AMOUNTS:
        df[amount] = pd.Series([r.get(amount, r["billed_cost"] if amount == "effective_cost" else D(0))
                                for r in rows], dtype=object)
    return df


def published(rows: list[dict[str, Any]], **options: Any) -> tuple[pa.Table, bytes]:
    files = write_focus(to_focus(frame(rows), **options), "focus")
    return pq.read_table(io.BytesIO(files["focus/focus.parquet"])), files["focus/focus.csv"]


def failed(table: pa.Table) -> set[str]:
    return {f.rule for f in conformance.check(table)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> LocalObjectStore:
    result = run_demo(tmp_path_factory.mktemp("demo"), now=datetime(2026, 6, 5, tzinfo=UTC))
    return LocalObjectStore(result.warehouse)


def test_the_demo_month_has_no_failing_rule(demo: LocalObjectStore) -> None:
    table = pq.read_table(io.BytesIO(demo.read_bytes(layout.focus_key(DEMO_MONTH, "parquet"))))
    assert table.schema.metadata[b"focus_version"] == b"1.2"
    assert table.num_rows > 1000
    assert [str(f) for f in conformance.check(table)] == []
    assert [str(f) for f in conformance.check_csv(demo.read_bytes(layout.focus_key(DEMO_MONTH, "csv")), table)] == []
    # the export is the month: the same money, in the same currency
    manifest = read_manifest(demo, DEMO_MONTH)
    assert manifest is not None
    assert sum(table.column("BilledCost").to_pylist(), D(0)) == manifest.totals["CNY"]
    splits = table.filter(pc.is_valid(table.column("x_AllocatedMethodId")))
    assert splits.num_rows > 0  # the demo shares console calls: split rows are described
    assert set(table.column("SkuMeter").to_pylist()) >= {"Input Tokens", "Output Tokens", "Images", "Seconds"}


def test_hand_made_rows_of_every_kind_have_no_failing_rule() -> None:
    table, text = published(ROWS, sub_account_names={W1: "Search and research"})
    assert [str(f) for f in conformance.check(table)] == []
    assert [str(f) for f in conformance.check_csv(text, table)] == []


def test_the_columns_say_what_each_charge_is() -> None:
    table, _ = published(ROWS)
    rows = table.to_pylist()
    meters = [r["SkuMeter"] for r in rows]
    assert meters[:13] == ["Input Tokens", "Output Tokens", "Input Tokens", "Cached Input Tokens",
                           "Cached Input Tokens", "Cache Write Tokens", "Input Tokens", "Output Tokens",
                           "Output Tokens", "Input Tokens", "Input Tokens", "Images", "Seconds"]
    details = [json.loads(r["SkuPriceDetails"]) for r in rows]
    assert details[0] == {"x_ModelDeveloper": "Alibaba Cloud", "x_ModelFamily": "Qwen", "x_ModelId": "qwen-plus",
                          "x_TokenType": "Input", "x_Batch": False}
    assert details[3]["x_TokenType"] == "InputCachedRead" and details[3]["x_CacheType"] == "Implicit"
    assert details[4]["x_CacheType"] == "Explicit" and details[5]["x_TokenType"] == "InputCachedWrite"
    assert details[6]["x_Batch"] is True and details[8]["x_Thinking"] is True
    assert details[9]["x_Modality"] == "audio" and details[10]["x_FreeQuota"] is True
    assert details[12] == {"x_ModelId": "happyhorse-1.0-i2v", "x_UsageType": "1080P"}  # its developer: not named
    assert rows[2]["SkuPriceId"] == "sfm_inference_public_cn/token_number/qwen-plus/context_0-128k_input_token"
    assert rows[2]["SkuId"] == rows[0]["SkuId"] == "sfm_inference_public_cn/token_number/qwen-plus/input"
    assert rows[10]["SkuPriceId"].endswith("/free-quota") and rows[10]["PricingCategory"] == "Other"
    assert (rows[0]["RegionId"], rows[0]["RegionName"], rows[12]["RegionId"]) == ("cn-beijing", "China (Beijing)",
                                                                                  None)
    assert (rows[0]["BillingAccountName"], rows[0]["x_AccountName"]) == ("group-login", "team-login")
    assert {r["ServiceCategory"] for r in rows} == {"AI and Machine Learning"}
    assert {r["ServiceSubcategory"] for r in rows} == {"Generative AI"}
    assert {r["InvoiceId"] for r in rows} == {None}
    console = rows[13]
    assert (console["x_ApiKeyId"], console["x_Channel"], console["x_AllocatedMethodId"]) == (
        None, "bmp", "console:proportional")
    assert json.loads(console["x_AllocatedMethodDetails"]) == {
        "Elements": [{"AllocatedRatio": 1 / 3}], "x_AllocationRule": "console:proportional"}
    assert {r["x_AllocatedMethodId"] for r in rows[:13]} == {None}


def test_a_prepaid_plan_shows_as_a_commitment_discount() -> None:
    table, _ = published(ROWS)
    rows = table.to_pylist()
    covered, partly, plain = rows[16], rows[17], rows[0]
    assert (covered["CommitmentDiscountId"], covered["CommitmentDiscountStatus"], covered["PricingCategory"]) == (
        "sfm-subscription:1000000000000001", "Used", "Committed")
    assert (covered["CommitmentDiscountCategory"], covered["CommitmentDiscountQuantity"],
            covered["CommitmentDiscountUnit"]) == ("Spend", D("0.08"), "CNY")
    assert (covered["BilledCost"], covered["EffectiveCost"]) == (0, D("0.048"))
    assert (partly["BilledCost"], partly["EffectiveCost"], partly["x_CommitmentCoveredCost"]) == (
        D("0.016"), D("0.0616"), D("0.076"))
    assert all(plain[c] is None for c in ("CommitmentDiscountId", "CommitmentDiscountCategory",
                                          "CommitmentDiscountQuantity", "CommitmentDiscountStatus",
                                          "CommitmentDiscountType", "CommitmentDiscountUnit"))
    assert plain["EffectiveCost"] == plain["BilledCost"]


def _changed(table: pa.Table, column: str, values: list[Any]) -> pa.Table:
    at = table.column_names.index(column)
    return table.set_column(at, column, pa.array(values, table.schema.field(column).type))


def _set(table: pa.Table, column: str, index: int, value: Any) -> pa.Table:
    values = table.column(column).to_pylist()
    values[index] = value
    return _changed(table, column, values)


@pytest.mark.parametrize(("break_it", "rule"), [
    (lambda t: t.drop_columns(["BilledCost"]), "Presence.Mandatory"),
    (lambda t: t.drop_columns(["SkuMeter"]), "Presence.Conditional"),
    (lambda t: t.drop_columns(["InvoiceId"]), "Presence.Recommended"),
    (lambda t: t.rename_columns([c if c != "x_Model" else "Model" for c in t.column_names]), "ColumnHandling.Names"),
    (lambda t: t.rename_columns([c if c != "x_Model" else "x_model" for c in t.column_names]),
     "ColumnHandling.CustomNames"),
    (lambda t: t.select(["x_Model", *[c for c in t.column_names if c != "x_Model"]]), "ColumnHandling.Order"),
    (lambda t: _set(t, "x_Channel", 0, ""), "NullHandling.NoEmptyStrings"),
    (lambda t: _set(t, "ChargeDescription", 0, "N/A"), "NullHandling.NoPlaceholders"),
    (lambda t: t.set_column(1, "BilledCost", pc.cast(t.column("BilledCost"), pa.float64())), "Types.Decimal"),
    (lambda t: _set(t, "BillingAccountName", 0, None), "BillingAccountName.NullWithBillingAccountId"),
    (lambda t: _set(t, "ServiceSubcategory", 0, "Large Language Models"), "ServiceSubcategory.Allowed"),
    (lambda t: _set(t, "ServiceSubcategory", 0, "Virtual Machines"), "ServiceSubcategory.Parent"),
    (lambda t: _set(t, "ChargeFrequency", 0, "Sometimes"), "ChargeFrequency.Allowed"),
    (lambda t: _set(t, "BillingCurrency", 0, "RMB"), "BillingCurrency.Iso4217"),
    (lambda t: _set(t, "ChargePeriodEnd", 0, datetime(2026, 7, 1, tzinfo=UTC)), "ChargePeriod.WithinBillingPeriod"),
    (lambda t: _set(t, "ChargePeriodEnd", 0, datetime(2026, 4, 1, tzinfo=UTC)), "ChargePeriod.Bounds"),
    (lambda t: _set(t, "ListCost", 1, D("0.03")), "ListCost.Product"),
    (lambda t: _set(t, "ContractedUnitPrice", 1, D("0.003")), "ContractedCost.Product"),
    (lambda t: _set(t, "ListUnitPrice", 1, None), "Priced.UsageNotNull"),
    (lambda t: _set(t, "EffectiveCost", 0, D("1")), "EffectiveCost.WithoutCommitment"),
    (lambda t: _set(t, "EffectiveCost", 17, D("0")), "EffectiveCost.WithCommitment"),
    (lambda t: _set(t, "BilledCost", 16, D("0.01")), "BilledCost.FullyCommitted"),
    (lambda t: _set(t, "CommitmentDiscountId", 0, "spn-1"), "CommitmentDiscountId.Related"),
    (lambda t: _set(t, "CommitmentDiscountStatus", 16, None), "CommitmentDiscountStatus.Nullability"),
    (lambda t: _set(t, "CommitmentDiscountQuantity", 16, None), "CommitmentDiscountQuantity.Nullability"),
    (lambda t: _set(t, "CommitmentDiscountUnit", 16, "USD"), "CommitmentDiscountId.Consistent"),
    (lambda t: _set(t, "PricingCategory", 16, "Standard"), "PricingCategory.Committed"),
    (lambda t: _set(t, "ConsumedQuantity", 0, None), "ConsumedQuantity.Nullability"),
    (lambda t: _set(t, "PricingUnit", 0, "1K tokens"), "PricingUnit.UnitFormat"),
    (lambda t: _set(t, "SkuMeter", 2, "Tier Tokens"), "SkuMeter.ConsistentPerSku"),
    (lambda t: _set(t, "SkuId", 13, "other"), "SkuPriceId.OneSkuId"),
    (lambda t: _set(t, "SkuPriceDetails", 0, '{"ModelId": "qwen-plus"}'), "SkuPriceDetails.Keys"),
    (lambda t: _set(t, "SkuPriceDetails", 0, '{"x_ModelId": ["qwen-plus"]}'), "SkuPriceDetails.KeyValueFormat"),
    (lambda t: _set(t, "Tags", 0, '{"cost_center": "search"}'), "Tags.ProviderPrefix"),
    (lambda t: _set(t, "ResourceName", 0, t.column("ResourceId")[0].as_py()), "ResourceName.NotTheId"),
    (lambda t: _set(t, "SubAccountName", 0, None), "SubAccountName.NullWithSubAccountId"),
    (lambda t: _set(t, "RegionName", 0, None), "RegionName.NullWithRegionId"),
    (lambda t: _set(t, "AvailabilityZone", 0, "cn-beijing-a"), "AvailabilityZone.NotApplicable"),
    (lambda t: _set(t, "x_AllocatedMethodId", 13, None), "x_AllocatedMethodId.Nullability"),
    (lambda t: _set(t, "x_AllocatedMethodDetails", 13, '{"Elements": [{"AllocatedRatio": 0.5}]}'),
     "x_AllocatedMethodDetails.RatiosSumToOne"),
    (lambda t: _set(t, "x_AllocatedMethodDetails", 13, '{"Ratio": 0.5}'), "x_AllocatedMethodDetails.Schema"),
])
def test_each_rule_fails_on_a_file_that_breaks_it(break_it: Any, rule: str) -> None:
    table, _ = published(ROWS)
    assert failed(table) == set()
    assert rule in failed(break_it(table))


def test_the_csv_rules_fail_on_a_csv_that_breaks_them() -> None:
    table, text = published(ROWS)
    broken = text.decode().replace("2026-05-01T16:00:00Z", "2026-05-01 16:00", 1).replace('"0.0096"', '"+0.0096"', 1)
    assert {f.rule for f in conformance.check_csv(broken.encode(), table)} >= {"DateTimeFormat.Text",
                                                                                 "NumericFormat.Text"}


def test_the_readme_lists_the_rules_checked() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- focus-rules -->\n(.*?)\n<!-- /focus-rules -->", text, re.S)
    assert found, "the README has no table of FOCUS rules between <!-- focus-rules --> markers"
    assert found.group(1).strip() == conformance.rules_markdown(), "regenerate it with rules_markdown()"
    assert all(f"`{r.id}`" in text for r in conformance.RULES)
    assert conformance.not_checked_markdown() in text
