"""The synthetic bill generator: exact format, realistic cells, determinism and self-checking totals."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chargeback.demo import synth
from chargeback.demo.synth import Anomaly, SynthSpec, SynthTotals
from chargeback.fee_types import BILL_FREE_QUOTA, BILL_PAY_AS_YOU_GO

# The real header, verbatim from docs/bill-formats.md §2.3 (typed out here, not taken from the module).
REAL_HEADER = (
    "标识信息/账单明细ID,标识信息/订单号,身份信息/客户名称,身份信息/资源购买账号ID,身份信息/资源购买账号,"
    "身份信息/资源归属账号ID,身份信息/资源归属账号,账单信息/服务主体,账单信息/账单月份,账单信息/账单日期,"
    "账单信息/费用类型,账单信息/交易类型,账单信息/消费时间,账单信息/服务开始时间,账单信息/服务结束时间,"
    "产品信息/产品Code,产品信息/产品名称,产品信息/商品Code,产品信息/商品名称,产品信息/计费项Code,"
    "产品信息/计费项名称,产品信息/选型配置,产品信息/规格,资源信息/资源ID,资源信息/实例ID（出账粒度）,"
    "资源信息/资源名称,资源信息/地域Code,资源信息/地域,资源信息/可用区,时长信息/抵扣前时长,时长信息/抵扣时长,"
    "时长信息/时长,时长信息/时长单位,时长信息/时长详情,用量信息/抵扣前用量,用量信息/抵扣用量,用量信息/用量,"
    "用量信息/用量单位,用量信息/用量详情,定价信息/官网目录价,定价信息/价格单位,定价信息/目录价用量阶梯,"
    "定价信息/用量阶梯累计规则,定价信息/目录价转换信息,定价信息/目录价因子,定价信息/定价币种,费用信息/目录总价,"
    "费用信息/计费公式,费用信息/计费辅助信息,费用信息/计费过程,费用信息/计费规则说明,"
    "订阅抵扣信息/订阅抵扣目录总价,订阅抵扣信息/订阅抵扣后金额,订阅抵扣信息/订阅抵扣金额,"
    "订阅抵扣信息/订阅抵扣详情,优惠信息/优惠金额,优惠信息/优惠后金额,优惠信息/优惠详情,"
    "优惠券抵扣信息/优惠券抵扣金额,优惠券抵扣信息/优惠券抵扣详情,应付信息/应付金额（含税）"
)

DOC_ROWS = Path(__file__).parents[1] / "data" / "synth" / "bill_formats_3_7_rows.csv"

# Column indexes (bill-formats §2.3).
ID, DATE, FEE_TYPE, T_CONSUME, T_START, T_END = 0, 9, 10, 12, 13, 14
PRODUCT, ITEM, INSTANCE = 15, 19, 24
USAGE_BEFORE, USAGE_DEDUCTED, USAGE, USAGE_DETAIL = 34, 35, 36, 38
PRICE, FACTOR, CURRENCY, LIST_COST, PROCESS = 39, 44, 45, 46, 49
DISCOUNT, AFTER_DISCOUNT, DISCOUNT_DETAIL, PAYABLE = 55, 56, 57, 60
JSON_COLUMNS = (38, 42, 44, 49, 57)

Month = tuple[bytes, list[list[str]]]  # the file's bytes and its parsed rows, header first

SPEC = SynthSpec(month="2026-05", rows=3_000, workspaces=3, api_keys=6, seed=11, other_product_rows=9)


def csv_bytes(spec: SynthSpec) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, spec)
    return out.getvalue()


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture(scope="module")
def month() -> Month:
    data = csv_bytes(SPEC)
    return data, parse(data)


def test_same_seed_same_bytes_other_seed_other_bytes(month: Month) -> None:
    data, _ = month
    assert csv_bytes(SPEC) == data
    assert csv_bytes(replace(SPEC, seed=12)) != data


def test_file_starts_with_bom_and_the_exact_real_header_and_uses_lf(month: Month) -> None:
    data, rows = month
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\n", 1)[0].decode("utf-8") == "\ufeff" + REAL_HEADER
    assert b"\r" not in data
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    assert tuple(rows[0]) == synth.HEADER_ZH
    assert len(rows[0]) == 61


def test_every_row_has_61_fields_and_the_requested_count(month: Month) -> None:
    data, rows = month
    assert len(rows) == 1 + SPEC.rows
    assert {len(row) for row in rows} == {61}
    assert data.count(b"\n") == 1 + SPEC.rows  # no line breaks inside cells


def test_bytes_equal_what_csv_writer_writes_for_the_plain_rows(month: Month) -> None:
    """The fast writer joins pre-quoted cells; it must be byte-identical to the csv module."""
    data, _ = month
    out = io.StringIO(newline="")
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(synth.HEADER_ZH)
    for row in synth.generate_rows(SPEC):
        writer.writerow(row)
    assert out.getvalue().encode("utf-8") == data


def test_generate_rows_streams() -> None:
    rows = synth.generate_rows(SPEC)
    assert iter(rows) is rows
    first = next(rows)
    assert len(first) == 61


def test_json_cells_parse_and_nested_pack_details_are_json_strings(month: Month) -> None:
    _, rows = month
    for row in rows[1:]:
        for col in JSON_COLUMNS:
            if row[col]:
                json.loads(row[col])
        if row[USAGE_DETAIL]:
            detail = json.loads(row[USAGE_DETAIL])
            packs = json.loads(detail["资源包抵扣详情"])
            assert isinstance(detail["资源包抵扣详情"], str) and isinstance(packs, list)
            if row[FEE_TYPE] == BILL_FREE_QUOTA:
                assert packs and packs[0]["免费额度类型"] == row[INSTANCE].split(";")[2]
                assert packs[0]["免费额度抵扣用量"].split(" ")[0] == detail["抵扣用量"]
            else:
                assert packs == []
                assert detail["用量"] == row[USAGE]
                assert Decimal(detail["用量（原始单位）"]) == Decimal(row[USAGE]) * 1000
        process = json.loads(row[PROCESS])["priceExpressInfo"]
        values = process["priceExpressionFactorValueMap"]
        assert values["baseprice_factor"] == row[PRICE]
        assert values["quantity_factor"] == row[USAGE]


def _shape(value: Any) -> Any:
    """Key order and nesting of a JSON value, nested JSON strings included; leaves become type names."""
    if isinstance(value, dict):
        return tuple((key, _shape(item)) for key, item in value.items())
    if isinstance(value, list):
        return ("list", _shape(value[0]) if value else None)
    if isinstance(value, str) and value.startswith("[{"):
        return ("json", _shape(json.loads(value)))
    return type(value).__name__


def _row_shape(row: list[str]) -> tuple[Any, ...]:
    """Which cells are filled, and the JSON cells' structure: what must match a real row of the same kind."""
    return tuple(
        _shape(json.loads(cell)) if cell and col in JSON_COLUMNS else bool(cell)
        for col, cell in enumerate(row)
        if col not in (INSTANCE,)  # channel and key differ by caller, checked elsewhere
    )


