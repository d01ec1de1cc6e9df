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

Users add or override prices with a ``prices:`` list in their mapping file, in the shape of the entries of
``catalog.yaml``; :func:`load_catalog` takes that raw list. An override wins over a shipped price for the same
model, site, usage type and tier on the days both cover. Prices are decimal strings (or integers), never
floats: YAML reads ``0.0003`` as a float, so the loader asks for ``"0.0003"``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chargeback.errors import ConfigError

Site = Literal["intl", "cn"]
SITE_CURRENCY: dict[str, str] = {"intl": "USD", "cn": "CNY"}
Unit = Literal["1K tokens", "image", "second"]

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

CONTEXT_CACHE_DOC = "https://www.alibabacloud.com/help/en/model-studio/context-cache"
BATCH_DOC = "https://help.aliyun.com/zh/model-studio/billing-for-alibaba-cloud-model-studio"


class Derivation(NamedTuple):
    """A price a source gives as a share of another price of the same tier."""

    base: str
    factor: Decimal
    rule: str
    source: str


DERIVATIONS: dict[str, Derivation] = {
    "cached_input": Derivation("input", Decimal("0.2"), "implicit cache hits cost 20% of input", CONTEXT_CACHE_DOC),
    "explicit_cached_input": Derivation("input", Decimal("0.1"), "explicit cache hits cost 10% of input",
                                        CONTEXT_CACHE_DOC),
    "cache_write": Derivation("input", Decimal("1.25"), "explicit cache creation costs 125% of input",
                              CONTEXT_CACHE_DOC),
    "batch_input": Derivation("input", Decimal("0.5"), "batch calls cost 50% of real time", BATCH_DOC),
    "batch_output": Derivation("output", Decimal("0.5"), "batch calls cost 50% of real time", BATCH_DOC),
}
_TIER = re.compile(r"^(?P<lo>\d+)(?P<lo_unit>[km]?)-(?P<hi>\d+)(?P<hi_unit>[km]?)$")
_SCALE = {"": 1, "k": 1, "m": 1000}


def parse_tier(label: str) -> tuple[int, int]:
    """(low, high) of a context tier in thousands of tokens: '0-128k' -> (0, 128), '256k-1m' -> (256, 1000).

    A bare low bound takes the high bound's unit ('128-256k' = '128k-256k'). ValueError for anything else.
    """
    match = _TIER.match(label.strip().lower())
    if not match:
        raise ValueError(f"context tier {label!r} is not like '0-128k' or '256k-1m'")
    hi_unit = match.group("hi_unit")
    lo_unit = match.group("lo_unit") or hi_unit
    low = int(match.group("lo")) * _SCALE[lo_unit]
    high = int(match.group("hi")) * _SCALE[hi_unit]
    if high <= low:
        raise ValueError(f"context tier {label!r} ends before it starts")
    return low, high


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(f"write the price {value!r} as a quoted string (\"{value}\") so it stays exact")
    if isinstance(value, bool):
        raise ValueError("a price must be a number")
    if isinstance(value, int):
        return str(value)
    return value


def _decimal(value: Any) -> Decimal:
    value = _no_float(value)
    if not isinstance(value, str):
        raise ValueError(f"a price must be a decimal string, not {type(value).__name__}")
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not price.is_finite() or price < 0:
        raise ValueError(f"{value!r} is not a price (finite and not negative)")
    return price


