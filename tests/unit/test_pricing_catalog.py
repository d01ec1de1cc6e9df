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
JUN_2026 = date(2026, 6, 16)


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
    # the Apr-2025 page's cache rule (40%) gives way to the 2026 rule (20%) on the day the 2026 list was seen
    apr_rule = catalog.price("qwen-max", "intl", "cached_input", date(2026, 6, 15))
    new_rule = catalog.price("qwen-max", "intl", "cached_input", JUN_2026)
    assert apr_rule is not None and (apr_rule.price, apr_rule.inferred) == (Decimal("0.00064"), False)
    assert new_rule is not None and (new_rule.price, new_rule.inferred) == (Decimal("0.00032"), True)
    assert apr_rule.effective_until == new_rule.effective_from == JUN_2026


def test_no_price_before_the_first_source(catalog):
    assert catalog.price("qwen-max", "intl", "input", date(2024, 11, 30)) is None


def test_china_qwen_plus_tiers(catalog):
    expected = {
        "0-128k": {"input": "0.0008", "output": "0.002", "thinking_output": "0.008", "cached_input": "0.0002",
                   "batch_input": "0.0004", "batch_output": "0.001"},
        "128k-256k": {"input": "0.0024", "output": "0.02", "thinking_output": "0.024", "cached_input": "0.0005",
                      "batch_input": "0.0012", "batch_output": "0.01"},
        "256k-1m": {"input": "0.0048", "output": "0.048", "thinking_output": "0.064", "cached_input": "0.001",
                    "batch_input": "0.0024", "batch_output": "0.024"},
    }
    for tier, prices in expected.items():
        for usage_type, price in prices.items():
            entry = catalog.price("qwen-plus", "cn", usage_type, MAY_2026, context_tier=tier)
            assert entry is not None and entry.price == Decimal(price), (tier, usage_type)
            assert entry.currency == "CNY"
            assert entry.inferred == usage_type.startswith("batch_")
    # the bill writes tiers as context_0-128k_...; '128-256k' has the same bounds as '128k-256k'
    assert _price(catalog, "qwen-plus", "cn", "input", MAY_2026, context_tier="128-256k") == Decimal("0.0024")
    # no tier: the tier that starts at 0
    assert _price(catalog, "qwen-plus", "cn", "input", MAY_2026) == Decimal("0.0008")


@pytest.mark.parametrize(("model", "tier", "prices", "source"), [
    # third-party copy of the China model list, with its own cache, explicit-cache and batch prices
    ("qwen3-max", "0-32k", {"input": "0.0025", "output": "0.01", "cached_input": "0.0005",
                            "explicit_cached_input": "0.00025", "cache_write": "0.003125",
                            "batch_input": "0.00125", "batch_output": "0.005"}, "http://47.109.151.80"),
    ("qwen3-max", "128k-256k", {"input": "0.007", "output": "0.028", "batch_output": "0.014"},
     "http://47.109.151.80"),
    ("qwen-flash", "256k-1m", {"input": "0.0012", "output": "0.012", "cached_input": "0.00024"},
     "http://47.109.151.80"),
    ("qwen3-vl-plus", "32k-128k", {"input": "0.0015", "output": "0.015", "batch_input": "0.00075"},
     "http://47.109.151.80"),
    # third-party guide of May 2026
    ("qwen3.6-plus", "0-256k", {"input": "0.002", "output": "0.012"}, "https://github.com/qxytah"),
    ("qwen3.5-plus", "128k-256k", {"input": "0.002", "output": "0.012"}, "https://github.com/qxytah"),
    ("qwen-max", None, {"input": "0.0024", "output": "0.0096"}, "https://github.com/qxytah"),
    ("qwen-long", None, {"input": "0.0005", "output": "0.002"}, "https://github.com/qxytah"),
    # the models' own pages
    ("qwen-coder-turbo", None, {"input": "0.002", "output": "0.006"}, "https://help.aliyun.com/zh/model-studio/"),
    ("qwen-doc-turbo", None, {"input": "0.0006", "output": "0.001", "cached_input": "0.00012",
                              "cache_write": "0.00075", "explicit_cached_input": "0.00006"},
     "https://help.aliyun.com/zh/model-studio/"),
])
def test_china_prices_with_their_sources(catalog, model, tier, prices, source):
    for usage_type, price in prices.items():
        entry = catalog.price(model, "cn", usage_type, MAY_2026, context_tier=tier)
        assert entry is not None, (model, tier, usage_type)
        assert (entry.price, entry.currency, entry.inferred) == (Decimal(price), "CNY", False), usage_type
        assert entry.source.startswith(source)