def _kind(row: list[str]) -> tuple[str, str, bool]:
    return row[ITEM], row[FEE_TYPE], row[DISCOUNT] not in ("", "0")


def test_cells_have_the_shape_of_the_real_rows_of_the_same_kind(month: Month) -> None:
    """Rows (a)-(d) of bill-formats §3.7: paid tokens, free tokens, paid images, promoted video."""
    real = parse(DOC_ROWS.read_bytes())
    assert tuple(real[0]) == synth.HEADER_ZH
    generated: dict[tuple[str, str, bool], list[str]] = {}
    for row in month[1][1:]:
        generated.setdefault(_kind(row), row)
    for real_row in real[1:]:
        ours = generated[_kind(real_row)]
        assert _row_shape(ours) == _row_shape(real_row), _kind(real_row)


def test_amounts_are_exact_price_times_usage_minus_discount(month: Month) -> None:
    _, rows = month
    promoted = 0
    for row in rows[1:]:
        price, usage, cost = Decimal(row[PRICE]), Decimal(row[USAGE]), Decimal(row[LIST_COST])
        discount, after, payable = Decimal(row[DISCOUNT]), Decimal(row[AFTER_DISCOUNT]), Decimal(row[PAYABLE])
        assert cost == price * usage
        assert after == cost - discount == payable
        for col in (LIST_COST, DISCOUNT, PAYABLE):
            assert "e" not in row[col].lower()
            assert len(row[col].partition(".")[2]) <= 7
            assert not row[col].endswith("0") or "." not in row[col]  # printed without trailing zeros
        if discount:
            promoted += 1
            assert discount == cost * Decimal("0.2")
            detail = json.loads(row[DISCOUNT_DETAIL])[0]
            assert detail["优惠内容"] == "8折" and Decimal(detail["优惠金额"]) == discount
            promotion = json.loads(row[PROCESS])["promotionInfo"][0]
            assert Decimal(str(promotion["promotionAmount"])) == discount
            assert row[DATE] >= "20260511"
    assert promoted > 0


