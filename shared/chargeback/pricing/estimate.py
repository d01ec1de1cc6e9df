"""Cost estimates before a call: tokens counted with the Qwen tokenizer, priced with the catalog.

Model Studio bills every message of a request as input, so in a multi-round conversation the whole history is
billed again on every round. A conversation (a JSON list of ``{"role", "content"}`` messages, as the chat APIs
take them) becomes one round per assistant reply: its input is every message before the reply (earlier replies
included), its output the reply itself. Messages after the last reply that include a user message form a last
round, whose output is the expected ``output_tokens``. A plain prompt is one round.

Counts cover the message text only; the service adds a few template tokens per message, so a count is an
estimate (tooling-notes.md: the ``dashscope`` vocabulary is shared by all ``qwen*`` models).

A request is priced at the context tier that holds its total input tokens, the whole request (input and output)
at that tier's rates; each round of a conversation gets its own tier. Beside the list price, every round is
priced three other ways (``VARIANTS``): with implicit cache hits on its history (the previous round's input and
reply, a prefix of this round's input), with an explicit cache (the history hits, the rest of the input is
written to the cache), and as a batch call (half price, no cache). A variant the catalog cannot price says why.
Costs are exact decimals: tokens x price / 1,000.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from chargeback.errors import InputError
from chargeback.money import format_decimal
from chargeback.pricing.catalog import SITE_CURRENCY, PriceCatalog

TokenCounter = Callable[[str], int]
ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
THOUSAND = Decimal(1000)
TOKENIZER_MODEL = "qwen-turbo"


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from dashscope import get_tokenizer  # imported here: loading the vocabulary takes about a second

    return get_tokenizer(TOKENIZER_MODEL)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` with the Qwen vocabulary shipped in the ``dashscope`` package (offline)."""
    return len(_tokenizer().encode(text))


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Round:
    """One request: the tokens sent and the tokens returned (or expected)."""

    input_tokens: int
    output_tokens: int
    replied: bool  # False for the last round of a conversation that still waits for its reply
    history_tokens: int = 0  # leading input tokens that the round before sent and received (cacheable)


