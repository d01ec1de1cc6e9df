"""The effective-dated Model Studio price catalog: shipped prices (``catalog.yaml``) plus the user's own.

A price is known for a model, a site (``intl`` in USD, ``cn`` in CNY), a usage type (``input``,
``output``, ``cached_input``, ``batch_input``, ``batch_output``, ... or the bill's own word such as ``images``
or ``1080P``), an optional context-length tier and a day. ``effective_from`` is inclusive and
``effective_until`` exclusive, so consecutive periods meet without a gap. Anything not in the catalog is
unknown: :meth:`PriceCatalog.price` returns None and never a neighbour's or an older price.

Users add or override prices with a ``prices:`` list in their configuration file, in the shape of the entries
of ``catalog.yaml`` (both are validated by ``chargeback.config.prices``); :func:`load_catalog` takes the
validated list. An override wins over a shipped price for the same model, site, usage type and tier on the
days both cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from chargeback.config.prices import SITE_CURRENCY, EntrySpec, parse_price_list, parse_tier
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

# [INFERRED] "128K" in tier names read as 131,072 tokens, like the 131,072-token context windows.
TOKENS_PER_K = 1024


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

    @property
    def tier_bounds(self) -> tuple[int, int] | None:
        return parse_tier(self.context_tier) if self.context_tier else None

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day < self.effective_until)

    def cost(self, quantity: Decimal) -> Decimal:
        """Exact list cost of ``quantity`` units (e.g. thousands of tokens)."""
        return self.price * quantity


def _flatten(spec: EntrySpec, origin: str) -> list[PriceEntry]:
    groups: list[tuple[str | None, dict[str, Decimal]]] = [(None, spec.prices or {})]
    if spec.tiers is not None:
        groups = [(t.context_tier, t.prices) for t in spec.tiers]
    return [
        PriceEntry(
            model=spec.model, site=spec.site, usage_type=usage_type, price=price,
            currency=SITE_CURRENCY[spec.site], unit=spec.unit, effective_from=spec.effective_from,
            effective_until=spec.effective_until, context_tier=tier,
            max_context_tokens=spec.max_context_tokens, source=spec.source, note=spec.note, origin=origin,
        )
        for tier, prices in groups
        for usage_type, price in prices.items()
    ]


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
        return sorted(tiered, key=lambda e: e.tier_bounds or (0, 0))

    def price_for_tokens(
        self, model: str, site: str, usage_type: str, on: date, input_tokens: int
    ) -> PriceEntry | None:
        """The price for a request of ``input_tokens`` input tokens: the tier holding that many, if tiered."""
        tiers = self.tiers(model, site, usage_type, on)
        if tiers:
            for entry in tiers:
                _, high = entry.tier_bounds or (0, 0)
                if input_tokens <= high * TOKENS_PER_K:
                    return entry
            return None
        return self.price(model, site, usage_type, on)

    def models(self, site: str, on: date) -> list[str]:
        """Every model with a price on ``site`` in force on ``on``, sorted."""
        return sorted({e.model for e in self.entries if e.site == site and e.covers(on)})


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
    "SITE_CURRENCY",
    "TOKENS_PER_K",
    "PriceCatalog",
    "PriceEntry",
    "load_catalog",
    "parse_tier",
]