def test_free_quota_rows_look_like_the_real_ones(month: Month) -> None:
    _, rows = month
    free = [row for row in rows[1:] if row[FEE_TYPE] == BILL_FREE_QUOTA]
    paid = [row for row in rows[1:] if row[FEE_TYPE] == BILL_PAY_AS_YOU_GO]
    assert free and paid and len(free) + len(paid) == SPEC.rows
    for row in free:
        assert row[ID].startswith("202605_0g00v1_031_")
        assert row[PRICE] == row[USAGE] == row[LIST_COST] == row[PAYABLE] == "0"
        assert row[USAGE_BEFORE] == row[USAGE_DEDUCTED] != "0"
        assert row[FACTOR] == ""
    for row in paid:
        assert row[ID].startswith("202605_0700v1_019_")
        assert row[USAGE_DEDUCTED] == "0" or row[PRODUCT] != "sfm"
        assert row[USAGE_BEFORE] == row[USAGE]


def test_bill_line_ids_are_unique_and_real_shaped(month: Month) -> None:
    _, rows = month
    ids = [row[ID] for row in rows[1:]]
    assert len(set(ids)) == len(ids)
    pattern = re.compile(r"^202605_0(700v1_019|g00v1_031)_[0-9a-f]{32}_01_\d{20}$")
    assert all(pattern.match(i) for i in ids)


def test_instance_ids_callers_channels_and_usage_types(month: Month) -> None:
    _, rows = month
    sfm = [row for row in rows[1:] if row[PRODUCT] == "sfm"]
    parts = [row[INSTANCE].split(";") for row in sfm]
    assert {len(p) for p in parts} == {6}
    workspaces = {p[1] for p in parts}
    keys = {p[0] for p in parts} - {""}
    assert len(workspaces) == SPEC.workspaces
    assert all(re.fullmatch(r"llm-[a-z0-9]{16}", w) for w in workspaces)
    assert 1 <= len(keys) <= SPEC.api_keys and all(re.fullmatch(r"\d{7}", k) for k in keys)
    for p in parts:
        assert (p[0] == "" and p[4] == "bmp") or (p[0] != "" and p[4] == ""), p
        assert p[5] == "0"
    assert any(p[0] == "" for p in parts)  # console calls
    usage_types = {p[3] for p in parts}
    assert any(u.startswith("context_0-") for u in usage_types)
    items = Counter(row[ITEM] for row in sfm)
    assert set(items) == {"token_number", "image_number", "video_duration"}
    assert items["token_number"] > items["image_number"] > 0


def test_rows_are_one_minute_buckets_in_time_order(month: Month) -> None:
    _, rows = month
    previous = ""
    for row in rows[1:]:
        if row[PRODUCT] != "sfm":
            continue
        start = datetime.strptime(row[T_START], "%Y-%m-%d %H:%M:%S")
        end = datetime.strptime(row[T_END], "%Y-%m-%d %H:%M:%S")
        assert end - start == timedelta(minutes=1)
        assert row[T_CONSUME] == row[T_START] and start.second == 0
        assert row[DATE] == start.strftime("%Y%m%d") and row[8] == "202605"
        assert row[T_START] >= previous
        previous = row[T_START]


