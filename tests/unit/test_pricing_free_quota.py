"""Free-quota grants parsed from the 用量详情 cell of free-quota bill rows."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.errors import InputError
from chargeback.pricing.free_quota import FreeQuotaGrant, free_quota_status, parse_free_quota_detail

ROW_B = Path(__file__).parents[1] / "data" / "bill_rows" / "free_quota_row_b.csv"
USAGE_DETAIL_COLUMN = 38  # 用量信息/用量详情 in the 61-column v2 header


def _cell(grants: list[dict[str, str]], converted_unit: str) -> str:
    """A 用量详情 cell built the way the bill builds it: the grant list is a JSON string inside the JSON."""
    outer = {"用量": "0", "用量单位（转换后）": converted_unit,
             "资源包抵扣详情": json.dumps(grants, ensure_ascii=False, separators=(",", ":"))}
    return json.dumps(outer, ensure_ascii=False, separators=(",", ":"))


def test_row_b_of_the_bill_formats_doc():
    with ROW_B.open(encoding="utf-8", newline="") as stream:
        row = next(csv.reader(stream))
    assert len(row) == 61 and row[10] == "免费额度"
    grants = parse_free_quota_detail(row[USAGE_DETAIL_COLUMN])
    assert grants == [FreeQuotaGrant(
        product="百炼大模型推理",
        model="qwen3.6-plus",
        total=Decimal(1000000),
        used=Decimal(969),
        unit="tokens",
        valid_from=datetime(2026, 4, 2),
        valid_until=datetime(2026, 7, 2),
        period="无周期",
    )]
    # the row's own columns agree: 抵扣前用量 0.969 千tokens = 969 tokens used of the grant
    assert Decimal(row[34]) * 1000 == grants[0].used


def test_video_quantities_carry_their_unit():
    cell = _cell([{"免费额度商品名称": "百炼大模型Happy系列", "免费额度类型": "happyhorse-1.0-i2v",
                   "免费额度抵扣用量": "5 second", "免费额度总量": "10 second",
                   "免费额度承诺周期": "无周期", "免费额度生效时间": "2026-04-22 00:00:00",
                   "免费额度失效时间": "2026-07-22 00:00:00"}], "秒")
    [grant] = parse_free_quota_detail(cell)
    assert (grant.model, grant.used, grant.total, grant.unit) == ("happyhorse-1.0-i2v", 5, 10, "second")
    assert grant.valid_until == datetime(2026, 7, 22)


def test_image_quantities_without_unit_take_the_rows_unit():
    cell = _cell([{"免费额度类型": "qwen-image-2.0", "免费额度抵扣用量": "1 ", "免费额度总量": "100 "}], "张")
    [grant] = parse_free_quota_detail(cell)
    assert (grant.used, grant.total, grant.unit) == (Decimal(1), Decimal(100), "张")
    assert grant.valid_from is None and grant.valid_until is None


@pytest.mark.parametrize("cell", ["", "  ", _cell([], "千tokens"), '{"用量":"0.116","资源包抵扣详情":"[]"}',
                                  '{"用量":"1"}'])
def test_rows_without_grants(cell):
    assert parse_free_quota_detail(cell) == []


@pytest.mark.parametrize(("cell", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"资源包抵扣详情":"[{oops"}', "资源包抵扣详情 is not valid JSON"),
    ('{"资源包抵扣详情":"{}"}', "is not a list"),
    (_cell([{"免费额度总量": "lots", "免费额度抵扣用量": "1"}], "张"),
     "免费额度总量 'lots' is not a quantity"),
    (_cell([{"免费额度总量": "1", "免费额度生效时间": "2026/04/02"}], "张"), "免费额度生效时间"),
])
def test_malformed_cells_raise_input_error_naming_the_field(cell, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_free_quota_detail(cell, source="bill.csv")
    assert caught.value.field == "用量详情"
    assert str(caught.value).startswith("bill.csv")


def test_status_sums_rows_per_grant():
    def grant(model: str, used: str, total: str = "1000000") -> FreeQuotaGrant:
        return FreeQuotaGrant("百炼大模型推理", model, Decimal(total), Decimal(used), "tokens",
                              datetime(2026, 4, 2), datetime(2026, 7, 2))

    status = free_quota_status([grant("qwen3.6-plus", "969"), grant("qwen3.6-plus", "4131"),
                                grant("qwen-image-2.0", "1", "100")])
    assert [(s.model, s.used, s.remaining) for s in status] == [
        ("qwen-image-2.0", Decimal(1), Decimal(99)),
        ("qwen3.6-plus", Decimal(5100), Decimal(994900)),
    ]
    assert status[1].valid_until == datetime(2026, 7, 2)
    over = free_quota_status([grant("m", "7", "5")])
    assert over[0].remaining == 0
