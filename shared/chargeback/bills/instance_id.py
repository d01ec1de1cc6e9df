"""Model Studio instance IDs: ``ApiKeyID;WorkspaceID;Model;UsageType;Channel[;Flag]`` (bill-formats.md 3.1).

An empty key means a console call. The channel is ``bmp`` for the console, ``app`` or empty (with a key) for
API calls, ``assistant-api`` for the Assistant API; unknown values are kept raw. The usage type carries the
token direction and an optional context tier (``context_0-256k_input_token``), and marks cache, batch and
thinking usage (:func:`classify_usage_type`, the one place usage types are read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TIER = re.compile(r"^context_(?P<tier>\d+[kKmM]?-\d+[kKmM]?)_(?P<rest>.+)$")
# The token usage types Model Studio bills (bill-formats.md 3.1, 3.6; issue 16): an optional thinking mark, an
# optional modality, the direction, and an optional cache or batch suffix. Anything else is not guessed at.
_TOKEN = re.compile(
    r"^(?P<thinking>thinking_)?"
    r"(?:(?P<modality>(?:purein_|multiin_)?(?:text|audio|image|video|vision))_)?"
    r"(?P<direction>input|output)_tokens?"
    r"(?:_(?P<suffix>cache|cache_read|cache_creation(?:_\d+[mh])?|batch))?$")
_RESOLUTION = re.compile(r"^\d{3,4}[pP]$")
_UNIT_TYPES = frozenset({"images", "image", "times", "seconds", "second", "characters", "pages", "audio_seconds"})

IO_TYPES: tuple[str, ...] = ("input", "output", "cached_input", "cache_write", "unit", "other")
"""The values of ``io_type``, in the order tables show them."""


@dataclass(frozen=True)
class UsageKind:
    """What a bill usage type (the instance ID's 4th segment) says about the usage it bills.

    ``io_type``: ``input``, ``output``, ``cached_input`` (cache reads and hits, explicit or implicit),
    ``cache_write`` (explicit cache creation), ``unit`` (images, seconds, ...) or ``other`` (a usage type this
    table does not know: kept raw, reported, never guessed). ``cache`` is ``implicit`` or ``explicit`` on
    cache lines, ``modality`` the named input or output kind (``text``, ``audio``, ``purein_text``, ...),
    ``name`` the usage type without its context-tier prefix.
    """

    io_type: str
    context_tier: str = ""
    batch: bool = False
    thinking: bool = False
    cache: str = ""
    modality: str = ""
    name: str = ""

    @property
    def known(self) -> bool:
        return self.io_type != "other"


@dataclass(frozen=True)
class InstanceId:
    """The parts of a Model Studio instance ID; ``valid`` is False when it does not have 5 or 6 parts."""

    api_key_id: str
    workspace_id: str
    model: str
    usage_type: str
    channel: str
    free_quota_stop: str
    kind: UsageKind
    call_source: str
    valid: bool

    @property
    def io_type(self) -> str:
        return self.kind.io_type

    @property
    def context_tier(self) -> str:
        return self.kind.context_tier


@lru_cache(maxsize=4096)
def classify_usage_type(usage_type: str) -> UsageKind:
    """The kind of usage a bill usage type names; ``io_type`` 'other' for one this table does not know.

    'context_0-256k_input_token' -> input, tier 0-256k; 'text_input_token_cache' -> cached_input (implicit);
    'input_token_cache_read' -> cached_input (explicit); 'input_token_cache_creation_5m' -> cache_write;
    'output_token_batch' -> output, batch; 'thinking_output_token' -> output, thinking; '1080P' -> unit.
    """
    tier, rest = "", usage_type.strip()
    match = _TIER.match(rest)
    if match:
        tier, rest = match.group("tier").lower(), match.group("rest")
    token = _TOKEN.match(rest.lower())
    if token:
        return _token_kind(token, tier, rest)
    if rest.lower() in _UNIT_TYPES or _RESOLUTION.match(rest):
        return UsageKind("unit", tier, name=rest)
    return UsageKind("other", tier, name=rest)


def _token_kind(token: re.Match[str], tier: str, name: str) -> UsageKind:
    direction, suffix = token.group("direction"), token.group("suffix") or ""
    thinking = bool(token.group("thinking"))
    modality = token.group("modality") or ""
    if (thinking and direction != "output") or (suffix.startswith("cache") and direction != "input"):
        return UsageKind("other", tier, name=name)
    if suffix.startswith("cache_creation"):
        return UsageKind("cache_write", tier, cache="explicit", modality=modality, name=name)
    if suffix == "cache_read":
        return UsageKind("cached_input", tier, cache="explicit", modality=modality, name=name)
    if suffix == "cache":
        return UsageKind("cached_input", tier, cache="implicit", modality=modality, name=name)
    return UsageKind(direction, tier, batch=suffix == "batch", thinking=thinking, modality=modality, name=name)


def classify_channel(channel: str, api_key_id: str) -> str:
    """console, api, assistant_api, or the raw channel when it is unknown."""
    if channel == "bmp":
        return "console"
    if channel == "app" or (channel == "" and api_key_id):
        return "api"
    if channel == "assistant-api":
        return "assistant_api"
    if channel == "" and not api_key_id:
        return "console"
    return channel


@lru_cache(maxsize=65536)
def parse_instance_id(raw: str) -> InstanceId:
    """Split an instance ID; anything but 5 or 6 ';'-separated parts gives ``valid=False``."""
    parts = raw.split(";")
    if len(parts) not in (5, 6) or not parts[1]:
        return InstanceId("", "", "", "", "", "", UsageKind("other"), "", valid=False)
    api_key_id, workspace_id, model, usage_type, channel = (p.strip() for p in parts[:5])
    flag = parts[5].strip() if len(parts) == 6 else ""
    return InstanceId(
        api_key_id=api_key_id,
        workspace_id=workspace_id,
        model=model,
        usage_type=usage_type,
        channel=channel,
        free_quota_stop=flag,
        kind=classify_usage_type(usage_type),
        call_source=classify_channel(channel, api_key_id),
        valid=True,
    )
