"""Human labels for what the bill counts, in English and Chinese: the one label table of every human output.

Usage types (the 4th segment of an instance ID), usage units (the bill's 用量单位), token directions and call
sources. A usage type is labelled from its parts: the optional context tier (``context_0-256k_``), the term
(``input_token``, ``multiin_text_output_token``, ``images``) and, for video, the resolution it names
(``1080P``) under the billing item ``video_duration``:

    context_0-256k_input_token   Input tokens, 0–256K context     输入 Token（0–256K 上下文）
    images                       Images                           图片
    1080P (video_duration)       Video seconds, 1080P             视频秒数（1080P）

A term this table does not know is never hidden: it is labelled by its token direction, with the bill's
words after it ("Output tokens (thinking output token)"). Units are matched through ``chargeback.units``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from chargeback.bills.instance_id import classify_usage_type
from chargeback.display import format_quantity
from chargeback.units import usage_unit

_TERMS: dict[str, tuple[str, str]] = {
    "input_token": ("Input tokens", "输入 Token"),
    "output_token": ("Output tokens", "输出 Token"),
    "input_token_cache": ("Cached input tokens", "缓存命中输入 Token"),
    "cache_input_token": ("Cached input tokens", "缓存命中输入 Token"),
    "text_input_token": ("Text input tokens", "文本输入 Token"),
    "audio_input_token": ("Audio input tokens", "音频输入 Token"),
    "image_input_token": ("Image input tokens", "图片输入 Token"),
    "video_input_token": ("Video input tokens", "视频输入 Token"),
    "text_output_token": ("Text output tokens", "文本输出 Token"),
    "audio_output_token": ("Audio output tokens", "音频输出 Token"),
    "purein_text_output_token": ("Text output tokens, text-only input", "文本输出 Token（纯文本输入）"),
    "multiin_text_output_token": ("Text output tokens, multimodal input", "文本输出 Token（多模态输入）"),
    "thinking_output_token": ("Thinking output tokens", "思考模式输出 Token"),
    "input_token_batch": ("Input tokens, batch", "输入 Token（批量调用）"),
    "output_token_batch": ("Output tokens, batch", "输出 Token（批量调用）"),
    "input_token_cache_read": ("Cached input tokens, explicit cache", "缓存命中输入 Token（显式缓存）"),
    "input_token_cache_creation_5m": ("Cache write tokens, 5 minutes", "缓存写入 Token（5 分钟）"),
    "images": ("Images", "图片"),
    "image": ("Images", "图片"),
    "times": ("Calls", "调用次数"),
}
_VIDEO = ("Video seconds", "视频秒数")
_RESOLUTION = re.compile(r"^\d{3,4}[pP]$")
_TIER = re.compile(r"^context_(\d+[kKmM]?)-(\d+[kKmM]?)_(.+)$")

_IO_TYPES: dict[str, tuple[str, str]] = {
    "input": ("Input tokens", "输入 Token"),
    "output": ("Output tokens", "输出 Token"),
    "cached_input": ("Cached input tokens", "缓存命中输入 Token"),
    "cache_write": ("Cache write tokens", "缓存写入 Token"),
    "unit": ("Images, calls and seconds", "图片、次数与秒数"),
    "other": ("Other usage", "其他用量"),
}

_CALL_SOURCES: dict[str, tuple[str, str]] = {
    "api": ("API", "API"),
    "console": ("Console", "控制台"),
    "assistant_api": ("Assistant API", "Assistant API"),
}

# quantity -> (English singular, English plural, Chinese)
_QUANTITIES: dict[str, tuple[str, str, str]] = {
    "token": ("token", "tokens", "Token"),
    "image": ("image", "images", "张"),
    "second": ("second", "seconds", "秒"),
}
_NONE = ("(none)", "（无）")


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if locale == "zh" else pair[0]


def _tier_text(low: str, high: str) -> str:
    def bound(text: str) -> str:
        return "0" if text == "0" else text.upper() if text[-1].isalpha() else text + "K"

    return f"{bound(low)}–{bound(high)}"


def usage_type_label(usage_type: str, locale: str = "en", *, billing_item: str = "") -> str:
    """'context_0-256k_input_token' -> 'Input tokens, 0–256K context' / '输入 Token（0–256K 上下文）'."""
    raw = usage_type.strip()
    if not raw:
        return _pick(_NONE, locale)
    term, tier = raw, ""
    found = _TIER.match(raw)
    if found:
        tier, term = _tier_text(found.group(1), found.group(2)), found.group(3)
    unknown = False
    if _RESOLUTION.match(term) or billing_item == "video_duration":
        base = _pick(_VIDEO, locale)
        detail = term.upper() if _RESOLUTION.match(term) else ""
    elif term.lower() in _TERMS:
        base, detail = _pick(_TERMS[term.lower()], locale), ""
    else:
        base = _pick(_IO_TYPES.get(classify_usage_type(raw).io_type, _IO_TYPES["other"]), locale)
        detail, unknown = term.replace("_", " "), True
    if locale == "zh":
        notes = [n for n in (detail, f"{tier} 上下文" if tier else "") if n]
        return f"{base}（{'，'.join(notes)}）" if notes else base
    text = f"{base} ({detail})" if unknown else ", ".join(p for p in (base, detail) if p)
    return f"{text}, {tier} context" if tier else text


def io_type_label(io_type: str, locale: str = "en") -> str:
    """input -> 'Input tokens' / '输入 Token'; an unknown direction as the bill writes it."""
    if io_type in _IO_TYPES:
        return _pick(_IO_TYPES[io_type], locale)
    return io_type or _pick(_NONE, locale)


def call_source_label(call_source: str, locale: str = "en") -> str:
    """api -> 'API'; console -> 'Console' / '控制台'; an unknown source as the bill writes it."""
    if call_source in _CALL_SOURCES:
        return _pick(_CALL_SOURCES[call_source], locale)
    return call_source or _pick(_NONE, locale)


def unit_label(unit: str, locale: str = "en") -> str:
    """The bill's unit in words: '千tokens' -> '1K tokens' / '千 Token', '张' -> 'images' / '张'."""
    found = usage_unit(unit)
    if found is None:
        return unit.strip()
    _, plural, chinese = _QUANTITIES[found.quantity]
    if locale == "zh":
        size = {Decimal(1): "", Decimal(1000): "千 ", Decimal(1_000_000): "百万 "}.get(found.size)
        return f"{size}{chinese}" if size is not None else f"{found.size} {chinese}"
    if found.size == 1:
        return plural
    size_text = {Decimal(1000): "1K", Decimal(1_000_000): "1M"}.get(found.size, format_quantity(found.size))
    return f"{size_text} {plural}"


def usage_text(amount: Decimal, unit: str, locale: str = "en") -> str:
    """A usage amount in the units people count: 467.5016 千tokens -> '467,502 tokens' / '467,502 Token'."""
    found = usage_unit(unit)
    if found is None:
        return f"{format_quantity(amount)} {unit.strip()}".strip()
    singular, plural, chinese = _QUANTITIES[found.quantity]
    count = amount * found.size
    word = chinese if locale == "zh" else (singular if count == 1 else plural)
    return f"{format_quantity(count)} {word}"


__all__ = ["call_source_label", "io_type_label", "unit_label", "usage_text", "usage_type_label"]
