"""Usage units: one table for tokens, images and seconds, whatever the spelling."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.pricing.free_quota import month_grants
from chargeback.units import catalog_unit, convert, focus_unit, tokens_per_unit, usage_unit


@pytest.mark.parametrize(("spelling", "tokens"), [
    ("千tokens", 1000), ("1K tokens", 1000), ("1ktokens", 1000), ("1000 tokens", 1000), ("ktokens", 1000),
    ("百万tokens", 1_000_000), ("1M tokens", 1_000_000), ("tokens", 1), ("Token", 1),
])
def test_every_spelling_of_a_token_unit_counts_the_same(spelling, tokens):
    assert tokens_per_unit(spelling) == tokens


def test_images_seconds_and_unknown_units():
    assert tokens_per_unit("张") is None and tokens_per_unit("次") is None and tokens_per_unit("") is None
    assert usage_unit("张") == usage_unit("Images") and usage_unit("秒") == usage_unit("seconds")
    assert usage_unit("次") is None


def test_units_convert_only_within_a_quantity():
    assert convert(Decimal("4.131"), "千tokens", "tokens") == Decimal("4131.000")
    assert convert(Decimal(2), "百万tokens", "千tokens") == 2000
    assert convert(Decimal(5), "秒", "second") == 5
    assert convert(Decimal(5), "张", "tokens") is None
    assert convert(Decimal(5), "次", "次") == 5  # the same word needs no table
    assert convert(Decimal(5), "次", "tokens") is None


def test_display_names_for_focus_and_the_catalog():
    assert [focus_unit(u) for u in ("千tokens", "1k tokens", "tokens", "张", "秒", "次", " ")] == [
        "1000 Tokens", "1000 Tokens", "Tokens", "Images", "Seconds", "次", None]
    assert [catalog_unit(u) for u in ("千tokens", "1ktokens", "张", "秒", "tokens", "次")] == [
        "1K tokens", "1K tokens", "image", "second", None, None]


def test_free_quota_use_counts_1ktokens_like_千tokens():
    """The tables used to disagree: 'ktokens' meant 1,000 tokens in one and 1 token in another."""
    detail = ('{"用量单位（转换后）":"千tokens","资源包抵扣详情":"[{\\"免费额度类型\\":\\"qwen-plus\\",'
              '\\"免费额度总量\\":\\"1000000 \\",\\"免费额度抵扣用量\\":\\"1 \\"}]"}')
    lines = [{"fee_type": "free_quota", "instance_id": "a", "usage_unit": unit, "deducted_usage": "1.5"}
             for unit in ("千tokens", "1ktokens", "1K tokens")]
    [grant] = month_grants(lines, {"a": detail})
    assert (grant.unit, grant.used) == ("tokens", 4500)
