"""Free-quota grants read from the ``用量详情`` (usage detail) JSON of free-quota bill rows.

See bill-formats.md 3.5. The cell is a JSON object whose ``资源包抵扣详情`` value is itself a JSON list
serialised as a string. Each item names the model (``免费额度类型``), the quota (``免费额度总量``), what
this row used (``免费额度抵扣用量``) and the validity window. Quantities carry their unit after a space
(``"5 second"``) or nothing but a trailing space (``"969 "``, raw tokens for text models).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chargeback.billtime import in_bill_time
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.units import convert, tokens_per_unit
from chargeback.warehouse.manifest import FreeQuotaUse

FIELD = "用量详情"
DETAIL_KEY = "资源包抵扣详情"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class FreeQuotaGrant:
    """One free-quota grant as one bill row reports it: how much this row used of the grant's total."""

    product: str  # 免费额度商品名称, e.g. 百炼大模型推理
    model: str  # 免费额度类型
    total: Decimal  # 免费额度总量
    used: Decimal  # 免费额度抵扣用量: what this row used
    unit: str  # 'tokens', 'second', ... ('' when the cell names none and the row gives no hint)
    valid_from: datetime | None  # 免费额度生效时间 (bill time, UTC+8)
    valid_until: datetime | None  # 免费额度失效时间
    period: str = ""  # 免费额度承诺周期, e.g. 无周期


@dataclass(frozen=True)
class FreeQuotaStatus:
    """A grant summed over rows: used so far in those rows, what remains, when it expires."""

    model: str
    unit: str
    total: Decimal
    used: Decimal
    remaining: Decimal
    valid_from: datetime | None
    valid_until: datetime | None


def _quantity(text: Any, field: str, source: str) -> tuple[Decimal, str]:
    """('969 ' -> (969, '')), ('5 second' -> (5, 'second'))."""
    parts = str(text).strip().split(None, 1)
    if not parts:
        raise InputError(f"{field} is empty", source=source, field=FIELD)
    try:
        value = Decimal(parts[0])
    except InvalidOperation:
        raise InputError(f"{field} {text!r} is not a quantity", source=source, field=FIELD) from None
    return value, parts[1].strip() if len(parts) > 1 else ""


def _time(text: Any, field: str, source: str) -> datetime | None:
    if text in (None, ""):
        return None
    try:
        return datetime.strptime(str(text).strip(), TIME_FORMAT)
    except ValueError:
        raise InputError(f"{field} {text!r} is not 'YYYY-MM-DD HH:MM:SS'", source=source,
                         field=FIELD) from None


def parse_free_quota_detail(usage_detail_json: str, *, source: str = "") -> list[FreeQuotaGrant]:
    """The grants in one row's ``用量详情`` cell; [] when it lists none. InputError for a malformed cell.

    A quantity without a unit is in the row's raw unit: tokens when the row's converted unit is 千tokens,
    else the converted unit itself (张 for images).
    """
    if not usage_detail_json or not usage_detail_json.strip():
        return []
    try:
        outer = json.loads(usage_detail_json)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source, field=FIELD) from None
    if not isinstance(outer, dict):
        raise InputError("expected a JSON object", source=source, field=FIELD)
    inner: Any = outer.get(DETAIL_KEY, "[]")
    if isinstance(inner, str):
        try:
            inner = json.loads(inner or "[]")
        except json.JSONDecodeError as exc:
            raise InputError(f"{DETAIL_KEY} is not valid JSON: {exc.msg}", source=source,
                             field=FIELD) from None
    if not isinstance(inner, list):
        raise InputError(f"{DETAIL_KEY} is not a list", source=source, field=FIELD)
    raw_unit = str(outer.get("用量原始单位", "")).strip()
    converted = str(outer.get("用量单位（转换后）", "")).strip()
    if not raw_unit:
        raw_unit = "tokens" if converted.lower().endswith("tokens") else converted
    grants = []
    for item in inner:
        if not isinstance(item, dict):
            raise InputError(f"{DETAIL_KEY} holds a non-object item", source=source, field=FIELD)
        total, total_unit = _quantity(item.get("免费额度总量", ""), "免费额度总量", source)
        used, used_unit = _quantity(item.get("免费额度抵扣用量", "0"), "免费额度抵扣用量", source)
        grants.append(FreeQuotaGrant(
            product=str(item.get("免费额度商品名称", "")),
            model=str(item.get("免费额度类型", "")),
            total=total,
            used=used,
            unit=total_unit or used_unit or raw_unit,
            valid_from=_time(item.get("免费额度生效时间"), "免费额度生效时间", source),
            valid_until=_time(item.get("免费额度失效时间"), "免费额度失效时间", source),
            period=str(item.get("免费额度承诺周期", "")),
        ))
    return grants