@pytest.mark.parametrize(("model", "tiers"), [
    ("qwen3-max", {"0-32k": ("0.0012", "0.006"), "32k-128k": ("0.0024", "0.012"),
                   "128k-256k": ("0.003", "0.015")}),
    ("qwen3-coder-plus", {"0-32k": ("0.001", "0.005"), "32k-128k": ("0.0018", "0.009"),
                          "128k-256k": ("0.003", "0.015"), "256k-1m": ("0.006", "0.06")}),
    ("qwen3.6-plus", {"0-256k": ("0.0005", "0.003"), "256k-1m": ("0.002", "0.006")}),
    ("qwen-plus", {"0-256k": ("0.0004", "0.0012"), "256k-1m": ("0.0012", "0.0036")}),
    ("qwen-flash", {"0-256k": ("0.00005", "0.0004"), "256k-1m": ("0.00025", "0.002")}),
])
def test_international_2026_tiers(catalog, model, tiers):
    for tier, (input_price, output_price) in tiers.items():
        assert _price(catalog, model, "intl", "input", JUN_2026, context_tier=tier) == Decimal(input_price)
        entry = catalog.price(model, "intl", "output", JUN_2026, context_tier=tier)
        assert entry is not None and (entry.price, entry.currency) == (Decimal(output_price), "USD")
        assert "[THIRD-PARTY]" in entry.note and "models.dev" in entry.source


def test_thinking_output_where_it_differs(catalog):
    assert _price(catalog, "qwen-plus", "intl", "thinking_output", JUN_2026, context_tier="0-256k") == Decimal(
        "0.004")
    assert _price(catalog, "qwen-turbo", "intl", "thinking_output", JUN_2026) == Decimal("0.0005")
    assert catalog.price("qwen3-max", "intl", "thinking_output", JUN_2026) is None


def test_derived_prices_follow_the_published_rules(catalog):
    shares = {"cached_input": ("input", "0.2"), "explicit_cached_input": ("input", "0.1"),
              "cache_write": ("input", "1.25"), "batch_input": ("input", "0.5"), "batch_output": ("output", "0.5")}
    derived = [e for e in catalog.entries if e.inferred]
    assert len(derived) > 50
    for entry in derived:
        base_type, share = shares[entry.usage_type]
        base = catalog.price(entry.model, entry.site, base_type, entry.effective_from, entry.context_tier)
        assert base is not None and not base.inferred
        assert entry.price == base.price * Decimal(share), (entry.model, entry.usage_type, entry.context_tier)
        assert "[INFERRED]" in entry.note
    # where a source gives cache and batch prices as numbers, they follow the same rules
    for tier in ("0-32k", "32k-128k", "128k-256k"):
        read = {e.usage_type: e.price for e in catalog.entries
                if (e.model, e.site, e.context_tier) == ("qwen3-max", "cn", tier)}
        assert read["cached_input"] == read["input"] * Decimal("0.2")
        assert read["explicit_cached_input"] == read["input"] * Decimal("0.1")
        assert read["cache_write"] == read["input"] * Decimal("1.25")
        assert read["batch_input"] == read["input"] / 2 and read["batch_output"] == read["output"] / 2


