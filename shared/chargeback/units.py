"""Usage units: what the bill's 用量单位 (and the free-quota JSON's quantities) count, and how to show them.

The one table of unit spellings. A unit is a quantity of tokens, images, seconds or characters: ``千tokens`` is
1,000 tokens, ``张`` one image, ``秒`` one second (bill-formats.md 3.2), ``万字符`` 10,000 characters (speech
synthesis; no bill of the corpus shows a character unit yet). Spellings are matched without case or
spaces, so ``1K tokens``, ``1ktokens`` and ``千tokens`` are the same unit. A unit this table does not know is
never guessed: the functions return None and the callers keep the bill's own word.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Quantity = Literal["token", "image", "second", "character"]


@dataclass(frozen=True)
class UsageUnit:
    """One usage unit: ``size`` of a ``quantity`` (千tokens = 1,000 tokens)."""

    quantity: Quantity
    size: Decimal

    @property
    def focus_name(self) -> str:
        """The FOCUS unit name: '1000 Tokens', 'Tokens', 'Images', 'Seconds'."""
        plural = {"token": "Tokens", "image": "Images", "second": "Seconds",
                  "character": "Characters"}[self.quantity]
        return plural if self.size == 1 else f"{self.size} {plural}"

    @property
    def catalog_name(self) -> str | None:
        """The price catalog's unit ('1K tokens', 'image', 'second'), None when the catalog prices none like it."""
        if self.quantity == "token":
            return "1K tokens" if self.size == THOUSAND else None
        return self.quantity if self.size == 1 else None


THOUSAND = Decimal(1000)
MILLION = Decimal(1_000_000)
_TOKENS = {"tokens": Decimal(1), "token": Decimal(1),
           "千tokens": THOUSAND, "千token": THOUSAND, "1ktokens": THOUSAND, "1ktoken": THOUSAND,
           "ktokens": THOUSAND, "1000tokens": THOUSAND, "thousandtokens": THOUSAND,
           "百万tokens": MILLION, "1mtokens": MILLION, "mtokens": MILLION, "milliontokens": MILLION}
UNITS: dict[str, UsageUnit] = {
    **{spelling: UsageUnit("token", size) for spelling, size in _TOKENS.items()},
    **dict.fromkeys(("张", "image", "images"), UsageUnit("image", Decimal(1))),
    **dict.fromkeys(("秒", "second", "seconds", "s"), UsageUnit("second", Decimal(1))),
    **dict.fromkeys(("字符", "个字符", "character", "characters"), UsageUnit("character", Decimal(1))),
    **dict.fromkeys(("千字符", "1kcharacters", "kcharacters"), UsageUnit("character", THOUSAND)),
    **dict.fromkeys(("万字符", "10kcharacters"), UsageUnit("character", Decimal(10_000))),
}


def usage_unit(text: str) -> UsageUnit | None:
    """The unit a bill's unit text names, or None when it is empty or unknown."""
    return UNITS.get("".join(str(text).lower().split()))


def tokens_per_unit(text: str) -> Decimal | None:
    """How many tokens one ``text`` is ('千tokens' -> 1000), or None when the unit does not count tokens."""
    unit = usage_unit(text)
    return unit.size if unit is not None and unit.quantity == "token" else None


def convert(amount: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    """``amount`` of ``from_unit`` in ``to_unit`` (千tokens -> tokens x 1000); None when they do not convert."""
    if from_unit.strip() == to_unit.strip():
        return amount
    source, target = usage_unit(from_unit), usage_unit(to_unit)
    if source is None or target is None or source.quantity != target.quantity:
        return None
    return amount * source.size / target.size


def focus_unit(text: str) -> str | None:
    """The FOCUS name of a bill unit ('千tokens' -> '1000 Tokens'); the bill's own text when unknown, None if empty."""
    stripped = str(text).strip()
    if not stripped:
        return None
    unit = usage_unit(stripped)
    return unit.focus_name if unit is not None else stripped


def catalog_unit(text: str) -> str | None:
    """The catalog unit a bill unit is priced in ('千tokens' -> '1K tokens'), or None when there is none."""
    unit = usage_unit(text)
    return unit.catalog_name if unit is not None else None


__all__ = ["UNITS", "UsageUnit", "catalog_unit", "convert", "focus_unit", "tokens_per_unit", "usage_unit"]