def free_quota_status(grants: Iterable[FreeQuotaGrant]) -> list[FreeQuotaStatus]:
    """Per grant (model, unit, total, validity window): used summed over the rows given, and what remains."""
    summed: dict[tuple[str, str, Decimal, datetime | None, datetime | None], Decimal] = {}
    for grant in grants:
        key = (grant.model, grant.unit, grant.total, grant.valid_from, grant.valid_until)
        summed[key] = summed.get(key, Decimal(0)) + grant.used
    return [
        FreeQuotaStatus(model=model, unit=unit, total=total, used=used,
                        remaining=max(total - used, Decimal(0)), valid_from=start, valid_until=end)
        for (model, unit, total, start, end), used in sorted(
            summed.items(), key=lambda kv: (kv[0][0], kv[0][4] or datetime.max))
    ]


__all__ = ["GRANT_FIELDS", "FreeQuotaGrant", "FreeQuotaStatus", "free_quota_status", "month_grants",
           "parse_free_quota_detail"]


GRANT_FIELDS = ("fee_type", "instance_id", "deducted_usage", "usage_unit")
"""The fields of a line :func:`month_grants` reads."""


def month_grants(lines: Iterable[Mapping[str, Any]], samples: Mapping[str, str]) -> tuple[FreeQuotaUse, ...]:
    """Per free-quota grant: what this month's free-quota lines used of it, for the manifest.

    ``lines`` are normalized lines; ``samples`` maps an instance ID to one usage-detail JSON of its free-quota
    rows, which names the grant (model, total, unit, validity). What a line used is its deducted usage in the
    grant's raw unit (千tokens x 1,000 = tokens), the same figure the rows' JSON carries one row at a time.
    """
    used: dict[tuple[str, str, Decimal, datetime | None, datetime | None], Decimal] = {}
    parsed: dict[str, list[FreeQuotaGrant]] = {}  # an instance's sample, parsed once for all its lines
    for line in lines:
        if line["fee_type"] != FREE_QUOTA or line["instance_id"] not in samples:
            continue
        instance_id = str(line["instance_id"])
        if instance_id not in parsed:
            parsed[instance_id] = parse_free_quota_detail(samples[instance_id], source=instance_id)
        grants = parsed[instance_id]
        if not grants:
            continue
        grant = grants[0]
        deducted, line_unit = Decimal(line["deducted_usage"]), str(line["usage_unit"])
        in_grant_unit = convert(deducted, line_unit, grant.unit)
        if in_grant_unit is None:  # a grant unit the unit table does not know: count tokens as tokens
            in_grant_unit = deducted * (tokens_per_unit(line_unit) or 1)
        key = (grant.model, grant.unit, grant.total, grant.valid_from, grant.valid_until)
        used[key] = used.get(key, Decimal(0)) + in_grant_unit
    return tuple(
        FreeQuotaUse(model=model, unit=unit, total=total, used=amount,
                     valid_from=in_bill_time(start) if start else None,
                     valid_until=in_bill_time(end) if end else None)
        for (model, unit, total, start, end), amount in sorted(used.items(), key=lambda item: (
            item[0][:3], item[0][3] or datetime.min, item[0][4] or datetime.min))
    )
