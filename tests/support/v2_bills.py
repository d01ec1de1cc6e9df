"""Small v2 (consumeDetailBillV2) bills for the end-to-end function tests: the real 61-column Chinese header,
only the fields the pipeline reads filled in, zipped and placed where a subscription push puts them."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable

V2_HEADER: tuple[str, ...] = (
    "标识信息/账单明细ID", "标识信息/订单号", "身份信息/客户名称",
    "身份信息/资源购买账号ID", "身份信息/资源购买账号", "身份信息/资源归属账号ID",
    "身份信息/资源归属账号", "账单信息/服务主体", "账单信息/账单月份",
    "账单信息/账单日期", "账单信息/费用类型", "账单信息/交易类型",
    "账单信息/消费时间", "账单信息/服务开始时间", "账单信息/服务结束时间",
    "产品信息/产品Code", "产品信息/产品名称", "产品信息/商品Code",
    "产品信息/商品名称", "产品信息/计费项Code", "产品信息/计费项名称",
    "产品信息/选型配置", "产品信息/规格", "资源信息/资源ID",
    "资源信息/实例ID（出账粒度）", "资源信息/资源名称", "资源信息/地域Code",
    "资源信息/地域", "资源信息/可用区", "时长信息/抵扣前时长",
    "时长信息/抵扣时长", "时长信息/时长", "时长信息/时长单位",
    "时长信息/时长详情", "用量信息/抵扣前用量", "用量信息/抵扣用量",
    "用量信息/用量", "用量信息/用量单位", "用量信息/用量详情",
    "定价信息/官网目录价", "定价信息/价格单位", "定价信息/目录价用量阶梯",
    "定价信息/用量阶梯累计规则", "定价信息/目录价转换信息", "定价信息/目录价因子",
    "定价信息/定价币种", "费用信息/目录总价", "费用信息/计费公式",
    "费用信息/计费辅助信息", "费用信息/计费过程", "费用信息/计费规则说明",
    "订阅抵扣信息/订阅抵扣目录总价", "订阅抵扣信息/订阅抵扣后金额", "订阅抵扣信息/订阅抵扣金额",
    "订阅抵扣信息/订阅抵扣详情", "优惠信息/优惠金额", "优惠信息/优惠后金额",
    "优惠信息/优惠详情", "优惠券抵扣信息/优惠券抵扣金额", "优惠券抵扣信息/优惠券抵扣详情",
    "应付信息/应付金额（含税）",
)

UID = "1000000000000001"
SITE = "2684201000001"


def v2_row(line: int, day: str, instance: str, payable: str) -> dict[str, str]:
    """A paid Model Studio token row of ``day`` (YYYYMMDD); usage 1 thousand tokens at the payable price."""
    return {
        "标识信息/账单明细ID": f"{day[:6]}_0g00v1_031_{line:032x}_01_{line:020d}",
        "身份信息/资源归属账号ID": UID,
        "账单信息/账单月份": day[:6],
        "账单信息/账单日期": day,
        "账单信息/费用类型": "云资源按量费用",
        "产品信息/产品Code": "sfm",
        "产品信息/商品Code": "sfm_inference_public_cn",
        "产品信息/计费项Code": "token_number",
        "资源信息/实例ID（出账粒度）": instance,
        "用量信息/抵扣前用量": "1",
        "用量信息/抵扣用量": "0",
        "用量信息/用量": "1",
        "用量信息/用量单位": "千tokens",
        "定价信息/官网目录价": payable,
        "定价信息/定价币种": "CNY",
        "费用信息/目录总价": payable,
        "优惠信息/优惠金额": "0",
        "应付信息/应付金额（含税）": payable,
    }


def v2_zip(month: str, rows: Iterable[dict[str, str]]) -> bytes:
    """One push's zip: a UTF-8-with-BOM CSV named like the subscription names it."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(V2_HEADER)
    for row in rows:
        writer.writerow([row.get(column, "") for column in V2_HEADER])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{UID}_{SITE}_consumeDetailBillV2_{month}.csv", text.getvalue().encode("utf-8-sig"))
    return buffer.getvalue()


def v2_key(prefix: str, month: str, pushed: str) -> str:
    """Where a push lands: {prefix}/{YYYYMM}/{YYYYMMDDHHMMSS}/{UID}_{Site}_consumeDetailBillV2_{YYYYMM}.zip"""
    return f"{prefix}/{month}/{pushed}/{UID}_{SITE}_consumeDetailBillV2_{month}.zip"