def test_other_product_rows_are_present(month: Month) -> None:
    _, rows = month
    other = [row for row in rows[1:] if row[PRODUCT] != "sfm"]
    assert len(other) == SPEC.other_product_rows
    assert {row[PRODUCT] for row in other} == {"oss"}
    assert all(Decimal(row[PAYABLE]) > 0 and ";" not in row[INSTANCE] for row in other)


def resum(rows: list[list[str]]) -> dict[str, Any]:
    """The totals recomputed from the CSV alone, with Decimal."""
    def add(table: dict[str, Decimal], key: str, value: Decimal) -> None:
        table[key] = table.get(key, Decimal(0)) + value

    out: dict[str, Any] = {
        "payable": {}, "list_cost": {}, "discount": {}, "payable_by_workspace": {}, "payable_by_api_key": {},
        "payable_by_model": {}, "payable_by_channel": {}, "payable_by_date": {}, "other_product_payable": {},
        "usage_by_unit": {},
    }
    counts: Counter[str] = Counter()
    for row in rows[1:]:
        counts["rows"] += 1
        payable = Decimal(row[PAYABLE])
        if row[PRODUCT] != "sfm":
            counts["rows_other_product"] += 1
            add(out["other_product_payable"], row[CURRENCY], payable)
            continue
        counts["rows_model_studio"] += 1
        counts["rows_free_quota"] += row[FEE_TYPE] == BILL_FREE_QUOTA
        counts["rows_discounted"] += Decimal(row[DISCOUNT]) != 0
        key, workspace, model, _, channel, _ = row[INSTANCE].split(";")
        add(out["payable"], row[CURRENCY], payable)
        add(out["list_cost"], row[CURRENCY], Decimal(row[LIST_COST]))
        add(out["discount"], row[CURRENCY], Decimal(row[DISCOUNT]))
        add(out["payable_by_workspace"], workspace, payable)
        add(out["payable_by_api_key"], key, payable)
        add(out["payable_by_model"], model, payable)
        add(out["payable_by_channel"], channel, payable)
        day = row[DATE]
        add(out["payable_by_date"], f"{day[:4]}-{day[4:6]}-{day[6:]}", payable)
        add(out["usage_by_unit"], row[37], Decimal(row[USAGE]))
    out.update(counts)
    return out


def test_expected_totals_equal_an_independent_resum_of_the_csv(month: Month) -> None:
    _, rows = month
    expected = synth.expected_totals(SPEC)
    again = resum(rows)
    for key, value in again.items():
        if isinstance(value, dict):
            got = {k: v for k, v in expected[key].items() if key != "payable_by_date" or v or k in value}
            assert got == value, key
        else:
            assert expected[key] == value, key
    assert set(expected["payable_by_date"]) == {f"2026-05-{d:02d}" for d in range(1, 32)}
    assert expected["payable"]["CNY"] > 0 and expected["discount"]["CNY"] > 0
    assert expected["rows"] == SPEC.rows and expected["rows_other_product"] == SPEC.other_product_rows


def test_totals_filled_while_streaming_equal_expected_totals() -> None:
    totals = SynthTotals(SPEC)
    for _ in synth.generate_rows(SPEC, totals):
        pass
    assert totals.as_dict() == synth.expected_totals(SPEC)
    assert synth.write_csv(io.StringIO(), SPEC) == synth.expected_totals(SPEC)


def test_totals_serialize_as_exact_strings() -> None:
    text = synth.totals_to_json(synth.expected_totals(SPEC))
    data = json.loads(text)
    assert Decimal(data["payable"]["CNY"]) == synth.expected_totals(SPEC)["payable"]["CNY"]


