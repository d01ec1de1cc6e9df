"""FOCUS rows from allocation rows: every column, costs by the spec's rules, exact bytes out; FOCUS 1.2 by
default, FOCUS 1.0 on request."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chargeback.bills.instance_id import classify_usage_type
from chargeback.columns import ALLOCATION_AMOUNTS, ALLOCATION_COLUMNS
from chargeback.config.file import parse_config_file
from chargeback.errors import ConfigError, InputError
from chargeback.pricing.focus import (
    COLUMNS,
    COLUMNS_BY_VERSION,
    FOCUS_COLUMNS,
    X_COLUMNS,
    model_identity,
    to_focus,
    write_focus,
)

D = Decimal
AMOUNTS = ALLOCATION_AMOUNTS

# The FOCUS 1.0 column IDs (FOCUS_Spec tag v1.0), as listed in bill-formats.md section 7.
SPEC_1_0 = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
]
# The FOCUS 1.2 columns that apply to Model Studio (FOCUS_Spec tag v1.2, specification/columns): all but
# BillingAccountType, SubAccountType, CapacityReservation* and PricingCurrency*.
SPEC_1_2 = sorted([*SPEC_1_0, "CommitmentDiscountQuantity", "CommitmentDiscountUnit", "InvoiceId",
                   "ServiceSubcategory", "SkuMeter", "SkuPriceDetails"])


def alloc(day: str, model: str, usage_type: str, *, api_key: str = "1234567",
          ws: str = "llm-ex4mple0wksp0001", fee: str = "pay_as_you_go", unit: str = "秒", price: str = "1.6",
          usage: str = "5", deducted: str = "0", list_cost: str = "8", discount: str = "1.6",
          coupon: str = "0", billed: str = "6.4", center: str = "creative", rule: str = "api_key",
          channel: str = "", currency: str = "CNY", item: str = "video_duration",
          commodity: str = "sfm_inferenceHH_public_cn", region: str = "") -> dict[str, object]:
    """One allocation row with every column of ALLOCATION_COLUMNS; amounts as Decimal, columns of the usage type
    as the reader makes them."""
    kind = classify_usage_type(usage_type)
    row: dict[str, object] = {
        "billing_month": day[:7], "billing_date": day, "account_id": "1000000000000001",
        "account_name": "member-login", "payer_account_id": "1000000000000009", "payer_account_name": "",
        "workspace_id": ws, "api_key_id": api_key, "model": model, "usage_type": usage_type,
        "io_type": kind.io_type, "context_tier": kind.context_tier, "batch": kind.batch, "thinking": kind.thinking,
        "channel": channel, "call_source": "api" if api_key else "console", "billing_item": item,
        "commodity_code": commodity, "region": region, "fee_type": fee, "currency": currency, "usage_unit": unit,
        "list_unit_price": price, "cost_center": center, "allocation_rule": rule, "share": 1.0, "line_count": 1,
        "usage": usage, "usage_before_deduction": str(D(usage) + D(deducted)), "deducted_usage": deducted,
        "list_cost": list_cost, "discount": discount, "coupon": coupon, "billed_cost": billed,
        "effective_cost": billed,
    }
    for amount in AMOUNTS:
        row[amount] = D(str(row.get(amount, "0")))
    return row


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(ALLOCATION_COLUMNS))
    for amount in AMOUNTS:
        df[amount] = pd.Series([r[amount] for r in rows], dtype=object)
    return df


TOKENS = {"unit": "千tokens", "item": "token_number", "commodity": "sfm_inference_public_cn", "region": "cn-beijing"}
ROWS = [
    alloc("2026-05-13", "happyhorse-1.0-i2v", "1080P"),
    alloc("2026-05-14", "qwen3.6-plus", "context_0-256k_input_token", fee="free_quota", price="0", usage="0",
          deducted="0.969", list_cost="0", discount="0", billed="0", **TOKENS),
    alloc("2026-05-31", "qwen3-omni-flash", "text_input_token", api_key="", channel="bmp", price="0.0018",
          usage="0.116", list_cost="0.0002088", discount="0", billed="0.0002088", center="platform",
          rule="workspace", **TOKENS),
]


def test_columns_are_the_spec_columns_then_x_columns():
    assert list(FOCUS_COLUMNS) == SPEC_1_2
    assert list(COLUMNS) == SPEC_1_2 + list(X_COLUMNS)
    assert all(c.startswith("x_") and c[2].isupper() for c in X_COLUMNS)
    assert {"x_WorkspaceId", "x_ApiKeyId", "x_Model", "x_UsageType", "x_Channel", "x_CostCenter",
            "x_AllocatedMethodId", "x_AllocatedMethodDetails"} <= set(X_COLUMNS)
    assert list(to_focus(frame(ROWS)).columns) == list(COLUMNS)
    assert COLUMNS_BY_VERSION["1.0"][:len(SPEC_1_0)] == tuple(SPEC_1_0)
    assert list(to_focus(frame(ROWS), version="1.0").columns) == list(COLUMNS_BY_VERSION["1.0"])
    assert {"x_workspace_id", "x_api_key_id", "x_cost_center"} <= set(COLUMNS_BY_VERSION["1.0"])


def test_costs_quantities_and_periods():
    focus = to_focus(frame(ROWS), invoice_issuer="通义云启（杭州）信息技术有限公司",
                     sub_account_names={"llm-ex4mple0wksp0001": "Example workspace"})
    paid, free, console = (focus.iloc[i] for i in range(3))
    assert (paid.BilledCost, paid.EffectiveCost, paid.ListCost, paid.ContractedCost) == (
        D("6.4"), D("6.4"), D(8), D(8))
    assert (paid.ListUnitPrice, paid.ContractedUnitPrice, paid.PricingQuantity, paid.ConsumedQuantity) == (
        D("1.6"), D("1.6"), D(5), D(5))
    assert (paid.PricingUnit, paid.ConsumedUnit, paid.x_Discount, paid.x_Coupon) == ("Seconds", "Seconds",
                                                                                     D("1.6"), D(0))
    assert (paid.ChargeCategory, paid.ChargeFrequency, paid.PricingCategory) == ("Usage", "Usage-Based",
                                                                                 "Standard")
    # the bill's day 2026-05-13 (UTC+8) in UTC; the month likewise
    assert paid.ChargePeriodStart == datetime(2026, 5, 12, 16, tzinfo=UTC)
    assert paid.ChargePeriodEnd == datetime(2026, 5, 13, 16, tzinfo=UTC)
    assert paid.BillingPeriodStart == datetime(2026, 4, 30, 16, tzinfo=UTC)
    assert paid.BillingPeriodEnd == datetime(2026, 5, 31, 16, tzinfo=UTC)
    assert console.ChargePeriodEnd == datetime(2026, 5, 31, 16, tzinfo=UTC) == console.BillingPeriodEnd
    assert (free.BilledCost, free.ListCost, free.PricingQuantity) == (0, 0, 0)
    assert free.ConsumedQuantity == D("0.969")
    assert (free.PricingCategory, free.PricingUnit) == ("Other", "1000 Tokens")
    assert free.ChargeDescription == "qwen3.6-plus context_0-256k_input_token, free quota"
    assert (paid.ServiceName, paid.ServiceCategory, paid.ServiceSubcategory) == (
        "Model Studio", "AI and Machine Learning", "Generative AI")
    assert (paid.ProviderName, paid.PublisherName) == ("Alibaba Cloud", "Alibaba Cloud")
    assert paid.InvoiceIssuerName == "通义云启（杭州）信息技术有限公司"
    assert (paid.SubAccountId, paid.SubAccountName) == ("llm-ex4mple0wksp0001", "Example workspace")
    assert paid.ResourceId == "1234567;llm-ex4mple0wksp0001;happyhorse-1.0-i2v;1080P;"
    assert console.ResourceId == ";llm-ex4mple0wksp0001;qwen3-omni-flash;text_input_token;bmp"
    assert paid.SkuId == "sfm_inferenceHH_public_cn/video_duration/happyhorse-1.0-i2v/1080P"
    assert paid.SkuPriceId == "sfm_inferenceHH_public_cn/video_duration/happyhorse-1.0-i2v/1080P"
    assert console.SkuId == "sfm_inference_public_cn/token_number/qwen3-omni-flash/text_input"
    assert (console.SkuMeter, paid.SkuMeter) == ("Input Tokens", "Seconds")
    assert json.loads(console.SkuPriceDetails) == {
        "x_ModelDeveloper": "Alibaba Cloud", "x_ModelFamily": "Qwen", "x_ModelId": "qwen3-omni-flash",
        "x_TokenType": "Input", "x_Modality": "text", "x_Batch": False}
    assert json.loads(console.Tags) == {"chargeback/cost_center": "platform"}
    assert (console.x_ApiKeyId, console.x_Channel, console.x_CostCenter, console.x_CallSource) == (
        None, "bmp", "platform", "console")
    assert (console.RegionId, console.RegionName, paid.RegionId) == ("cn-beijing", "China (Beijing)", None)
    for column in ("AvailabilityZone", "ChargeClass", "InvoiceId", "CommitmentDiscountId", "x_AllocatedMethodId"):
        assert focus[column].isna().all(), column
    assert focus["BillingAccountId"].tolist() == ["1000000000000009"] * 3  # the payer
    assert focus["BillingAccountName"].tolist() == ["1000000000000009"] * 3  # the bill names it not: its ID
    assert focus["x_AccountId"].tolist() == ["1000000000000001"] * 3  # the resource owner
    assert focus["x_AccountName"].tolist() == ["member-login"] * 3


def test_the_bill_or_the_caller_names_the_billing_account():
    named = [{**r, "payer_account_name": "group-login"} for r in ROWS]
    assert set(to_focus(frame(named))["BillingAccountName"]) == {"group-login"}
    assert set(to_focus(frame(ROWS), billing_account_name="Example Co")["BillingAccountName"]) == {"Example Co"}


def test_version_1_0_keeps_its_published_shape():
    focus = to_focus(frame(ROWS), version="1.0")
    paid, console = focus.iloc[0], focus.iloc[2]
    assert paid.SkuId == "sfm_inferenceHH_public_cn/video_duration"
    assert paid.SkuPriceId == "sfm_inferenceHH_public_cn/video_duration/happyhorse-1.0-i2v/1080P"
    assert json.loads(console.Tags) == {"cost_center": "platform", "allocation_rule": "workspace"}
    assert (console.x_api_key_id, console.x_channel, console.x_cost_center) == (None, "bmp", "platform")
    assert "SkuMeter" not in focus.columns and "ServiceSubcategory" not in focus.columns


@pytest.mark.parametrize(("model", "identity"), [
    ("qwen3.6-plus", {"ModelDeveloper": "Alibaba Cloud", "ModelFamily": "Qwen", "ModelId": "qwen3.6-plus"}),
    ("qwq-plus", {"ModelDeveloper": "Alibaba Cloud", "ModelFamily": "Qwen", "ModelId": "qwq-plus"}),
    ("wanx2.1-t2i-plus", {"ModelDeveloper": "Alibaba Cloud", "ModelFamily": "Wan", "ModelId": "wanx2.1-t2i-plus"}),
    ("deepseek-r1", {"ModelDeveloper": "DeepSeek", "ModelFamily": "DeepSeek", "ModelId": "deepseek-r1"}),
    ("happyhorse-1.0-i2v", {"ModelId": "happyhorse-1.0-i2v"}),  # not named by its name: not guessed
    ("wanderer", {"ModelId": "wanderer"}),
])
def test_model_identity(model, identity):
    assert model_identity(model) == identity


def test_totals_carry_over_exactly():
    focus = to_focus(frame(ROWS))
    assert sum(focus["BilledCost"], D(0)) == D("6.4002088")
    assert sum(focus["ListCost"], D(0)) - sum(focus["BilledCost"], D(0)) == sum(focus["x_Discount"], D(0))


@pytest.mark.parametrize("version", ["1.2", "1.0"])
def test_write_focus_bytes_round_trip(version):
    focus = to_focus(frame(ROWS), version=version)
    files = write_focus(focus, "focus/billing_month=2026-05/")
    assert sorted(files) == ["focus/billing_month=2026-05/focus.csv",
                             "focus/billing_month=2026-05/focus.parquet"]
    table = pq.read_table(io.BytesIO(files["focus/billing_month=2026-05/focus.parquet"]))
    assert table.column_names == list(COLUMNS_BY_VERSION[version])
    assert table.schema.field("BilledCost").type == pa.decimal128(38, 12)
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("ms", tz="UTC")
    assert table.column("ChargePeriodStart")[0].as_py() == datetime(2026, 5, 12, 16, tzinfo=UTC)
    assert table.column("BilledCost").to_pylist()[0] == D("6.4")
    assert table.column("RegionId").null_count == 1
    assert table.schema.metadata[b"focus_version"] == version.encode()
    text = files["focus/billing_month=2026-05/focus.csv"].decode("utf-8")
    assert not text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["BilledCost"] == "6.4" and rows[2]["BilledCost"] == "0.0002088"
    assert rows[0]["ChargePeriodStart"] == "2026-05-12T16:00:00Z"
    assert rows[1]["ListCost"] == "0" and rows[0]["RegionId"] == "" and rows[0]["AvailabilityZone"] == ""


def test_empty_and_unchanged_input():
    df = frame(ROWS)
    before = df.copy(deep=True)
    to_focus(df)
    pd.testing.assert_frame_equal(df, before)
    empty = to_focus(frame([]))
    assert len(empty) == 0 and list(empty.columns) == list(COLUMNS)


def test_bad_rows_raise_input_error():
    with pytest.raises(InputError, match="lack column"):
        to_focus(frame(ROWS).drop(columns=["billed_cost"]))
    bad = frame(ROWS)
    bad.loc[0, "billing_date"] = "13/05/2026"
    with pytest.raises(InputError, match=r"billing_date: Failed to parse string: .13/05/2026."):
        to_focus(bad)
    with pytest.raises(InputError, match=r"FOCUS version '1\.1' is not one of 1\.2, 1\.0"):
        to_focus(frame(ROWS), version="1.1")


@pytest.mark.parametrize(("text", "version"), [("", "1.2"), ("focus: {version: 1.0}\n", "1.0"),
                                               ('focus: {version: "1.2"}\n', "1.2")])
def test_the_configuration_picks_the_version(text, version):
    assert parse_config_file(text or "{}\n").focus.version == version


def test_an_unknown_version_is_a_configuration_error():
    with pytest.raises(ConfigError, match=r"line 1: focus.version: must be '1.2' or '1.0', not the text '1.1'"):
        parse_config_file("focus: {version: 1.1}\n")
