"""The effective-dated Model Studio price catalog: shipped prices (``catalog.yaml``) plus the user's own.

A price is known for a model, a site (``intl`` in USD, ``cn`` in CNY), a usage type (see ``USAGE_TYPES``, or
the bill's own word such as ``images`` or ``1080P``), an optional context-length tier and a day.
``effective_from`` is inclusive and ``effective_until`` exclusive, so consecutive periods meet without a gap.
Anything not in the catalog is unknown: :meth:`PriceCatalog.price` returns None and never a neighbour's or an
older price.

A context tier holds the requests whose total input tokens lie in ``(low, up_to_tokens]``; the whole request is
priced at its tier. Prices a source states as a rule rather than a number (cache hits at 20% of input, batch at
half price, ...) are listed under ``derive`` and computed here from the entry's own input and output prices
(``DERIVATIONS``); such prices carry ``inferred=True``.

Users add or override prices with a ``prices:`` list in their configuration file, in the shape of the entries
of ``catalog.yaml`` (both are validated by ``chargeback.config.prices``, which also owns ``DERIVATIONS`` and
the tier bounds); :func:`load_catalog` takes the validated list. An override wins over a shipped price for the
same model, site, usage type and tier on the days both cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from chargeback.config.prices import (
    DERIVATIONS,
    SITE_CURRENCY,
    TOKENS_PER_K,
    EntrySpec,
    parse_price_list,
    parse_tier,
    up_to_tokens,
)
from chargeback.config.yaml_source import read_yaml

# The bill's usage units (用量单位) that mean the same as a catalog unit.
BILL_UNITS: dict[str, str] = {
    "千tokens": "1K tokens",
    "1k tokens": "1K tokens",
    "1ktokens": "1K tokens",
    "1000 tokens": "1K tokens",
    "张": "image",
    "image": "image",
    "images": "image",
    "秒": "second",
    "second": "second",
    "seconds": "second",
}

# The catalog's own usage types; entries may add the bill's words (text_input, images, 1080P, ...).
USAGE_TYPES: dict[str, str] = {
    "input": "input tokens",
    "output": "output tokens",
    "thinking_output": "output tokens in thinking mode",
    "cached_input": "input tokens that hit the implicit cache",
    "explicit_cached_input": "input tokens that hit an explicit cache",
    "cache_write": "input tokens written to an explicit cache",
    "batch_input": "input tokens of a batch call",
    "batch_output": "output tokens of a batch call",
}

@dataclass(frozen=True)
class PriceEntry:
    """One price: per ``unit`` of usage, in ``currency``, for days in [effective_from, effective_until)."""

    model: str
    site: str
    usage_type: str
    price: Decimal
    currency: str
    unit: str
    effective_from: date
    effective_until: date | None
    context_tier: str | None
    max_context_tokens: int | None
    source: str
    note: str
    origin: str  # 'catalog' (shipped) or 'override' (the user's mapping file)
    tier_tokens: tuple[int, int] | None = None  # a tier's input tokens per request: (low, high]
    inferred: bool = False  # derived from another price by a published rule, not read

    @property
    def tier_bounds(self) -> tuple[int, int] | None:
        return parse_tier(self.context_tier) if self.context_tier else None

    def holds(self, input_tokens: int) -> bool:
        """Whether a request of ``input_tokens`` input tokens falls in this price's tier (always, untiered)."""
        if self.tier_tokens is None:
            return True
        low, high = self.tier_tokens
        return low < input_tokens <= high or (low == 0 and input_tokens == 0)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day < self.effective_until)

    def cost(self, quantity: Decimal) -> Decimal:
        """Exact list cost of ``quantity`` units (e.g. thousands of tokens)."""
        return self.price * quantity


def _tier_tokens(spec: EntrySpec) -> dict[str, tuple[int, int]]:
    tiers = sorted(spec.tiers or [], key=lambda t: parse_tier(t.context_tier))
    bounds: dict[str, tuple[int, int]] = {}
    low = 0
    for tier in tiers:
        high = up_to_tokens(tier)
        bounds[tier.context_tier] = (low, high)
        low = high
    return bounds


def _flatten(spec: EntrySpec, origin: str) -> list[PriceEntry]:
    tokens = _tier_tokens(spec)
    entries = []
    for tier, prices in spec.price_groups():
        label = tier.context_tier if tier else None

        def entry(usage_type: str, price: Decimal, note: str, inferred: bool, label: str | None = label) -> PriceEntry:
            return PriceEntry(
                model=spec.model, site=spec.site, usage_type=usage_type, price=price,
                currency=SITE_CURRENCY[spec.site], unit=spec.unit, effective_from=spec.effective_from,
                effective_until=spec.effective_until, context_tier=label,
                max_context_tokens=spec.max_context_tokens, source=spec.source, note=note, origin=origin,
                tier_tokens=tokens.get(label) if label else None, inferred=inferred)

        entries += [entry(usage_type, price, spec.note, False) for usage_type, price in prices.items()]
        for usage_type in spec.derive:
            rule = DERIVATIONS[usage_type]
            entries.append(entry(usage_type, prices[rule.base] * rule.factor,
                                 f"[INFERRED] {rule.rule} ({rule.source}); {spec.note}", True))
    return entries


