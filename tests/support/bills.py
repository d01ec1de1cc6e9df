"""Hand-made bills for tests: v2 (Chinese or English headers) and legacy CSVs with exactly the fields set."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping

V2_HEADER = ["标识信息/账单明细ID", "标识信息/订单号", "身份信息/客户名称", "身份信息/资源购买账号ID", "身份信息/资源购买账号", "身份信息/资源归属账号ID", "身份信息/资源归属账号", "账单信息/服务主体", "账单信息/账单月份", "账单信息/账单日期", "账单信息/费用类型", "账单信息/交易类型", "账单信息/消费时间", "账单信息/服务开始时间", "账单信息/服务结束时间", "产品信息/产品Code", "产品信息/产品名称", "产品信息/商品Code", "产品信息/商品名称", "产品信息/计费项Code", "产品信息/计费项名称", "产品信息/选型配置", "产品信息/规格", "资源信息/资源ID", "资源信息/实例ID（出账粒度）", "资源信息/资源名称", "资源信息/地域Code", "资源信息/地域", "资源信息/可用区", "时长信息/抵扣前时长", "时长信息/抵扣时长", "时长信息/时长", "时长信息/时长单位", "时长信息/时长详情", "用量信息/抵扣前用量", "用量信息/抵扣用量", "用量信息/用量", "用量信息/用量单位", "用量信息/用量详情", "定价信息/官网目录价", "定价信息/价格单位", "定价信息/目录价用量阶梯", "定价信息/用量阶梯累计规则", "定价信息/目录价转换信息", "定价信息/目录价因子", "定价信息/定价币种", "费用信息/目录总价", "费用信息/计费公式", "费用信息/计费辅助信息", "费用信息/计费过程", "费用信息/计费规则说明", "订阅抵扣信息/订阅抵扣目录总价", "订阅抵扣信息/订阅抵扣后金额", "订阅抵扣信息/订阅抵扣金额", "订阅抵扣信息/订阅抵扣详情", "优惠信息/优惠金额", "优惠信息/优惠后金额", "优惠信息/优惠详情", "优惠券抵扣信息/优惠券抵扣金额", "优惠券抵扣信息/优惠券抵扣详情", "应付信息/应付金额（含税）"]

# our short names -> v2 Chinese column, English column
V2_FIELDS = {
    "line_id": ("标识信息/账单明细ID", "LineItemDetails/BillLineItemId"),
    "month": ("账单信息/账单月份", "BillingDetails/BillingMonth"),
    "date": ("账单信息/账单日期", "BillingDetails/BillingDate"),
    "fee_type": ("账单信息/费用类型", "BillingDetails/LineItemType"),
    "account": ("身份信息/资源归属账号ID", "IdentityDetails/ResourceOwnerAccountId"),
    "payer": ("身份信息/资源购买账号ID", "IdentityDetails/ResourcePurchaseAccountId"),
    "account_name": ("身份信息/资源归属账号", "IdentityDetails/ResourceOwnerAccount"),
    "payer_name": ("身份信息/资源购买账号", "IdentityDetails/ResourcePurchaseAccount"),
    "product": ("产品信息/产品Code", "ProductDetails/ProductCode"),
    "commodity": ("产品信息/商品Code", "ProductDetails/CommodityCode"),
    "item": ("产品信息/计费项Code", "ProductDetails/BillingItemCode"),
    "instance": ("资源信息/实例ID（出账粒度）", "ResourceDetails/InstanceId"),
    "usage": ("用量信息/用量", "UsageDetails/Usage"),
    "unit": ("用量信息/用量单位", "UsageDetails/UsageUnit"),
    "price": ("定价信息/官网目录价", "PricingDetails/ListPrice"),
    "currency": ("定价信息/定价币种", "PricingDetails/Currency"),
    "list_cost": ("费用信息/目录总价", "FeeDetails/GrossAmount"),
    "discount": ("优惠信息/优惠金额", "DiscountDetails/DiscountAmount"),
    "payable": ("应付信息/应付金额（含税）", "PayableDetails/PayableAmount"),
}
V2_ENGLISH_HEADER = [v[1] for v in V2_FIELDS.values()] + ["ProductDetails/ProductName", "Extra/Unknown"]

LEGACY_HEADER_ZH = ["账期", "财务单元", "账号ID", "账号", "Owner账号", "产品Code", "产品", "产品明细Code", "产品明细", "消费类型", "消费时间", "账单开始时间", "账单结束时间", "服务时长", "订单号/账单号", "账单类型", "计费方式", "实例ID", "实例昵称", "资源组", "实例标签", "实例配置", "实例规格", "公网IP", "私网IP", "地域", "可用区", "计费项", "单价", "单价单位", "用量", "用量单位", "资源包抵扣", "原价", "优惠金额", "优惠券抵扣", "应付金额", "现金支付", "代金券抵扣", "储值卡支付金额", "欠费金额"]
LEGACY_FIELDS = {
    "month": ("账期", "BillingCycle"),
    "date": ("账单开始时间", "UsageStartTime"),
    "account": ("账号ID", "AccountID"),
    "account_name": ("账号", "AccountName"),
    "owner": ("Owner账号", "OwnerID"),
    "product": ("产品Code", "ProductCode"),
    "commodity": ("产品明细Code", "ProductType"),
    "item": ("计费项", "BillingItem"),
    "instance": ("实例ID", "InstanceID"),
    "usage": ("用量", "Usage"),
    "unit": ("用量单位", "UsageUnit"),
    "price": ("单价", "ListPrice"),
    "list_cost": ("原价", "PretaxGrossAmount"),
    "discount": ("优惠金额", "InvoiceDiscount"),
    "payable": ("应付金额", "PretaxAmount"),
    "tags": ("实例标签", "Tag"),
}
LEGACY_ENGLISH_HEADER = [v[1] for v in LEGACY_FIELDS.values()] + ["Currency"]

_counter = iter(range(1, 10**9))


def v2_row(
    instance: str = "2100001;llm-ws0000000000000a;qwen-plus;input_token;;0",
    payable: str = "1.5",
    *,
    date: str = "20260514",
    **fields: str,
) -> dict[str, str]:
    """One v2 row as {short name: value}; defaults make a paid Model Studio token row."""
    month = fields.pop("month", date[:6])
    row = {
        "line_id": f"{month}_0700v1_019_{next(_counter):032x}_01_{next(_counter):020d}",
        "month": month, "date": date, "fee_type": "云资源按量费用", "account": "1000000000000001",
        "product": "sfm", "commodity": "sfm_inference_public_cn", "item": "token_number",
        "instance": instance, "usage": "1", "unit": "千tokens", "price": payable, "currency": "CNY",
        "list_cost": payable, "discount": "0", "payable": payable,
    }
    row.update(fields)
    return row


def v2_csv(rows: Iterable[Mapping[str, str]], *, english: bool = False, drop: Iterable[str] = (),
           encoding: str = "utf-8-sig") -> bytes:
    """A v2 bill as bytes (BOM, LF), Chinese 61-column header or an English one."""
    header = list(V2_ENGLISH_HEADER if english else V2_HEADER)
    dropped = {V2_FIELDS[d][1 if english else 0] for d in drop}
    header = [h for h in header if h not in dropped]
    column_of = {short: names[1 if english else 0] for short, names in V2_FIELDS.items()}
    return _csv(header, ({column_of[k]: v for k, v in row.items()} for row in rows), encoding)


def legacy_csv(rows: Iterable[Mapping[str, str]], *, english: bool = False, encoding: str = "utf-8") -> bytes:
    """A legacy BillingItemDetail bill (41 Chinese columns, or English API field names)."""
    header = LEGACY_ENGLISH_HEADER if english else LEGACY_HEADER_ZH
    column_of = {short: names[1 if english else 0] for short, names in LEGACY_FIELDS.items()}
    if english:
        column_of["currency"] = "Currency"
    return _csv(header, ({column_of[k]: v for k, v in row.items() if k in column_of} for row in rows), encoding)


def legacy_row(instance: str = "2100001;llm-ws0000000000000a;qwen-plus;input_token;app", payable: str = "1.5",
               *, date: str = "2026-05-14", **fields: str) -> dict[str, str]:
    row = {"month": date[:7], "date": f"{date} 10:00:00", "account": "1000000000000001", "product": "sfm",
           "commodity": "sfm_inference_public_cn", "item": "大模型文本消耗量", "instance": instance,
           "usage": "1", "unit": "千tokens", "price": payable, "list_cost": payable, "discount": "0",
           "payable": payable}
    row.update(fields)
    return row


def _csv(header: list[str], rows: Iterable[Mapping[str, str]], encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


def zip_of(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
