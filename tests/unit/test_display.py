"""The money-display policy: the minor unit, four significant digits below it, parts that add up to totals."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chargeback.display import (
    format_money,
    format_number,
    format_percent,
    format_quantity,
    format_signed_money,
    format_unit_price,
    minor_unit,
    money,
    rounded,
    shares_of,
    shown_parts,
)
from chargeback.labels import unit_label, usage_text, usage_type_label
from tests.support.statements import counted

D = Decimal


def test_amounts_round_to_the_minor_unit_with_thousands_separators():
    assert format_money(D("8121.5989899")) == "8,121.60"
    assert format_money(D("1234567.1234567")) == "1,234,567.12"
    assert format_money(D("1234.5"), grouping=False) == "1234.50"
    assert format_money(D("-0.500000000000")) == "-0.50"
    assert format_money(D("0E-12")) == "0.00"
    assert format_money(D("2.005")) == "2.01"  # half up
    assert format_signed_money(D("3")) == "+3.00"
    assert money(D("412.5"), "CNY") == "CNY 412.50"
    assert minor_unit("CNY") == minor_unit("USD") == D("0.01")


def test_amounts_below_one_minor_unit_keep_four_significant_digits():
    assert format_money(D("0.00172364608")) == "0.001724"
    assert format_money(D("0.0017")) == "0.0017"
    assert format_money(D("-0.0000001")) == "-0.0000001"
    assert rounded(D("0.009999")) == D("0.009999")
    assert format_money(D("0.01")) == "0.01"


def test_unit_prices_quantities_and_percentages():
    assert format_unit_price(D("0.00311592")) == "0.003116"
    assert format_unit_price(D("12.3456")) == "12.35"
    assert format_unit_price(D("0.0008")) == "0.0008"
    assert format_quantity(D("62980460.2193")) == "62,980,460"
    assert format_quantity(D("4.131")) == "4.131"
    assert format_percent(D("47.45")) == "47.5%"
    assert format_percent(D("47.4"), signed=True) == "+47.4%"
    assert format_percent(None) == "–"
    assert format_number(D("10168.667000")) == "10,168.667"  # exact, for counts and thresholds


def test_parts_add_up_to_the_shown_total_by_largest_remainder():
    parts = [D("21.7"), D("38.7628"), D("0.0146")]
    shown = shown_parts(parts)
    assert shown == [D("21.70"), D("38.76"), D("0.02")]
    assert sum(shown) == rounded(sum(parts))
    # three thirds of a cent: together they make the one cent shown; the two left below a cent keep their figure
    assert shown_parts([D("0.0033"), D("0.0033"), D("0.0034")]) == [D("0.0033"), D("0.0033"), D("0.01")]
    # a part the rounding leaves at nothing keeps its small figure: it never reads as zero
    assert shown_parts([D("10"), D("0.0017")]) == [D("10.00"), D("0.0017")]
    # a given total wins (a change shown as the difference of two shown totals)
    assert sum(shown_parts([D("1.004"), D("1.004")], total=D("2.00"))) == D("2.00")


amounts = st.decimals(min_value=D("-50"), max_value=D("100000"), places=7, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=15))
def test_shown_parts_always_add_up_to_the_rounded_total(parts):
    shown = shown_parts(parts)
    assert sum((counted(s) for s in shown), D(0)) == rounded(sum(parts)).quantize(D("0.01")) or abs(
        sum(parts)) < D("0.01")
    for part, value in zip(parts, shown, strict=True):
        assert abs(counted(value) - part) < D("0.01") * len(parts) + D("0.01")  # never far from its own amount
        if part != 0:
            assert value != 0  # nothing that cost money reads as zero


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=D(0), max_value=D(1000), places=3, allow_nan=False, allow_infinity=False),
                min_size=1, max_size=12))
def test_shares_add_up_to_a_hundred_percent(parts):
    shares = shares_of(parts)
    if sum(parts) == 0:
        assert shares == [None] * len(parts)
    else:
        assert sum(shares) == D(100)


def test_usage_types_and_units_in_words_in_both_languages():
    assert usage_type_label("context_0-256k_input_token") == "Input tokens, 0–256K context"
    assert usage_type_label("context_0-256k_input_token", "zh") == "输入 Token（0–256K 上下文）"
    assert usage_type_label("images") == "Images"
    assert usage_type_label("1080P", billing_item="video_duration") == "Video seconds, 1080P"
    assert usage_type_label("1080P", "zh", billing_item="video_duration") == "视频秒数（1080P）"
    assert usage_type_label("multiin_text_output_token") == "Text output tokens, multimodal input"
    assert usage_type_label("context_0-128k_input_token_cache") == "Cached input tokens, 0–128K context"
    # a usage type the classifier does not know is kept raw, never guessed (io_type other), and never hidden
    assert usage_type_label("brand_new_output_token") == "Other usage (brand new output token)"
    assert (unit_label("千tokens"), unit_label("千tokens", "zh"), unit_label("张"), unit_label("秒")) == (
        "1K tokens", "千 Token", "images", "seconds")
    assert usage_text(D("467.5016058"), "千tokens") == "467,502 tokens"
    assert usage_text(D(16), "张", "zh") == "16 张"
    assert usage_text(D(1), "秒") == "1 second"
