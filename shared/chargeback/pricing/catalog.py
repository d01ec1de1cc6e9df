"""The effective-dated Model Studio price catalog: shipped prices (``catalog.yaml``) plus the user's own.

A price is known for a model, a site (``intl`` in USD, ``cn`` in CNY), a usage type (``input``,
``output``, ``cached_input``, ``batch_input``, ``batch_output``, ... or the bill's own word such as ``images``
or ``1080P``), an optional context-length tier and a day. ``effective_from`` is inclusive and
``effective_until`` exclusive, so consecutive periods meet without a gap. Anything not in the catalog is
unknown: :meth:`PriceCatalog.price` returns None and never a neighbour's or an older price.

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
from typing import Any, Literal

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
    """The prices of one context-length tier."""

    context_tier: str
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

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Any:
        return _price_map(value)

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
        return self


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
    "SITE_CURRENCY",
    "TOKENS_PER_K",
    "PriceCatalog",
    "PriceEntry",
    "load_catalog",
    "parse_entries",
    "parse_tier",
]
