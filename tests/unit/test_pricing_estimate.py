"""The estimator: Qwen token counts, rounds that re-bill the history, exact costs from the catalog."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from chargeback.config.prices import parse_price_list
from chargeback.errors import InputError
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.estimate import (
    Message,
    Round,
    conversation_rounds,
    count_tokens,
    estimate,
    format_estimate,
    parse_conversation,
    text_rounds,
)
from tests.support.conversations import CHAT

D = Decimal
DEC_2024 = date(2025, 1, 10)
APR_2025 = date(2025, 6, 1)
MAY_2026 = date(2026, 5, 14)



@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize(("text", "tokens"), [
    ("Nice to meet you.", 5),  # the billing page's example
    ("通义千问具有强大的能力。", 8),  # the tokenizer doc's example
    ("You are a helpful assistant.", 6),
    ("Nice to meet you too! How can I help you today?", 13),
    ("What is the capital of France?", 7),
    ("The capital of France is Paris.", 7),
    ("And of Italy?", 4),
    ("", 0),
])
def test_qwen_token_counts(text, tokens):
    assert count_tokens(text) == tokens


def test_three_round_conversation_bills_the_history_again():
    rounds = conversation_rounds(parse_conversation(json.dumps(CHAT)), count_tokens, output_tokens=20)
    assert rounds == [
        Round(input_tokens=6 + 5, output_tokens=13, replied=True, history_tokens=0),
        # the history: the round before's input and its reply, a prefix of this round's input
        Round(input_tokens=6 + 5 + 13 + 7, output_tokens=7, replied=True, history_tokens=11 + 13),
        Round(input_tokens=6 + 5 + 13 + 7 + 7 + 4, output_tokens=20, replied=False, history_tokens=31 + 7),
    ]
    # 84 input tokens billed for a conversation whose messages hold 42
    assert sum(r.input_tokens for r in rounds) == 84


def test_conversation_cost_exact(catalog):
    rounds = conversation_rounds(parse_conversation(json.dumps(CHAT)), count_tokens, output_tokens=20)
    result = estimate(catalog, "qwen-plus", "intl", APR_2025, rounds)  # $0.0004 in, $0.0012 out per 1K
    assert [r.cost for r in result.rounds] == [D("0.0000200"), D("0.0000208"), D("0.0000408")]
    assert result.cost == D("0.0000816")
    assert (result.input_tokens, result.output_tokens, result.currency) == (84, 40, "USD")
    costs = {a.model: a.cost for a in result.alternatives}
    assert costs == {"qwen-max": D("0.0003904"), "qwen-turbo": D("0.0000122")}
    # implicit cache (Apr-2025 page: cached input at 40%, 0.00016): round 2 = 7 x 0.0004 + 24 x 0.00016 +
    # 7 x 0.0012 = 0.01504 per 1,000; round 3 = 4 x 0.0004 + 38 x 0.00016 + 20 x 0.0012 = 0.03168
    implicit = result.variant("implicit_cache")
    assert [r.variants["implicit_cache"].cost for r in result.rounds] == [D("0.00002"), D("0.00001504"),
                                                                          D("0.00003168")]
    assert implicit.cost == D("0.00006672")
    assert result.variant("batch").cost == D("0.0000408")  # 84 x 0.0002 + 40 x 0.0006
    explicit = result.variant("explicit_cache")  # that page version published no explicit-cache prices
    assert explicit.cost is None and explicit.reason == "round 1: no cache write price"
    data = result.to_dict()
    assert data["cost"] == "0.0000816" and len(data["rounds"]) == 3
    assert data["rounds"][1] == {
        "round": 2, "input_tokens": 31, "history_tokens": 24, "output_tokens": 7, "context_tier": None,
        "input_price": "0.0004", "output_price": "0.0012", "cost": "0.0000208",
        "variants": {"implicit_cache": {"cost": "0.00001504"},
                     "explicit_cache": {"cost": None, "reason": "no cache write price"},
                     "batch": {"cost": "0.0000104"}},  # half of 0.0000208
        "exceeds_context": False}
    assert data["variants"] == {
        "implicit_cache": {"description": "with implicit cache hits on the history", "cost": "0.00006672"},
        "explicit_cache": {"description": "with an explicit cache (history hits, the rest written)",
                           "cost": None, "reason": "round 1: no cache write price"},
        "batch": {"description": "as batch calls (half price, no cache)", "cost": "0.0000408"}}


def test_prompt_at_december_2024_prices(catalog):
    rounds = text_rounds("Nice to meet you.", count_tokens, output_tokens=100)
    result = estimate(catalog, "qwen-max", "intl", DEC_2024, rounds)
    # 5 x 0.0100 / 1000 + 100 x 0.0300 / 1000
    assert result.cost == D("0.00305")
    assert {a.model: a.cost for a in result.alternatives} == {
        "qwen-plus": D("0.000915"),  # 5 x 0.0030 + 100 x 0.0090, per 1,000
        "qwen-turbo": D("0.000122"),  # 5 x 0.0004 + 100 x 0.0012, per 1,000
    }


def test_round_logic_with_a_simple_counter():
    def words(text: str) -> int:
        return len(text.split())

    msgs = [Message("user", "a b"), Message("assistant", "c"), Message("user", "d e f")]
    assert conversation_rounds(msgs, words, 9) == [Round(2, 1, True), Round(6, 9, False, history_tokens=3)]
    # a conversation that ends with a reply has no pending round
    assert conversation_rounds(msgs[:2], words, 9) == [Round(2, 1, True)]
    # a lone prompt
    assert conversation_rounds([Message("user", "x y")], words, 4) == [Round(2, 4, False)]
    with pytest.raises(InputError, match="needs a message before it"):
        conversation_rounds([Message("assistant", "hi")], words)
    with pytest.raises(InputError, match="no user message"):
        conversation_rounds([Message("system", "be brief")], words)


def test_a_request_crossing_a_context_tier_is_priced_at_that_tier_whole(catalog):
    # qwen3-max, China: 0-32K at 0.0025 in / 0.01 out, 32K-128K at 0.004 / 0.016 per 1,000 tokens
    result = estimate(catalog, "qwen3-max", "cn", MAY_2026, [Round(40_000, 1_000, False)], alternatives=False)
    [priced] = result.rounds
    assert (priced.context_tier, priced.input_price, priced.output_price) == ("32k-128k", D("0.004"), D("0.016"))
    # 40,000 x 0.004 + 1,000 x 0.016 = 176 per 1,000 tokens; not 32,768 tokens at 0.0025 and the rest at 0.004
    assert priced.cost == D("0.176")
    at_the_bound = estimate(catalog, "qwen3-max", "cn", MAY_2026, [Round(32_768, 1_000, False)],
                            alternatives=False)
    assert at_the_bound.rounds[0].context_tier == "0-32k" and at_the_bound.cost == D("0.09192")  # 81.92 + 10
    assert result.currency == "CNY"


def test_cache_and_batch_variants_at_the_round_tier(catalog):
    # qwen3-max, China, tier 32K-128K: input 0.004, implicit hit 0.0008, explicit hit 0.0004, cache write
    # 0.005, batch 0.002 in / 0.008 out, output 0.016 (per 1,000 tokens)
    rounds = [Round(40_000, 1_000, True), Round(45_000, 500, False, history_tokens=41_000)]
    result = estimate(catalog, "qwen3-max", "cn", MAY_2026, rounds, alternatives=False)
    assert [r.cost for r in result.rounds] == [D("0.176"), D("0.188")]  # 160 + 16; 180 + 8
    implicit = [r.variants["implicit_cache"].cost for r in result.rounds]
    assert implicit == [D("0.176"), D("0.0568")]  # no history yet; 4,000 x 0.004 + 41,000 x 0.0008 + 8
    explicit = [r.variants["explicit_cache"].cost for r in result.rounds]
    assert explicit == [D("0.216"), D("0.0444")]  # 40,000 x 0.005 + 16; 4,000 x 0.005 + 41,000 x 0.0004 + 8
    batch = [r.variants["batch"].cost for r in result.rounds]
    assert batch == [D("0.088"), D("0.094")]  # 80 + 8; 90 + 4
    assert (result.cost, result.variant("implicit_cache").cost, result.variant("explicit_cache").cost,
            result.variant("batch").cost) == (D("0.364"), D("0.2328"), D("0.2604"), D("0.182"))


def test_thinking_output_is_priced_apart(catalog):
    rounds = [Round(1_000, 1_000, False)]
    plain = estimate(catalog, "qwen-plus", "cn", MAY_2026, rounds, alternatives=False)
    thinking = estimate(catalog, "qwen-plus", "cn", MAY_2026, rounds, alternatives=False, thinking=True)
    assert (plain.cost, thinking.cost) == (D("0.0028"), D("0.0088"))  # 0.0008 + 0.002; 0.0008 + 0.008
    batch = thinking.variant("batch")
    assert batch.cost is None and batch.reason == "round 1: no batch thinking output price"
    with pytest.raises(InputError, match="no thinking output price"):
        estimate(catalog, "qwen3-max", "cn", MAY_2026, rounds, thinking=True)


def test_china_tiers_chosen_per_round(catalog):
    rounds = [Round(100_000, 1_000, True), Round(200_000, 1_000, False)]
    result = estimate(catalog, "qwen-plus", "cn", MAY_2026, rounds, alternatives=False)
    first, second = result.rounds
    assert (first.context_tier, first.input_price, first.output_price) == ("0-128k", D("0.0008"), D("0.002"))
    assert (second.context_tier, second.input_price, second.output_price) == ("128k-256k", D("0.0024"),
                                                                              D("0.02"))
    assert first.cost == D("0.082")  # 100 x 0.0008 + 1 x 0.002
    assert second.cost == D("0.50")  # 200 x 0.0024 + 1 x 0.02
    assert result.currency == "CNY"
    # batch at half price in each round's own tier
    assert [r.variants["batch"].cost for r in result.rounds] == [D("0.041"), D("0.25")]


def test_alternatives_that_cannot_be_priced_say_why(catalog):
    result = estimate(catalog, "qwen-plus", "cn", MAY_2026, [Round(300_000, 10, False)])
    costs = {a.model: (a.cost, a.reason) for a in result.alternatives}
    assert costs["qwen3-max"][0] is None and "300000 input tokens" in costs["qwen3-max"][1]  # tiers end at 256K
    assert costs["qwen-flash"][0] == D("0.36012")  # 300 x 0.0012 + 0.01 x 0.012, the 256k-1m tier
    assert "qwen3-omni-flash" not in costs  # priced per kind of input, not by 'input'


def test_context_window_flag(catalog):
    result = estimate(catalog, "qwen-max", "intl", DEC_2024, [Round(7_000, 1_001, False)], alternatives=False)
    assert result.rounds[0].exceeds_context  # 8,001 > 8,000
    text = format_estimate(result, conversation=False)
    assert "exceed the model's context of 8000 tokens" in text


def test_unknown_model_or_price_is_an_input_error(catalog):
    with pytest.raises(InputError, match="no intl input price for 'qwen-mega'") as caught:
        estimate(catalog, "qwen-mega", "intl", APR_2025, [Round(1, 0, False)])
    assert caught.value.field == "model" and "known intl models: qwen-max, qwen-plus, qwen-turbo)" in str(
        caught.value)
    with pytest.raises(InputError, match="no cn input price for 'qwen3-coder-plus'") as caught:
        estimate(catalog, "qwen3-coder-plus", "cn", date(2026, 6, 20), [Round(1, 0, False)])
    assert "qwen3-coder-plus has prices on the intl site" in str(caught.value)
    assert "qwen3.6-plus" in str(caught.value)  # the models the China site knows
    with pytest.raises(InputError, match="no input price for 300000 input tokens"):
        estimate(catalog, "qwen3.6-plus", "cn", MAY_2026, [Round(300_000, 0, False)])  # 256K-1M not known
    input_only = load_catalog(parse_price_list([{"model": "half-priced", "site": "cn", "effective_from": "2026-05-01",
                                                 "source": "test", "prices": {"input": "0.001"}}], "test.yaml"))
    with pytest.raises(InputError, match="no output price"):
        estimate(input_only, "half-priced", "cn", MAY_2026, [Round(1, 5, False)])
    with pytest.raises(InputError, match="no intl input price"):
        estimate(catalog, "qwen-max", "intl", date(2024, 1, 1), [Round(1, 0, False)])
    # input only: a model without an output price can still price a request without output
    assert estimate(input_only, "half-priced", "cn", MAY_2026, [Round(1000, 0, False)]).cost == D("0.001")


def test_table_shows_rounds_total_and_alternatives(catalog):
    rounds = conversation_rounds(parse_conversation(json.dumps(CHAT)), count_tokens, output_tokens=20)
    text = format_estimate(estimate(catalog, "qwen-plus", "intl", APR_2025, rounds), conversation=True)
    lines = text.splitlines()
    assert lines[0] == "qwen-plus on intl, list prices of 2025-06-01, USD per 1,000 tokens"
    assert lines[1].split() == ["round", "input", "tokens", "output", "tokens", "tier", "input", "price",
                                "output", "price", "cost"]
    assert lines[2].split() == ["1", "11", "13", "-", "0.0004", "0.0012", "0.00002"]
    assert lines[5].split() == ["total", "84", "40", "0.0000816"]
    assert "Each round is billed its whole history as input." in lines
    assert "The same conversation billed another way (USD):" in lines
    assert [line.split()[-1] for line in lines if line.startswith("  with implicit")] == ["0.00006672"]
    assert any(line.startswith("  with an explicit cache") and line.endswith(
        "cannot price: round 1: no cache write price") for line in lines)
    assert [line.split()[-1] for line in lines if line.startswith("  as batch calls")] == ["0.0000408"]
    assert any(line.split()[:2] == ["qwen-max", "0.0003904"] for line in lines)


def test_table_names_the_tier(catalog):
    result = estimate(catalog, "qwen3-max", "cn", MAY_2026, [Round(40_000, 1_000, False)], alternatives=False)
    lines = format_estimate(result, conversation=False).splitlines()
    assert lines[2].split() == ["1", "40000", "1000", "32k-128k", "0.004", "0.016", "0.176"]
    assert "A request is priced at the tier of its total input tokens, input and output." in lines


@pytest.mark.parametrize(("text", "field", "message"), [
    ("{oops", "", "not valid JSON"),
    ("[]", "", "non-empty JSON list"),
    ('{"a": 1}', "", "non-empty JSON list"),
    ('["hi"]', "[0]", "must be an object"),
    ('[{"role": "robot", "content": "x"}]', "[0].role", "'robot' is not one of"),
    ('[{"role": "user"}]', "[0].content", "no content"),
    ('[{"role": "user", "content": 5}]', "[0].content", "text or a list of text parts"),
    ('[{"role": "user", "content": [{"image": "a.png"}]}]', "[0].content[0]", "only text"),
])
def test_bad_conversations_name_the_field(text, field, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_conversation(text, source="chat.json")
    assert caught.value.field == field
    assert str(caught.value).startswith("chat.json")


def test_conversation_forms_accepted():
    parts = '[{"role": "user", "content": [{"type": "text", "text": "Nice to "}, {"text": "meet you."}]}]'
    assert parse_conversation(parts) == [Message("user", "Nice to meet you.")]
    wrapped = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    assert parse_conversation(wrapped) == [Message("user", "hi")]