def test_china_estimate_models_are_priced(catalog):
    models = catalog.models("cn", MAY_2026, "input")
    assert {"qwen-max", "qwen3-max", "qwen3.6-plus", "qwen-plus", "qwen-flash", "qwen-turbo"} <= set(models)
    derived = catalog.price("qwen3.6-plus", "cn", "cached_input", MAY_2026, context_tier="0-256k")
    assert derived is not None and derived.inferred and derived.price == Decimal("0.0004")
    batch = catalog.price("qwen-max", "cn", "batch_output", MAY_2026)
    assert batch is not None and batch.inferred and batch.price == Decimal("0.0048")


def test_china_qwen_turbo(catalog):
    assert _price(catalog, "qwen-turbo", "cn", "input", MAY_2026) == Decimal("0.0003")
    assert _price(catalog, "qwen-turbo", "cn", "cached_input", MAY_2026) == Decimal("0.0001")
    output = catalog.price("qwen-turbo", "cn", "output", MAY_2026)
    assert output is not None and output.price == Decimal("0.0006") and "qxytah" in output.source


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
    ("wan2.5-t2v-preview", "1080P", "1", "second", MAY_2026),
    ("wan2.5-i2v-preview", "480P", "0.3", "second", MAY_2026),
    ("wan2.2-t2v-plus", "1080P", "0.7", "second", MAY_2026),
    ("wan2.2-i2v-flash", "720P", "0.2", "second", MAY_2026),
    ("wan2.2-s2v", "720P", "0.9", "second", MAY_2026),
])
def test_per_unit_prices(catalog, model, usage_type, price, unit, day):
    entry = catalog.price(model, "cn", usage_type, day)
    assert entry is not None
    assert (entry.price, entry.unit, entry.currency) == (Decimal(price), unit, "CNY")


def test_unknown_is_none_never_a_guess(catalog):
    assert catalog.price("qwen3.6-plus", "cn", "input", MAY_2026, context_tier="256k-1m") is None  # not found
    assert catalog.price("qwen3.6-plus", "cn", "batch_input", MAY_2026) is None  # batch support unknown
    assert catalog.price("qwen3-coder-plus", "cn", "input", MAY_2026) is None  # China price not found
    assert catalog.price("qwen-max", "intl", "thinking_output", APR_2025) is None
    assert catalog.price("qwen-plus", "cn", "input", MAY_2026, context_tier="0-256k") is None  # other tiers
    assert catalog.price("qwen-plus", "cn", "input", MAY_2026, context_tier="nonsense") is None
    assert catalog.price("happyhorse-1.0-t2v", "cn", "1080P", MAY_2026) is None
    assert catalog.price("wan2.2-t2v-plus", "cn", "720P", MAY_2026) is None  # no 720P price published


def test_price_for_tokens_picks_the_tier_holding_the_request(catalog):
    def price(model: str, tokens: int) -> Decimal | None:
        entry = catalog.price_for_tokens(model, "cn", "input", MAY_2026, tokens)
        return entry.price if entry else None

    assert price("qwen-plus", 10) == Decimal("0.0008")
    assert price("qwen-plus", 131_072) == Decimal("0.0008")
    assert price("qwen-plus", 131_073) == Decimal("0.0024")
    assert price("qwen-plus", 262_145) == Decimal("0.0048")
    assert price("qwen-plus", 1_048_576) == Decimal("0.0048")
    assert price("qwen-plus", 2_000_000) is None  # beyond the last tier
    assert price("qwen3-max", 0) == Decimal("0.0025")
    assert price("qwen3-max", 32_768) == Decimal("0.0025")
    assert price("qwen3-max", 32_769) == Decimal("0.004")
    assert price("qwen3-max", 262_145) is None
    entry = catalog.price_for_tokens("qwen3-max", "cn", "input", MAY_2026, 40_000)
    assert entry is not None and (entry.context_tier, entry.tier_tokens) == ("32k-128k", (32_768, 131_072))
    entry = catalog.price_for_tokens("qwen-max", "intl", "input", APR_2025, 10)
    assert entry is not None and entry.price == Decimal("0.0016")  # untiered


