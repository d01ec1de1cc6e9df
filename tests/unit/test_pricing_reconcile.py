"""Reconciliation: the gap between list and billed cost explained exactly; bill prices against the catalog."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from chargeback.bills.instance_id import classify_usage_type
from chargeback.columns import LINE_AMOUNTS, LINE_COLUMNS
from chargeback.errors import InputError
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.reconcile import catalog_usage_types, reconcile

D = Decimal
WS = "llm-ex4mple0wksp0001"


def line(day: str, model: str, usage_type: str, fee: str, unit: str, price: str, usage: str, deducted: str,
         list_cost: str, discount: str, billed: str, count: int, *, coupon: str = "0",
         api_key: str = "1234567", io_type: str = "", tier: str = "") -> dict[str, object]:
    """One normalized line with every column of LINE_COLUMNS; amounts as Decimal."""
    kind = classify_usage_type(usage_type)  # the columns the reader makes of the usage type
    io_type, tier = io_type or kind.io_type, tier or kind.context_tier
    row: dict[str, object] = {c: "" for c in LINE_COLUMNS}
    row.update({
        "billing_month": day[:7], "billing_date": day, "account_id": "1000000000000001",
        "product_code": "sfm", "commodity_code": "sfm_inference_public_cn", "billing_item": "token_number",
        "instance_id": f"{api_key};{WS};{model};{usage_type};;0", "workspace_id": WS, "api_key_id": api_key,
        "model": model, "usage_type": usage_type, "io_type": io_type, "context_tier": tier,
        "batch": kind.batch, "thinking": kind.thinking,
        "call_source": "api" if api_key else "console", "fee_type": fee, "currency": "CNY",
        "usage_unit": unit, "list_unit_price": price, "price_unit": f"元/{unit}", "region": "cn-beijing",
        "usage": D(usage), "usage_before_deduction": D(usage) + D(deducted), "deducted_usage": D(deducted),
        "list_cost": D(list_cost), "discount": D(discount), "coupon": D(coupon), "billed_cost": D(billed),
        "line_count": count,
    })
    return row


PAID, FREE = "pay_as_you_go", "free_quota"
K, IMG, SEC = "千tokens", "张", "秒"

# The real May-2026 export (bill-formats.md, shared/data/real-bills) at the normalized grain, written by hand:
# 156 bill lines, 106 of them free quota with payable 0, seven 20%-promoted video lines, payable 57.477867.
# Columns: day of May 2026, model, usage type, fee type, unit (K 千tokens, I 张, S 秒), list unit price,
# usage, deducted usage, list cost, discount, payable, bill lines, API key (k) or console (-).
_REAL_TABLE = """
12 aitryon times PAID I 0.2 21 0 4.2 0 4.2 21 k
12 wanx2.1-t2i-plus images PAID I 0.2 12 0 2.4 0 2.4 3 k
13 happyhorse-1.0-i2v 1080P FREE S 0 0 10 0 0 0 2 k
13 happyhorse-1.0-i2v 1080P PAID S 1.6 5 0 8 1.6 6.4 1 k
13 happyhorse-1.0-r2v 1080P FREE S 0 0 10 0 0 0 2 k
13 happyhorse-1.0-r2v 1080P PAID S 1.6 10 0 16 3.2 12.8 2 k
13 happyhorse-1.0-t2v 720P FREE S 0 0 5 0 0 0 1 k
13 aitryon times PAID I 0.2 6 0 1.2 0 1.2 6 k
13 wanx2.1-t2i-plus images PAID I 0.2 8 0 1.6 0 1.6 2 k
14 happyhorse-1.0-i2v 1080P PAID S 1.6 5 0 8 1.6 6.4 1 k
14 happyhorse-1.0-r2v 1080P PAID S 1.6 5 0 8 1.6 6.4 1 k
14 happyhorse-1.0-t2v 1080P FREE S 0 0 5 0 0 0 1 k
14 wanx2.1-t2i-plus images PAID I 0.2 4 0 0.8 0 0.8 1 k
14 qwen-image-2.0 images FREE I 0 0 1 0 0 0 1 k
14 qwen3.6-plus context_0-256k_input_token FREE K 0 0 133.742 0 0 0 47 k
14 qwen3.6-plus context_0-256k_output_token FREE K 0 0 182.996 0 0 0 47 k
14 qwen3-omni-flash purein_text_output_token PAID K 0.0069 0.01 0 0.000069 0 0.000069 1 -
14 qwen3-omni-flash text_input_token PAID K 0.0018 0.116 0 0.0002088 0 0.0002088 1 -
15 happyhorse-1.0-i2v 1080P PAID S 1.6 5 0 8 1.6 6.4 1 k
15 happyhorse-1.0-video-edit 720P FREE S 0 0 10 0 0 0 1 k
15 happyhorse-1.0-video-edit 720P PAID S 0.9 10.08 0 9.072 1.8144 7.2576 1 k
15 aitryon times PAID I 0.2 4 0 0.8 0 0.8 4 k
15 wanx2.1-t2i-plus images PAID I 0.2 4 0 0.8 0 0.8 1 k
15 qwen3.6-plus context_0-256k_input_token FREE K 0 0 1.54 0 0 0 2 k
15 qwen3.6-plus context_0-256k_output_token FREE K 0 0 8.704 0 0 0 2 k
15 qwen3-omni-flash audio_input_token PAID K 0.0158 0.274 0 0.0043292 0 0.0043292 1 -
15 qwen3-omni-flash multiin_text_output_token PAID K 0.0127 1.224 0 0.0155448 0 0.0155448 1 -
15 qwen3-omni-flash text_input_token PAID K 0.0018 0.064 0 0.0001152 0 0.0001152 1 -
"""


def _parse_table(text: str) -> list[dict[str, object]]:
    rows = []
    for raw in text.strip().splitlines():
        day, model, usage_type, fee, unit, price, usage, deducted, list_cost, discount, billed, count, key = (
            raw.split())
        rows.append(line(f"2026-05-{day}", model, usage_type, {"PAID": PAID, "FREE": FREE}[fee],
                         {"K": K, "I": IMG, "S": SEC}[unit], price, usage, deducted, list_cost, discount,
                         billed, int(count), api_key="1234567" if key == "k" else ""))
    return rows


REAL_MAY_2026 = _parse_table(_REAL_TABLE)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(LINE_COLUMNS))
    for amount in LINE_AMOUNTS:
        df[amount] = pd.Series([r[amount] for r in rows], dtype=object)
    return df


def test_real_bill_facts_reproduced_by_the_hand_built_frame():
    df = frame(REAL_MAY_2026)
    assert df["line_count"].sum() == 156
    assert sum(df["billed_cost"], D(0)) == D("57.477867")
    free = df[df["fee_type"] == FREE]
    assert free["line_count"].sum() == 106 and sum(free["billed_cost"], D(0)) == 0
    assert sum(df[df["api_key_id"] == ""]["billed_cost"], D(0)) == D("0.020267")  # the console's omni lines


def test_real_bill_gap_is_explained_to_the_last_decimal(catalog):
    result = reconcile(frame(REAL_MAY_2026), catalog, "cn")
    assert (result.lines, result.source_lines) == (28, 156)
    assert result.list_total == D("68.892267")
    assert result.billed_total == D("57.477867")
    assert result.gap == D("11.4144")  # six 1.6 promotions on 8 and one 1.8144 on 9.072: all 20%
    assert result.explained == {"promotions_and_discounts": D("11.4144"), "coupons": 0, "prepaid_plans": 0,
                                "free_quota": 0, "rounding": 0}
    assert result.unexplained == 0 and result.unexplained_lines == []
    # free quota: list cost 0 in the bill; valued at catalog prices where the catalog knows the model
    assert result.free_quota_lines == 106
    # i2v 10 s + r2v 10 s at 1.6 and video-edit 10 s at 0.9 = 41; qwen3.6-plus 135.282 K input tokens at
    # 0.002 and 191.7 K output tokens at 0.012 (0-256k tier) = 0.270564 + 2.3004
    assert result.free_quota_savings == D("43.570964")
    unvalued = {(g.model, g.usage_type): (g.lines, g.usage) for g in result.free_quota_unvalued.values()}
    assert unvalued == {
        ("happyhorse-1.0-t2v", "720P"): (1, D(5)),
        ("happyhorse-1.0-t2v", "1080P"): (1, D(5)),
        ("qwen-image-2.0", "images"): (1, D(1)),
    }
    # every paid line's list price is the catalog's: no change flagged, nothing unknown
    assert result.price_changes == {} and result.not_in_catalog == {}
    assert (result.matched_lines, result.matched_list_cost) == (50, D("68.892267"))
    assert result.list_rounding == 0


def test_json_has_the_named_parts_as_strings(catalog):
    data = json.loads(reconcile(frame(REAL_MAY_2026), catalog, "cn").to_json())
    assert data["list_total"] == "68.892267"
    assert data["billed_total"] == "57.477867"
    assert data["explained"] == {"promotions_and_discounts": "11.4144", "coupons": "0", "prepaid_plans": "0",
                                 "free_quota": "0", "rounding": "0"}
    assert data["unexplained"] == "0"
    assert data["catalog"]["free_quota_savings"]["valued"] == "43.570964"
    assert data["catalog"]["price_changed"] == {"amount": "0", "lines": 0, "changes": []}
    assert data["currency"] == "CNY" and data["source_lines"] == 156


def test_a_list_price_that_differs_from_the_catalog_is_flagged(catalog):
    rows = [
        line("2026-05-14", "qwen-plus", "input_token", PAID, K, "0.0010", "12.345", "0", "0.012345", "0",
             "0.012345", 3),
        line("2026-05-15", "qwen-plus", "input_token", PAID, K, "0.0010", "1", "0", "0.001", "0", "0.001", 1),
        line("2026-05-14", "qwen-plus", "output_token", PAID, K, "0.002", "2", "0", "0.004", "0", "0.004", 1),
    ]
    result = reconcile(frame(rows), catalog, "cn")
    [change] = result.price_changes.values()
    assert (change.model, change.usage_type, change.bill_price, change.catalog_price) == (
        "qwen-plus", "input_token", D("0.0010"), D("0.0008"))
    assert (change.first_date, change.last_date, change.lines, change.usage) == (
        "2026-05-14", "2026-05-15", 4, D("13.345"))
    assert change.amount == D("0.0002") * D("13.345")
    assert result.price_changed_amount == D("0.0026690")
    assert result.matched_lines == 1  # the output line matches
    assert result.unexplained == 0  # a price change does not touch the bill's own identity
    flagged = json.loads(result.to_json())["catalog"]["price_changed"]["changes"][0]
    assert flagged["flag"] == "probable price change" and flagged["catalog_price"] == "0.0008"


def test_prices_the_catalog_does_not_know_are_listed_not_guessed(catalog):
    # the catalog knows qwen3.6-plus's 0-256k tier only
    rows = [line("2026-05-14", "qwen3.6-plus", "context_256k-1m_input_token", PAID, K, "0.008", "300", "0",
                 "2.4", "0", "2.4", 5)]
    result = reconcile(frame(rows), catalog, "cn")
    [group] = result.not_in_catalog.values()
    assert (group.model, group.context_tier, group.lines, group.list_cost) == ("qwen3.6-plus", "256k-1m", 5,
                                                                                D("2.4"))
    assert result.price_changes == {} and result.matched_lines == 0


def test_coupons_free_quota_absorption_and_rounding_are_named_parts(catalog):
    rows = [
        # a coupon pays part of an image line
        line("2026-05-12", "wanx2.1-t2i-plus", "images", PAID, IMG, "0.2", "4", "0", "0.8", "0", "0.5", 1,
             coupon="0.3"),
        # a free-quota line that carries its list cost, payable 0
        line("2026-05-13", "happyhorse-1.0-i2v", "1080P", FREE, SEC, "1.6", "0", "5", "8", "0", "0", 1),
        # payable rounded to the fen: 0.0043292 -> 0.0043 over one line
        line("2026-05-15", "qwen3-omni-flash", "audio_input_token", PAID, K, "0.0158", "0.274", "0",
             "0.0043292", "0", "0.0043", 1),
    ]
    result = reconcile(frame(rows), catalog, "cn")
    assert result.explained == {"promotions_and_discounts": 0, "coupons": D("0.3"), "prepaid_plans": 0,
                                "free_quota": D("8"), "rounding": D("0.0000292")}
    assert result.gap == D("8.3000292") == sum(result.explained.values(), D(0))
    assert result.unexplained == 0
    assert result.free_quota_savings == D("8")  # the bill's own price, where it gives one


def test_a_gap_nothing_explains_is_unexplained_and_listed(catalog):
    rows = [line("2026-05-12", "aitryon", "times", PAID, IMG, "0.2", "10", "0", "2", "0", "1.5", 10),
            line("2026-05-12", "aitryon", "times", PAID, IMG, "0.2", "1", "0", "0.2", "0", "0.2", 1)]
    result = reconcile(frame(rows), catalog, "cn")
    assert result.unexplained == D("0.5")
    [bad] = result.unexplained_lines
    assert (bad.model, bad.remainder, bad.list_cost, bad.billed_cost) == ("aitryon", D("0.5"), D(2), D("1.5"))
    assert json.loads(result.to_json())["unexplained"] == "0.5"
    # the tolerance is half a rounding unit per source line: 10 lines x 0.045 < 0.5 <= 10 x 0.05
    assert reconcile(frame(rows), catalog, "cn", rounding_unit=D("0.09")).unexplained == D("0.5")
    loose = reconcile(frame(rows), catalog, "cn", rounding_unit=D("0.1"))
    assert loose.unexplained == 0 and loose.explained["rounding"] == D("0.5")


def test_tier_and_cache_prices_against_the_base_price(catalog):
    rows = [
        line("2026-05-14", "qwen-plus", "input_token_cache", PAID, K, "0.0002", "100", "0", "0.02", "0",
             "0.02", 1, io_type="cached_input"),
        line("2026-05-14", "qwen-plus", "context_128k-256k_input_token", PAID, K, "0.0024", "200", "0",
             "0.48", "0", "0.48", 1),
        line("2026-05-14", "qwen-plus", "context_0-128k_output_token", PAID, K, "0.002", "10", "0", "0.02",
             "0", "0.02", 1),
    ]
    result = reconcile(frame(rows), catalog, "cn")
    assert result.matched_lines == 3
    # cache: (0.0002 - 0.0008) x 100 = -0.06; second tier: (0.0024 - 0.0008) x 200 = +0.32; first tier: 0
    assert result.tier_and_cache_pricing == D("0.26")
    assert result.tier_and_cache_lines == 2


def test_usage_type_candidates():
    assert catalog_usage_types("context_0-256k_input_token", "input") == ["input"]
    assert catalog_usage_types("text_input_token", "input") == ["text_input", "input"]
    assert catalog_usage_types("input_token_cache", "cached_input") == ["cached_input"]
    assert catalog_usage_types("context_32k-128k_input_token_cache_creation_5m", "cache_write") == ["cache_write"]
    assert catalog_usage_types("input_token_cache_read", "cached_input") == ["explicit_cached_input"]
    assert catalog_usage_types("output_token_batch", "output", batch=True) == ["batch_output"]
    assert catalog_usage_types("thinking_output_token", "output", thinking=True) == ["thinking_output"]
    # the columns decide: a line whose columns say batch is priced as batch, whatever its raw word
    assert catalog_usage_types("output_token", "output", batch=True) == ["batch_output"]
    assert catalog_usage_types("1080P", "unit") == ["1080P"]
    assert catalog_usage_types("images", "unit") == ["images"]


def test_cache_and_batch_lines_are_priced_at_their_own_rates(catalog):
    rows = [
        # qwen3-max, China, 32K-128K: implicit hit 0.0008, cache creation 0.005, batch output 0.008 vs 0.004
        # input and 0.016 output, per 1,000 tokens
        line("2026-05-14", "qwen3-max", "context_32k-128k_input_token_cache", PAID, K, "0.0008", "50", "0",
             "0.04", "0", "0.04", 1),
        line("2026-05-14", "qwen3-max", "context_32k-128k_input_token_cache_creation_5m", PAID, K, "0.005", "40",
             "0", "0.2", "0", "0.2", 1),
        line("2026-05-14", "qwen3-max", "context_32k-128k_output_token_batch", PAID, K, "0.008", "2", "0",
             "0.016", "0", "0.016", 1),
    ]
    result = reconcile(frame(rows), catalog, "cn")
    assert result.price_changes == {} and result.not_in_catalog == {}
    assert result.matched_lines == 3
    # against plain input and output of the first tier (0.0025 and 0.01): 50 x (0.0008 - 0.0025)
    # + 40 x (0.005 - 0.0025) + 2 x (0.008 - 0.01) = -0.085 + 0.1 - 0.004
    assert (result.tier_and_cache_pricing, result.tier_and_cache_lines) == (D("0.011"), 3)


def test_the_text_report_gives_every_amount_its_currency(catalog):
    from chargeback.commands.reconcile import format_reconciliation

    rows = [
        line("2026-05-14", "qwen-plus", "input_token", PAID, K, "0.0010", "12.345", "0", "0.012345", "0",
             "0.012345", 3),
        line("2026-05-14", "qwen3.6-plus", "context_256k-1m_input_token", PAID, K, "0.008", "300", "0",
             "2.4", "0.4", "2", 5),
    ]
    text = format_reconciliation(reconcile(frame(rows), catalog, "cn"), "2026-05")
    lines = text.splitlines()
    assert lines[0] == "reconciliation 2026-05, site cn (CNY), 8 bill lines"
    assert lines[1:4] == ["  list total    2.412345 CNY", "  billed total  2.012345 CNY",
                          "  gap           0.4 CNY, explained by:"]
    assert "    promotions and discounts   0.4 CNY" in lines
    assert "  unexplained   0 CNY" in lines
    assert "  free quota: 0 lines, worth 0 CNY at list price" in lines
    assert ("  probable price change: qwen-plus input_token bill 0.001 CNY vs catalog 0.0008 CNY per 1K tokens "
            "(2026-05-14..2026-05-14, 3 lines, 0.002469 CNY)") in lines
    assert "  not in the catalog: qwen3.6-plus (2.4 CNY at the bill's list prices)" in lines


def test_the_input_frame_is_not_changed(catalog):
    df = frame(REAL_MAY_2026)
    before = df.copy(deep=True)
    reconcile(df, catalog, "cn")
    pd.testing.assert_frame_equal(df, before)


def test_empty_lines_reconcile_to_zero(catalog):
    result = reconcile(frame([]), catalog, "intl")
    assert (result.list_total, result.billed_total, result.unexplained, result.currency) == (0, 0, 0, "USD")


def test_bad_input_raises_input_error(catalog):
    with pytest.raises(InputError, match="site intl bills in USD; the lines also hold CNY"):
        reconcile(frame(REAL_MAY_2026), catalog, "intl")
    with pytest.raises(InputError, match="site 'mars'"):
        reconcile(frame(REAL_MAY_2026), catalog, "mars")
    with pytest.raises(InputError, match="lack column"):
        reconcile(frame(REAL_MAY_2026).drop(columns=["discount"]), catalog, "cn")
    floats = frame(REAL_MAY_2026[:1])
    floats["billed_cost"] = pd.Series([4.2], dtype=object)
    with pytest.raises(InputError, match="exact decimals"):
        reconcile(floats, catalog, "cn")
    dates = frame(REAL_MAY_2026[:1])
    dates.loc[0, "billing_date"] = "12/05/2026"
    with pytest.raises(InputError, match="billing_date '12/05/2026' is not YYYY-MM-DD"):
        reconcile(dates, catalog, "cn")