class PriceCatalog:
    """Prices to look up by model, site, usage type, day and tier. Overrides come first."""

    def __init__(self, entries: list[PriceEntry]) -> None:
        order = {"override": 0, "catalog": 1}
        self.entries: tuple[PriceEntry, ...] = tuple(sorted(entries, key=lambda e: order.get(e.origin, 2)))
        self._by_key: dict[tuple[str, str, str], list[PriceEntry]] = {}
        for entry in self.entries:
            self._by_key.setdefault((entry.model, entry.site, entry.usage_type), []).append(entry)

    def price(
        self, model: str, site: str, usage_type: str, on: date, context_tier: str | None = None
    ) -> PriceEntry | None:
        """The price in force on ``on``, or None when the catalog does not know it.

        ``context_tier`` ('0-128k', '128-256k', ...) picks the tier with the same bounds. Without a tier, an
        untiered price is returned, or for a tiered model the tier that starts at 0 (the price of every
        request shorter than its upper bound).
        """
        candidates = [e for e in self._by_key.get((model, site, usage_type), []) if e.covers(on)]
        if not candidates:
            return None
        if context_tier:
            try:
                wanted = parse_tier(context_tier)
            except ValueError:
                return None
            for entry in candidates:
                if entry.tier_bounds == wanted:
                    return entry
            return None
        for entry in candidates:
            if entry.context_tier is None:
                return entry
        for entry in candidates:
            bounds = entry.tier_bounds
            if bounds is not None and bounds[0] == 0:
                return entry
        return None

    def tiers(self, model: str, site: str, usage_type: str, on: date) -> list[PriceEntry]:
        """The tiered prices in force on ``on`` (the winning origin only), lowest tier first."""
        candidates = [e for e in self._by_key.get((model, site, usage_type), []) if e.covers(on)]
        if not candidates:
            return []
        origin = candidates[0].origin
        tiered = [e for e in candidates if e.origin == origin and e.context_tier]
        return sorted(tiered, key=lambda e: e.tier_tokens or (0, 0))

    def price_for_tokens(
        self, model: str, site: str, usage_type: str, on: date, input_tokens: int
    ) -> PriceEntry | None:
        """The price for a request of ``input_tokens`` input tokens: the tier holding that many, if tiered."""
        tiers = self.tiers(model, site, usage_type, on)
        if tiers:
            return next((entry for entry in tiers if entry.holds(input_tokens)), None)
        return self.price(model, site, usage_type, on)

    def models(self, site: str, on: date, usage_type: str | None = None) -> list[str]:
        """Every model with a price (of ``usage_type``, if given) on ``site`` in force on ``on``, sorted."""
        return sorted({e.model for e in self.entries if e.site == site and e.covers(on)
                       and (usage_type is None or e.usage_type == usage_type)})

    def sites(self, model: str, on: date) -> list[str]:
        """The sites on which ``model`` has a price in force on ``on``."""
        return sorted({e.site for e in self.entries if e.model == model and e.covers(on)})


SHIPPED_SOURCE = "chargeback/pricing/catalog.yaml"


@lru_cache(maxsize=1)
def _shipped() -> tuple[PriceEntry, ...]:
    text = resources.files("chargeback.pricing").joinpath("catalog.yaml").read_bytes()
    document = read_yaml(text, SHIPPED_SOURCE)
    specs = parse_price_list(document.data.get("entries"), SHIPPED_SOURCE, document, ("entries",))
    return tuple(entry for spec in specs for entry in _flatten(spec, "catalog"))


def load_catalog(overrides: Sequence[EntrySpec] = ()) -> PriceCatalog:
    """The shipped catalog plus ``overrides`` (the configuration file's validated ``prices:``), which win."""
    entries = [entry for spec in overrides for entry in _flatten(spec, "override")]
    return PriceCatalog(entries + list(_shipped()))


__all__ = [
    "BILL_UNITS",
    "DERIVATIONS",
    "SITE_CURRENCY",
    "TOKENS_PER_K",
    "USAGE_TYPES",
    "PriceCatalog",
    "PriceEntry",
    "load_catalog",
    "parse_tier",
]