def _price_map(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValueError("prices must be a non-empty mapping of usage type to price")
    return {str(k): _decimal(v) for k, v in value.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierSpec(_Strict):
    """The prices of one context-length tier: requests with up to ``up_to_tokens`` input tokens (default: the
    label's upper bound, 'K' read as 1,024 tokens)."""

    context_tier: str
    up_to_tokens: int | None = Field(default=None, gt=0)
    prices: dict[str, Decimal]

    @field_validator("context_tier")
    @classmethod
    def _tier(cls, value: str) -> str:
        parse_tier(value)
        return value.strip().lower()

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("a tier needs prices")
        return _price_map(value)


class EntrySpec(_Strict):
    """One catalog entry as written in YAML: a model on a site for a period, flat or tiered prices."""

    model: str = Field(min_length=1)
    site: Site
    currency: str | None = None
    unit: Unit = "1K tokens"
    effective_from: date
    effective_until: date | None = None
    max_context_tokens: int | None = Field(default=None, gt=0)
    source: str = Field(min_length=1)
    note: str = ""
    prices: dict[str, Decimal] | None = None
    tiers: list[TierSpec] | None = None
    derive: list[str] = []  # usage types computed by DERIVATIONS from the entry's own prices

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Any:
        return _price_map(value)

    @field_validator("derive")
    @classmethod
    def _derive(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in DERIVATIONS]
        if unknown:
            raise ValueError(f"cannot derive {', '.join(unknown)}; derivable: {', '.join(DERIVATIONS)}")
        return value

    def price_groups(self) -> list[tuple[TierSpec | None, dict[str, Decimal]]]:
        """(tier or None, prices) for every tier, or the one flat group."""
        if self.tiers is not None:
            return [(tier, tier.prices) for tier in self.tiers]
        return [(None, self.prices or {})]

    @model_validator(mode="after")
    def _consistent(self) -> EntrySpec:
        if (self.prices is None) == (self.tiers is None):
            raise ValueError("give either 'prices' or 'tiers'")
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise ValueError(f"effective_until {self.effective_until} is not after effective_from "
                             f"{self.effective_from}")
        expected = SITE_CURRENCY[self.site]
        if self.currency is not None and self.currency != expected:
            raise ValueError(f"site {self.site} prices in {expected}, not {self.currency}")
        if self.tiers:
            bounds = sorted(parse_tier(t.context_tier) for t in self.tiers)
            for (_, hi), (lo, _) in itertools.pairwise(bounds):
                if lo < hi:
                    raise ValueError("context tiers overlap")
            ups = [up_to_tokens(t) for t in sorted(self.tiers, key=lambda t: parse_tier(t.context_tier))]
            if any(b <= a for a, b in itertools.pairwise(ups)):
                raise ValueError("up_to_tokens must grow from tier to tier")
        for usage_type in self.derive:
            base = DERIVATIONS[usage_type].base
            for tier, prices in self.price_groups():
                where = f"tier {tier.context_tier}" if tier else "prices"
                if usage_type in prices:
                    raise ValueError(f"{usage_type} is both given and derived in {where}")
                if base not in prices:
                    raise ValueError(f"{usage_type} is derived from {base}, which {where} lacks")
        return self


def up_to_tokens(tier: TierSpec) -> int:
    """The most input tokens a request of ``tier`` holds."""
    if tier.up_to_tokens is not None:
        return tier.up_to_tokens
    return parse_tier(tier.context_tier)[1] * TOKENS_PER_K


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


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    problems = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal[")))
        problems.append(f"{prefix}{'.' + path if path else ''}: {error['msg']}")
    return problems


def parse_entries(raw: Any, *, origin: str, source: str) -> list[PriceEntry]:
    """Validate a list of entries; a ConfigError names every bad field as ``prices[i].field``."""
    if not isinstance(raw, list):
        raise ConfigError("prices must be a list of entries", source=source, field="prices")
    entries: list[PriceEntry] = []
    problems: list[str] = []
    for index, item in enumerate(raw):
        try:
            spec = EntrySpec.model_validate(item)
        except ValidationError as exc:
            problems += _problems(exc, f"prices[{index}]")
            continue
        entries += _flatten(spec, origin)
    if problems:
        raise ConfigError("invalid prices: " + "; ".join(problems), source=source)
    return entries


SHIPPED_SOURCE = "chargeback/pricing/catalog.yaml"


@lru_cache(maxsize=1)
def _shipped() -> tuple[PriceEntry, ...]:
    text = resources.files("chargeback.pricing").joinpath("catalog.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return tuple(parse_entries(data.get("entries"), origin="catalog", source=SHIPPED_SOURCE))


def load_catalog(overrides: list[dict[str, Any]] | None = None, *, source: str = "mapping") -> PriceCatalog:
    """The shipped catalog plus ``overrides`` (the raw ``prices:`` list of a mapping file), which win."""
    entries = list(_shipped())
    if overrides:
        entries = parse_entries(overrides, origin="override", source=source) + entries
    return PriceCatalog(entries)


__all__ = [
    "BILL_UNITS",
    "DERIVATIONS",
    "SITE_CURRENCY",
    "TOKENS_PER_K",
    "USAGE_TYPES",
    "PriceCatalog",
    "PriceEntry",
    "load_catalog",
    "parse_entries",
    "parse_tier",
]