def _content_text(content: Any, where: str, source: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise InputError("only text content can be counted", source=source,
                                 field=f"{where}.content[{index}]")
        return "".join(texts)
    raise InputError("content must be text or a list of text parts", source=source, field=f"{where}.content")


def parse_conversation(text: str, source: str = "conversation") -> list[Message]:
    """Messages from a JSON list of ``{"role": ..., "content": ...}``; InputError names the bad field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]
    if not isinstance(data, list) or not data:
        raise InputError('expected a non-empty JSON list of {"role": ..., "content": ...} messages',
                         source=source)
    messages = []
    for index, item in enumerate(data):
        where = f"[{index}]"
        if not isinstance(item, dict):
            raise InputError("a message must be an object with role and content", source=source, field=where)
        role = item.get("role")
        if role not in ROLES:
            raise InputError(f"role {role!r} is not one of {', '.join(sorted(ROLES))}", source=source,
                             field=f"{where}.role")
        if "content" not in item:
            raise InputError("the message has no content", source=source, field=f"{where}.content")
        messages.append(Message(str(role), _content_text(item["content"], where, source)))
    return messages


def conversation_rounds(
    messages: Sequence[Message], count: TokenCounter, output_tokens: int = 0, source: str = "conversation"
) -> list[Round]:
    """One round per assistant reply (input: all earlier messages), and a last one for a pending user turn."""
    tokens = [count(m.content) for m in messages]
    rounds: list[Round] = []

    def history() -> int:
        return rounds[-1].input_tokens + rounds[-1].output_tokens if rounds else 0

    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        if index == 0:
            raise InputError("an assistant reply needs a message before it", source=source, field="[0].role")
        rounds.append(Round(sum(tokens[:index]), tokens[index], replied=True, history_tokens=history()))
    last_reply = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
    if any(m.role == "user" for m in messages[last_reply + 1:]):
        rounds.append(Round(sum(tokens), output_tokens, replied=False, history_tokens=history()))
    if not rounds:
        raise InputError("the conversation has no user message and no assistant reply", source=source)
    return rounds


def text_rounds(text: str, count: TokenCounter, output_tokens: int = 0) -> list[Round]:
    """A single prompt as one round."""
    return [Round(count(text), output_tokens, replied=False)]


# How else the same requests can be billed; the text says how each is priced.
VARIANTS: dict[str, str] = {
    "implicit_cache": "with implicit cache hits on the history",
    "explicit_cache": "with an explicit cache (history hits, the rest written)",
    "batch": "as batch calls (half price, no cache)",
}


@dataclass(frozen=True)
class Variant:
    """A round (or all rounds) billed another way; cost None when the catalog lacks a price, with the reason."""

    cost: Decimal | None
    reason: str = ""


@dataclass(frozen=True)
class PricedRound:
    number: int
    input_tokens: int
    history_tokens: int
    output_tokens: int
    input_price: Decimal
    output_price: Decimal | None
    context_tier: str | None
    cost: Decimal
    exceeds_context: bool
    variants: dict[str, Variant] = field(default_factory=dict)


@dataclass
class Alternative:
    """The same rounds on another model of the site; cost None when the catalog cannot price them all."""

    model: str
    cost: Decimal | None
    reason: str = ""


@dataclass
class Estimate:
    model: str
    site: str
    currency: str
    on: date
    rounds: list[PricedRound]
    alternatives: list[Alternative] = field(default_factory=list)
    max_context_tokens: int | None = None
    thinking: bool = False

    @property
    def input_tokens(self) -> int:
        return sum(r.input_tokens for r in self.rounds)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.rounds)

    @property
    def cost(self) -> Decimal:
        return sum((r.cost for r in self.rounds), Decimal(0))

    def variant(self, name: str) -> Variant:
        """The variant's cost over all rounds, or None with the first round's reason it cannot be priced."""
        total = Decimal(0)
        for priced in self.rounds:
            one = priced.variants[name]
            if one.cost is None:
                return Variant(None, f"round {priced.number}: {one.reason}")
            total += one.cost
        return Variant(total)

    def to_dict(self) -> dict[str, Any]:
        f = format_decimal

        def variant(v: Variant) -> dict[str, Any]:
            return {"cost": f(v.cost) if v.cost is not None else None, **({"reason": v.reason} if v.reason else {})}

        return {
            "model": self.model,
            "site": self.site,
            "currency": self.currency,
            "prices_on": self.on.isoformat(),
            "price_unit": f"{self.currency} per 1,000 tokens",
            "thinking": self.thinking,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": f(self.cost),
            "variants": {name: {"description": text, **variant(self.variant(name))}
                         for name, text in VARIANTS.items()},
            "max_context_tokens": self.max_context_tokens,
            "rounds": [
                {"round": r.number, "input_tokens": r.input_tokens, "history_tokens": r.history_tokens,
                 "output_tokens": r.output_tokens, "context_tier": r.context_tier,
                 "input_price": f(r.input_price),
                 "output_price": f(r.output_price) if r.output_price is not None else None,
                 "cost": f(r.cost), "variants": {name: variant(v) for name, v in r.variants.items()},
                 "exceeds_context": r.exceeds_context}
                for r in self.rounds
            ],
            "alternatives": [
                {"model": a.model, "cost": f(a.cost) if a.cost is not None else None,
                 **({"reason": a.reason} if a.reason else {})}
                for a in self.alternatives
            ],
        }


class _Unpriced(Exception):
    pass


def _price_round(
    catalog: PriceCatalog, model: str, site: str, on: date, number: int, rnd: Round, thinking: bool
) -> PricedRound:
    entry = catalog.price_for_tokens(model, site, "input", on, rnd.input_tokens)
    if entry is None:
        raise _Unpriced(f"no input price for {rnd.input_tokens} input tokens")

    def rate(usage_type: str) -> Decimal | None:
        found = catalog.price(model, site, usage_type, on, entry.context_tier)
        return found.price if found is not None else None

    output_type = "thinking_output" if thinking else "output"

    def cost(*parts: tuple[int, str]) -> Variant:
        """(tokens, usage type) parts priced at this round's tier; a part of no tokens needs no price."""
        total = Decimal(0)
        for tokens, usage_type in parts:
            if tokens:
                price = rate(usage_type)
                if price is None:
                    return Variant(None, f"no {usage_type.replace('_', ' ')} price")
                total += Decimal(tokens) * price
        return Variant(total / THOUSAND)

    output = (rnd.output_tokens, output_type)
    standard = cost((rnd.input_tokens, "input"), output)
    if standard.cost is None:
        raise _Unpriced(standard.reason)
    fresh, history = rnd.input_tokens - rnd.history_tokens, rnd.history_tokens
    variants = {
        "implicit_cache": cost((fresh, "input"), (history, "cached_input"), output),
        "explicit_cache": cost((fresh, "cache_write"), (history, "explicit_cached_input"), output),
        "batch": cost((rnd.input_tokens, "batch_input"), (rnd.output_tokens, f"batch_{output_type}")),
    }
    limit = entry.max_context_tokens
    return PricedRound(number, rnd.input_tokens, rnd.history_tokens, rnd.output_tokens, entry.price,
                       rate(output_type) if rnd.output_tokens else None, entry.context_tier, standard.cost,
                       exceeds_context=limit is not None and rnd.input_tokens + rnd.output_tokens > limit,
                       variants=variants)


def _price_all(
    catalog: PriceCatalog, model: str, site: str, on: date, rounds: Sequence[Round], thinking: bool
) -> list[PricedRound]:
    return [_price_round(catalog, model, site, on, n, r, thinking) for n, r in enumerate(rounds, start=1)]


def estimate(
    catalog: PriceCatalog,
    model: str,
    site: str,
    on: date,
    rounds: Sequence[Round],
    *,
    alternatives: bool = True,
    thinking: bool = False,
) -> Estimate:
    """Price ``rounds`` on ``model`` at ``site``'s list prices of ``on`` (output in thinking mode if asked).

    InputError when the catalog cannot: an unknown site or model, or a model without a price on that site
    (the message lists the models the site knows).
    """
    if site not in SITE_CURRENCY:
        raise InputError(f"site {site!r} is not one of {', '.join(sorted(SITE_CURRENCY))}", field="site")
    first = catalog.price(model, site, "input", on)
    if first is None:
        known = ", ".join(catalog.models(site, on, "input")) or "none"
        elsewhere = [other for other in catalog.sites(model, on) if other != site]
        hint = f"; {model} has prices on the {', '.join(elsewhere)} site" if elsewhere else ""
        raise InputError(f"no {site} input price for {model!r} on {on.isoformat()} (known {site} models: "
                         f"{known}){hint}; add one with a 'prices:' entry in the mapping file", field="model")
    try:
        priced = _price_all(catalog, model, site, on, rounds, thinking)
    except _Unpriced as exc:
        raise InputError(f"cannot price {model!r} on {site} on {on.isoformat()}: {exc}",
                         field="model") from None
    result = Estimate(model, site, SITE_CURRENCY[site], on, priced, max_context_tokens=first.max_context_tokens,
                      thinking=thinking)
    if alternatives:
        for other in catalog.models(site, on, "input"):
            if other == model:
                continue
            try:
                cost = sum((r.cost for r in _price_all(catalog, other, site, on, rounds, thinking)), Decimal(0))
                result.alternatives.append(Alternative(other, cost))
            except _Unpriced as exc:
                result.alternatives.append(Alternative(other, None, str(exc)))
    return result


def format_estimate(result: Estimate, *, conversation: bool) -> str:
    """A readable table: rounds with their tiers, the total, the cache and batch variants, other models."""
    f = format_decimal
    currency = result.currency
    mode = ", output in thinking mode" if result.thinking else ""
    out = [f"{result.model} on {result.site}, list prices of {result.on.isoformat()}, "
           f"{currency} per 1,000 tokens{mode}"]
    head = ("round", "input tokens", "output tokens", "tier", "input price", "output price", "cost")
    rows = [(str(r.number), str(r.input_tokens), str(r.output_tokens), r.context_tier or "-", f(r.input_price),
             f(r.output_price) if r.output_price is not None else "-", f(r.cost)) for r in result.rounds]
    rows.append(("total", str(result.input_tokens), str(result.output_tokens), "", "", "", f(result.cost)))
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    for row in (head, *rows):
        cells = zip(row, widths, strict=True)
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))
    if any(r.context_tier for r in result.rounds):
        out.append("A request is priced at the tier of its total input tokens, input and output.")
    if conversation:
        out.append("Each round is billed its whole history as input.")
    over = [r.number for r in result.rounds if r.exceeds_context]
    if over:
        out.append(f"Round(s) {', '.join(map(str, over))} exceed the model's context of "
                   f"{result.max_context_tokens} tokens.")
    out.append("")
    out.append(f"The same {'conversation' if conversation else 'prompt'} billed another way ({currency}):")
    label_width = max(len(text) for text in ("at list price", *VARIANTS.values()))
    out.append(f"  {'at list price'.ljust(label_width)}  {f(result.cost)}")
    for name, text in VARIANTS.items():
        variant = result.variant(name)
        shown = f(variant.cost) if variant.cost is not None else f"cannot price: {variant.reason}"
        out.append(f"  {text.ljust(label_width)}  {shown}")
    if result.alternatives:
        out.append("")
        out.append(f"Same {'conversation' if conversation else 'prompt'} on other {result.site} models:")
        name_width = max(len(name) for name in [result.model, *(a.model for a in result.alternatives)])
        out.append(f"{'model'.ljust(name_width)}  cost ({currency})")
        out.append(f"{result.model.ljust(name_width)}  {f(result.cost)}  (this estimate)")
        for alt in result.alternatives:
            cost = f(alt.cost) if alt.cost is not None else f"cannot price: {alt.reason}"
            out.append(f"{alt.model.ljust(name_width)}  {cost}")
    out.append("Token counts: Qwen tokenizer, message text only; the service adds a few template tokens.")
    out.append("Cache variants assume the whole history hits the cache (minimum cache sizes not applied).")
    return "\n".join(out)


__all__ = ["VARIANTS", "Estimate", "Message", "Round", "Variant", "conversation_rounds", "count_tokens", "estimate",
           "format_estimate", "parse_conversation", "text_rounds"]