def test_models_of_a_site_on_a_day(catalog):
    assert catalog.models("intl", APR_2025) == ["qwen-max", "qwen-plus", "qwen-turbo"]
    assert "qwen3-omni-flash" in catalog.models("cn", MAY_2026)
    assert "qwen3-omni-flash" not in catalog.models("cn", MAY_2026, "input")  # priced per kind of input
    assert "qwen3-coder-plus" in catalog.models("intl", JUN_2026)
    assert "qwen3-coder-plus" not in catalog.models("cn", MAY_2026)
    assert catalog.sites("qwen3-coder-plus", JUN_2026) == ["intl"]
    assert catalog.sites("qwen3-max", JUN_2026) == ["cn", "intl"]


def test_every_shipped_price_is_exact_and_sourced(catalog):
    assert len(catalog.entries) >= 250
    for entry in catalog.entries:
        assert isinstance(entry.price, Decimal) and entry.price > 0
        assert entry.source.startswith(("https://", "http://"))
        assert entry.currency == {"intl": "USD", "cn": "CNY"}[entry.site]
        assert entry.origin == "catalog"
        if not entry.source.startswith(("https://help.aliyun.com/", "https://alibabacloud.com/",
                                        "https://www.alibabacloud.com/")):
            assert "[THIRD-PARTY]" in entry.note, (entry.model, entry.site)
    covered = {(e.model, e.site) for e in catalog.entries}
    assert len({m for m, site in covered if site == "cn"}) >= 25
    assert len({m for m, site in covered if site == "intl"}) >= 13


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


def test_overrides_can_derive_and_bound_their_tiers():
    catalog = load_catalog(parse_price_list([
        {"model": "ours", "site": "cn", "effective_from": "2026-05-01", "source": "our contract",
         "derive": ["cached_input", "batch_output"],
         "tiers": [{"context_tier": "0-32k", "up_to_tokens": 32000, "prices": {"input": "0.001", "output": "0.004"}},
                   {"context_tier": "32k-128k", "prices": {"input": "0.002", "output": "0.008"}}]},
    ], "team.yaml"))
    entry = catalog.price_for_tokens("ours", "cn", "cached_input", MAY_2026, 32_001)
    assert entry is not None and (entry.price, entry.inferred, entry.tier_tokens) == (
        Decimal("0.0004"), True, (32_000, 131_072))  # a bound left out is the label's, K = 1,024
    assert _price(catalog, "ours", "cn", "batch_output", MAY_2026, context_tier="0-32k") == Decimal("0.002")


def test_bad_derivations_and_bounds_are_named():
    base = {"model": "m", "site": "cn", "effective_from": "2026-01-01", "source": "s"}
    with pytest.raises(ConfigError) as caught:
        parse_price_list([
            {**base, "derive": ["storage"], "prices": {"input": "1"}},
            {**base, "derive": ["cached_input"], "prices": {"input": "1", "cached_input": "0.3"}},
            {**base, "derive": ["batch_output"], "prices": {"input": "1"}},
            {**base, "tiers": [{"context_tier": "0-32k", "up_to_tokens": 50000, "prices": {"input": "1"}},
                               {"context_tier": "32k-128k", "up_to_tokens": 40000, "prices": {"input": "2"}}]},
        ], "team.yaml")
    message = str(caught.value)
    assert "prices[0].derive" in message and "cannot derive storage" in message
    assert "prices[1]" in message and "cached_input is both given and derived" in message
    assert "prices[2]" in message and "derived from output, which prices lacks" in message
    assert "prices[3]" in message and "up_to_tokens must grow" in message


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