def test_v2_push_layout_and_member_split(tmp_path: Path) -> None:
    push = synth.write_v2_push(tmp_path, SPEC, uid="1234567890123456", site_id="2684201000001",
                               snapshot="20260603150000", files=3)
    stem = "1234567890123456_2684201000001_consumeDetailBillV2_202605"
    assert push.zip_path == tmp_path / "202605" / "20260603150000" / f"{stem}.zip"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{stem}.zip"]
    with zipfile.ZipFile(push.zip_path) as archive:
        names = archive.namelist()
        members = [archive.read(name) for name in names]
    assert names == [f"{stem}_{i}.csv" for i in (1, 2, 3)] == list(push.members)
    data_lines: list[bytes] = []
    for member, count in zip(members, push.member_rows, strict=True):
        head, _, body = member.partition(b"\n")
        assert head == ("\ufeff" + REAL_HEADER).encode("utf-8")
        lines = body.split(b"\n")
        assert lines[-1] == b"" and len(lines) - 1 == count > 0
        data_lines.extend(lines[:-1])
    assert sum(push.member_rows) == SPEC.rows and max(push.member_rows) - min(push.member_rows) <= 1
    assert push.csv_bytes == sum(len(m) for m in members)
    # the members together are the month: the same rows, in order, as the single file for that account
    single = csv_bytes(replace(SPEC, uid="1234567890123456")).split(b"\n")[1:-1]
    assert data_lines == single
    assert all(b",1234567890123456," in line for line in data_lines)
    assert push.totals == synth.expected_totals(SPEC)


def test_v2_push_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    one = synth.write_v2_push(tmp_path / "a", SPEC, uid="1", files=2)
    two = synth.write_v2_push(tmp_path / "b", SPEC, uid="1", files=2)
    assert one.zip_path.read_bytes() == two.zip_path.read_bytes()


def test_english_header_variant_changes_only_the_header() -> None:
    english = csv_bytes(replace(SPEC, header="en"))
    chinese = csv_bytes(SPEC)
    head, _, body = english.partition(b"\n")
    assert head.decode("utf-8-sig").split(",") == list(synth.HEADER_EN)
    assert len(synth.HEADER_EN) == len(set(synth.HEADER_EN)) == 61
    assert all(re.fullmatch(r"[A-Za-z]+/[A-Za-z]+", name) for name in synth.HEADER_EN)
    assert synth.HEADER_EN[24] == "ResourceDetails/InstanceId"
    assert synth.HEADER_EN[46] == "FeeDetails/GrossAmount"
    assert body == chinese.partition(b"\n")[2]


def test_days_limits_the_month_to_date() -> None:
    spec = replace(SPEC, days=10, rows=1_000)
    rows = parse(csv_bytes(spec))
    assert {row[DATE] for row in rows[1:]} <= {f"202605{d:02d}" for d in range(1, 11)}
    assert len(rows) == 1 + 1_000


def test_anomaly_multiplies_one_keys_usage_on_one_day() -> None:
    spec = replace(SPEC, anomaly=Anomaly(day=14, api_key_index=0, factor=25))
    normal, spiky = parse(csv_bytes(SPEC)), parse(csv_bytes(spec))
    key = synth.expected_totals(spec)["anomaly"]["api_key_id"]
    changed = 0
    for before, after in zip(normal[1:], spiky[1:], strict=True):
        assert before[INSTANCE] == after[INSTANCE] and before[T_START] == after[T_START]
        if after[DATE] == "20260514" and after[INSTANCE].startswith(key + ";"):
            assert Decimal(after[USAGE_BEFORE]) == 25 * Decimal(before[USAGE_BEFORE])
            changed += 1
        elif after[DATE] < "20260514":
            assert before == after
    assert changed > 0
    assert synth.expected_totals(spec)["anomaly"] == {"date": "2026-05-14", "api_key_id": key, "factor": "25"}


@pytest.mark.parametrize(
    "changes",
    [
        {"month": "2026-13"},
        {"month": "202605"},
        {"rows": 5, "other_product_rows": 6},
        {"workspaces": 0},
        {"days": 32},
        {"anomaly": Anomaly(day=3, api_key_index=99)},
    ],
)
def test_bad_specs_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        replace(SPEC, **changes)


def test_too_many_rows_for_the_callers_is_refused() -> None:
    spec = SynthSpec(rows=2_000_000, workspaces=1, api_keys=0, days=1)
    with pytest.raises(ValueError, match="distinct instances"):
        next(synth.generate_rows(spec))
