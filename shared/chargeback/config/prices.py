"""The ``prices:`` and ``pricing:`` sections of the configuration file, and the shape of a catalog entry.

``prices:`` is a list of entries in the shape of the shipped ``chargeback/pricing/catalog.yaml`` (which is read
with the same models): a model on a site (``intl`` in USD, ``cn`` in CNY) for a period, with flat prices per
usage type or context-length tiers (``up_to_tokens`` input tokens each), and the usage types it lists under
``derive`` computed by a published rule (``DERIVATIONS``: cache hits at 20% of input, batch at half price).
Prices are decimal strings (or integers), never floats: YAML reads ``0.0003`` as a float, so the entry asks
for ``"0.0003"``. ``pricing: {site: cn}`` sets the site that ``chargeback estimate`` prices on when ``--site``
is not given (default ``intl``).
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from chargeback.config.fields import Section
from chargeback.config.problems import Problem, dotted, raise_problems, validate
from chargeback.config.yaml_source import YamlDocument

Site = Literal["intl", "cn"]
SITE_CURRENCY: dict[str, str] = {"intl": "USD", "cn": "CNY"}
CURRENCY_SITE: dict[str, str] = {currency: site for site, currency in SITE_CURRENCY.items()}
BILL_CURRENCIES: tuple[str, ...] = tuple(sorted(SITE_CURRENCY.values()))
"""The currencies Model Studio bills in (one per site)."""
Unit = Literal["1K tokens", "image", "second"]

# [INFERRED] "128K" in tier names read as 131,072 tokens, like the 131,072-token context windows.
TOKENS_PER_K = 1024

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


class TierSpec(Section):
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


class EntrySpec(Section):
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
    derive: list[str] = Field(default_factory=list)  # usage types computed by DERIVATIONS from the entry's prices

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


class PricingSettings(Section):
    """``pricing: {site: cn}``: the site ``chargeback estimate`` prices on by default."""

    site: Site | None = None


def parse_price_list(raw: Any, source: str, document: YamlDocument | None = None,
                     path: tuple[Any, ...] = ("prices",)) -> list[EntrySpec]:
    """A list of catalog entries validated; a ConfigError names every bad field as ``prices[i].field``."""
    document = document or YamlDocument(raw, source)
    if not isinstance(raw, list):
        raise_problems([Problem(dotted(path), "must be a list of entries", document.line_of(path))], source)
    specs, problems = validate(list[EntrySpec], raw, document, path)
    if problems:
        raise_problems(problems, source)
    return list(specs)
