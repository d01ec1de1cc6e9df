"""Model Studio instance IDs: ``ApiKeyID;WorkspaceID;Model;UsageType;Channel[;Flag]`` (bill-formats.md 3.1).

An empty key means a console call. The channel is ``bmp`` for the console, ``app`` or empty (with a key) for
API calls, ``assistant-api`` for the Assistant API; unknown values are kept raw. The usage type carries the
token direction and an optional context tier: ``context_0-256k_input_token``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TIER = re.compile(r"^context_(?P<tier>\d+[kKmM]?-\d+[kKmM]?)_(?P<rest>.+)$")
_RESOLUTION = re.compile(r"^\d{3,4}[pP]$")
_UNIT_TYPES = frozenset({"images", "image", "times", "seconds", "second", "characters", "pages", "audio_seconds"})


@dataclass(frozen=True)
class InstanceId:
    """The parts of a Model Studio instance ID; ``valid`` is False when it does not have 5 or 6 parts."""

    api_key_id: str
    workspace_id: str
    model: str
    usage_type: str
    channel: str
    free_quota_stop: str
    io_type: str
    context_tier: str
    call_source: str
    valid: bool


def classify_usage_type(usage_type: str) -> tuple[str, str]:
    """(io_type, context_tier) of a usage type: input, output, cached_input, unit or other."""
    tier = ""
    rest = usage_type
    match = _TIER.match(usage_type)
    if match:
        tier, rest = match.group("tier").lower(), match.group("rest")
    lowered = rest.lower()
    if "cache" in lowered:
        return "cached_input", tier
    if "output" in lowered:
        return "output", tier
    if "input" in lowered:
        return "input", tier
    if lowered in _UNIT_TYPES or _RESOLUTION.match(rest):
        return "unit", tier
    return "other", tier


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
        return InstanceId("", "", "", "", "", "", "other", "", "", valid=False)
    api_key_id, workspace_id, model, usage_type, channel = (p.strip() for p in parts[:5])
    flag = parts[5].strip() if len(parts) == 6 else ""
    io_type, tier = classify_usage_type(usage_type)
    return InstanceId(
        api_key_id=api_key_id,
        workspace_id=workspace_id,
        model=model,
        usage_type=usage_type,
        channel=channel,
        free_quota_stop=flag,
        io_type=io_type,
        context_tier=tier,
        call_source=classify_channel(channel, api_key_id),
        valid=True,
    )
