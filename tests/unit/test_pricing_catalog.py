"""The shipped price catalog pins the published numbers; lookups are exact, dated and never guess."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chargeback.config.prices import parse_price_list
from chargeback.errors import ConfigError
from chargeback.pricing.catalog import load_catalog, parse_tier

DEC_2024 = date(2025, 1, 15)
APR_2025 = date(2025, 6, 1)
MAY_2026 = date(2026, 5, 14)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _price(catalog, *args, **kwargs) -> Decimal:
    entry = catalog.price(*args, **kwargs)
    assert entry is not None, args
    return entry.price


@pytest.mark.parametrize(("model", "input_price", "output_price", "max_context"), [
    ("qwen-max", "0.0100", "0.0300", 8000),
    ("qwen-plus", "0.0030", "0.0090", 131072),
    ("qwen-turbo", "0.0004", "0.0012", 8000),
])
def test_december_2024_flagship_prices(catalog, model, input_price, output_price, max_context):
    entry = catalog.price(model, "intl", "input", DEC_2024)
    assert entry is not None
    assert (entry.price, entry.currency, entry.unit) == (Decimal(input_price), "USD", "1K tokens")
    assert str(entry.price) == input_price  # kept as written, trailing zeros included
    assert entry.max_context_tokens == max_context
    assert entry.source.startswith("https://")
    assert _price(catalog, model, "intl", "output", DEC_2024) == Decimal(output_price)


@pytest.mark.parametrize(("model", "prices", "max_context"), [
    ("qwen-max", {"input": "0.0016", "output": "0.0064", "cached_input": "0.00064",
                  "batch_input": "0.0008", "batch_output": "0.0032"}, 32768),
    ("qwen-plus", {"input": "0.0004", "output": "0.0012", "cached_input": "0.00016",
                   "batch_input": "0.0002", "batch_output": "0.0006"}, 131072),
    ("qwen-turbo", {"input": "0.00005", "output": "0.0002", "cached_input": "0.00002",
                    "batch_input": "0.000025", "batch_output": "0.0001"}, 1008192),
])
def test_april_2025_prices_with_cache_and_batch_rules(catalog, model, prices, max_context):
    for usage_type, price in prices.items():
        entry = catalog.price(model, "intl", usage_type, APR_2025)
        assert entry is not None and entry.price == Decimal(price), usage_type
        assert entry.max_context_tokens == max_context
    inp, out = Decimal(prices["input"]), Decimal(prices["output"])
    assert Decimal(prices["cached_input"]) == inp * Decimal("0.4")
    assert (Decimal(prices["batch_input"]), Decimal(prices["batch_output"])) == (inp / 2, out / 2)


def test_price_periods_meet_without_gap_or_overlap(catalog):
    last_old = catalog.price("qwen-max", "intl", "input", date(2025, 3, 31))
    first_new = catalog.price("qwen-max", "intl", "input", date(2025, 4, 1))
    assert last_old is not None and last_old.price == Decimal("0.0100")
    assert first_new is not None and first_new.price == Decimal("0.0016")
    assert last_old.effective_until == first_new.effective_from == date(2025, 4, 1)


def test_no_price_before_the_first_source(catalog):
    assert catalog.price("qwen-max", "intl", "input", date(2024, 11, 30)) is None


def test_china_qwen_plus_tiers(catalog):
    expected = {
        "0-128k": {"input": "0.0008", "output": "0.002", "thinking_output": "0.008",
                   "cached_input": "0.0002"},
        "128k-256k": {"input": "0.0024", "output": "0.02", "thinking_output": "0.024"},
        "256k-1m": {"input": "0.0048", "output": "0.048", "thinking_output": "0.064"},
    }
    for tier, prices in expected.items():
        for usage_type, price in prices.items():
            entry = catalog.price("qwen-plus", "cn", usage_type, MAY_2026, context_tier=tier)
            assert entry is not None and entry.price == Decimal(price), (tier, usage_type)
            assert entry.currency == "CNY"
    # the bill writes tiers as context_0-128k_...; '128-256k' has the same bounds as '128k-256k'
    assert _price(catalog, "qwen-plus", "cn", "input", MAY_2026, context_tier="128-256k") == Decimal("0.0024")
    # no tier: the tier that starts at 0
    assert _price(catalog, "qwen-plus", "cn", "input", MAY_2026) == Decimal("0.0008")
    # a cache-hit price is published for the first tier only
    assert catalog.price("qwen-plus", "cn", "cached_input", MAY_2026, context_tier="128k-256k") is None


def test_china_qwen_turbo_input_known_output_unknown(catalog):
    assert _price(catalog, "qwen-turbo", "cn", "input", MAY_2026) == Decimal("0.0003")
    assert _price(catalog, "qwen-turbo", "cn", "cached_input", MAY_2026) == Decimal("0.0001")
    assert catalog.price("qwen-turbo", "cn", "output", MAY_2026) is None


@pytest.mark.parametrize(("model", "usage_type", "price", "unit", "day"), [
    ("qwen3-omni-flash", "text_input", "0.0018", "1K tokens", date(2026, 5, 14)),
    ("qwen3-omni-flash", "audio_input", "0.0158", "1K tokens", date(2026, 5, 15)),
    ("qwen3-omni-flash", "purein_text_output", "0.0069", "1K tokens", date(2026, 5, 14)),
    ("qwen3-omni-flash", "multiin_text_output", "0.0127", "1K tokens", date(2026, 5, 15)),
    ("wanx2.1-t2i-plus", "images", "0.2", "image", date(2026, 5, 12)),
    ("aitryon", "times", "0.2", "image", date(2026, 5, 12)),
    ("happyhorse-1.0-i2v", "1080P", "1.6", "second", date(2026, 5, 13)),
    ("happyhorse-1.0-r2v", "1080P", "1.6", "second", date(2026, 5, 13)),
    ("happyhorse-1.0-video-edit", "720P", "0.9", "second", date(2026, 5, 15)),
])
def test_real_bill_list_prices(catalog, model, usage_type, price, unit, day):
    entry = catalog.price(model, "cn", usage_type, day)
    assert entry is not None
    assert (entry.price, entry.unit, entry.currency) == (Decimal(price), unit, "CNY")


def test_unknown_is_none_never_a_guess(catalog):
    assert catalog.price("qwen3.6-plus", "cn", "input", MAY_2026, context_tier="0-256k") is None
    assert catalog.price("qwen-max", "cn", "input", MAY_2026) is None  # China qwen-max: third-party only
    assert catalog.price("qwen-max", "intl", "thinking_output", APR_2025) is None
    assert catalog.price("qwen-plus", "cn", "input", MAY_2026, context_tier="0-256k") is None  # other tiers
    assert catalog.price("qwen-plus", "cn", "input", MAY_2026, context_tier="nonsense") is None
    assert catalog.price("happyhorse-1.0-t2v", "cn", "1080P", MAY_2026) is None


def test_price_for_tokens_picks_the_tier_holding_the_request(catalog):
    def price(tokens: int) -> Decimal | None:
        entry = catalog.price_for_tokens("qwen-plus", "cn", "input", MAY_2026, tokens)
        return entry.price if entry else None

    assert price(10) == Decimal("0.0008")
    assert price(131_072) == Decimal("0.0008")
    assert price(131_073) == Decimal("0.0024")
    assert price(262_145) == Decimal("0.0048")
    assert price(2_000_000) is None  # beyond the last tier
    entry = catalog.price_for_tokens("qwen-max", "intl", "input", APR_2025, 10)
    assert entry is not None and entry.price == Decimal("0.0016")  # untiered


def test_models_of_a_site_on_a_day(catalog):
    assert catalog.models("intl", APR_2025) == ["qwen-max", "qwen-plus", "qwen-turbo"]
    assert "qwen3-omni-flash" in catalog.models("cn", MAY_2026)
    assert "qwen-max" not in catalog.models("cn", MAY_2026)


def test_every_shipped_price_is_exact_and_sourced(catalog):
    assert len(catalog.entries) >= 40
    for entry in catalog.entries:
        assert isinstance(entry.price, Decimal) and entry.price > 0
        assert entry.source.startswith("https://")
        assert entry.currency == {"intl": "USD", "cn": "CNY"}[entry.site]
        assert entry.origin == "catalog"


def test_overrides_add_and_win():
    catalog = load_catalog(parse_price_list([
        {"model": "qwen3.6-plus", "site": "cn", "effective_from": "2026-05-01", "source": "our contract",
         "tiers": [{"context_tier": "0-256k", "prices": {"input": "0.002", "output": "0.012"}}]},
        {"model": "qwen-max", "site": "intl", "effective_from": "2025-05-01", "source": "negotiated",
         "prices": {"input": "0.0012", "output": 1}},
    ], "team.yaml"))
    added = catalog.price("qwen3.6-plus", "cn", "input", MAY_2026, context_tier="0-256k")
    assert added is not None and added.price == Decimal("0.002") and added.origin == "override"
    assert _price(catalog, "qwen-max", "intl", "input", date(2025, 6, 1)) == Decimal("0.0012")
    assert _price(catalog, "qwen-max", "intl", "output", date(2025, 6, 1)) == Decimal("1")
    # outside the override's period the shipped price stays
    assert _price(catalog, "qwen-max", "intl", "input", date(2025, 4, 15)) == Decimal("0.0016")
    # the shipped catalog is not changed by another load's overrides
    assert _price(load_catalog(), "qwen-max", "intl", "input", date(2025, 6, 1)) == Decimal("0.0016")


def test_bad_overrides_name_every_bad_field():
    base = {"model": "m", "site": "cn", "effective_from": "2026-01-01", "source": "s"}
    with pytest.raises(ConfigError) as caught:
        parse_price_list([
            {**base, "site": "mars", "prices": {"input": "1"}},
            {**base, "prices": {"input": 0.0003}},
            {**base, "effective_until": "2025-01-01", "prices": {"input": "1"}},
            base,
        ], "team.yaml")
    message = str(caught.value)
    assert message.startswith("team.yaml: 4 problems:\n")
    assert "prices[0].site" in message
    assert "prices[1].prices" in message and '"0.0003"' in message
    assert "prices[2]" in message and "effective_until" in message
    assert "prices[3]" in message and "either 'prices' or 'tiers'" in message
    with pytest.raises(ConfigError, match="prices: must be a list of entries"):
        parse_price_list({"model": "m"}, "team.yaml")


@pytest.mark.parametrize(("label", "bounds"), [
    ("0-128k", (0, 128)), ("128-256k", (128, 256)), ("128k-256k", (128, 256)), ("256k-1m", (256, 1000)),
    ("0-256K", (0, 256)),
])
def test_parse_tier(label, bounds):
    assert parse_tier(label) == bounds


@pytest.mark.parametrize("label", ["", "128k", "256k-128k", "a-b"])
def test_parse_tier_rejects(label):
    with pytest.raises(ValueError):
        parse_tier(label)
