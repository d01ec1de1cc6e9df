"""Synthetic Model Studio bills: deterministic, realistic consumeDetailBillV2 months for tests and benchmarks.

The rows copy the shape of the real China-site export (docs/bill-formats.md §2.3, §3.7): the 61-column
Chinese ``分组/字段`` header (or an English ``Group/Field`` variant), UTF-8 with BOM, LF line ends, csv-module
quoting, JSON cells with the same keys in the same order, one-minute rows, six-segment instance IDs, tiered
usage types, image and video rows, free-quota rows, a promotion with a discount and a few rows of another
product that a Model Studio pipeline must exclude.

Everything is a pure function of the ``SynthSpec``: the same spec gives the same bytes. Rows stream out one
at a time (memory does not grow with the month), and the totals a correct pipeline must reproduce are added
up with exact ``Decimal`` arithmetic while the rows are made (``expected_totals``), so a test can check a
pipeline without trusting it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import queue
import random
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from pathlib import Path
from typing import IO, Any, Literal

from chargeback.billtime import bill_midnight
from chargeback.fee_types import BILL_FREE_QUOTA, BILL_PAY_AS_YOU_GO
from chargeback.months import first_day, last_day, next_month

__all__ = [
    "HEADER_EN",
    "HEADER_ZH",
    "Anomaly",
    "SynthSpec",
    "SynthTotals",
    "V2Push",
    "expected_totals",
    "generate_rows",
    "header_for",
    "push_file_stem",
    "totals_to_json",
    "write_csv",
    "write_v2_push",
]

HEADER_ZH: tuple[str, ...] = (
    "标识信息/账单明细ID", "标识信息/订单号", "身份信息/客户名称", "身份信息/资源购买账号ID",
    "身份信息/资源购买账号", "身份信息/资源归属账号ID", "身份信息/资源归属账号", "账单信息/服务主体",
    "账单信息/账单月份", "账单信息/账单日期", "账单信息/费用类型", "账单信息/交易类型", "账单信息/消费时间",
    "账单信息/服务开始时间", "账单信息/服务结束时间", "产品信息/产品Code", "产品信息/产品名称",
    "产品信息/商品Code", "产品信息/商品名称", "产品信息/计费项Code", "产品信息/计费项名称",
    "产品信息/选型配置", "产品信息/规格", "资源信息/资源ID", "资源信息/实例ID（出账粒度）",
    "资源信息/资源名称", "资源信息/地域Code", "资源信息/地域", "资源信息/可用区", "时长信息/抵扣前时长",
    "时长信息/抵扣时长", "时长信息/时长", "时长信息/时长单位", "时长信息/时长详情", "用量信息/抵扣前用量",
    "用量信息/抵扣用量", "用量信息/用量", "用量信息/用量单位", "用量信息/用量详情", "定价信息/官网目录价",
    "定价信息/价格单位", "定价信息/目录价用量阶梯", "定价信息/用量阶梯累计规则", "定价信息/目录价转换信息",
    "定价信息/目录价因子", "定价信息/定价币种", "费用信息/目录总价", "费用信息/计费公式",
    "费用信息/计费辅助信息", "费用信息/计费过程", "费用信息/计费规则说明", "订阅抵扣信息/订阅抵扣目录总价",
    "订阅抵扣信息/订阅抵扣后金额", "订阅抵扣信息/订阅抵扣金额", "订阅抵扣信息/订阅抵扣详情",
    "优惠信息/优惠金额", "优惠信息/优惠后金额", "优惠信息/优惠详情", "优惠券抵扣信息/优惠券抵扣金额",
    "优惠券抵扣信息/优惠券抵扣详情", "应付信息/应付金额（含税）",
)
"""The real Chinese v2 header, verbatim (bill-formats §2.3), in file order."""

# The full English header was never seen. The names documented in bill-formats §2.3 (third-party code and
# the inferred mapping) are used where they exist; the rest are invented in the same Group/Field style.
HEADER_EN: tuple[str, ...] = (
    "LineItemDetails/BillLineId", "LineItemDetails/OrderId", "IdentityDetails/CustomerName",
    "IdentityDetails/ResourcePurchaseAccountId", "IdentityDetails/ResourcePurchaseAccountName",
    "IdentityDetails/ResourceOwnerAccountId", "IdentityDetails/ResourceOwnerAccountName",
    "BillingDetails/ServiceEntity", "BillingDetails/BillingMonth", "BillingDetails/BillingDate",
    "BillingDetails/LineItemType", "BillingDetails/TransactionType", "BillingDetails/ConsumptionTime",
    "BillingDetails/ServiceStartTime", "BillingDetails/ServiceEndTime", "ProductDetails/ProductCode",
    "ProductDetails/ProductName", "ProductDetails/CommodityCode", "ProductDetails/CommodityName",
    "ProductDetails/BillingItemCode", "ProductDetails/BillingItemName", "ProductDetails/Configuration",
    "ProductDetails/Specification", "ResourceDetails/ResourceId", "ResourceDetails/InstanceId",
    "ResourceDetails/ResourceName", "ResourceDetails/RegionCode", "ResourceDetails/Region",
    "ResourceDetails/Zone", "DurationDetails/DurationBeforeDeduction", "DurationDetails/DeductedDuration",
    "DurationDetails/Duration", "DurationDetails/DurationUnit", "DurationDetails/DurationDetail",
    "UsageDetails/UsageBeforeDeduction", "UsageDetails/DeductedUsage", "UsageDetails/Usage",
    "UsageDetails/UsageUnit", "UsageDetails/UsageDetail", "PricingDetails/ListPrice",
    "PricingDetails/ListPriceUnit", "PricingDetails/ListPriceTiers", "PricingDetails/TierAccumulationRule",
    "PricingDetails/ListPriceConversion", "PricingDetails/ListPriceFactors", "PricingDetails/Currency",
    "FeeDetails/GrossAmount", "FeeDetails/BillingFormula", "FeeDetails/BillingAuxiliaryInfo",
    "FeeDetails/BillingProcess", "FeeDetails/BillingRuleDescription",
    "SubscriptionDeductionDetails/DeductedGrossAmount", "SubscriptionDeductionDetails/AmountAfterDeduction",
    "SubscriptionDeductionDetails/DeductedAmount", "SubscriptionDeductionDetails/DeductionDetail",
    "DiscountDetails/DiscountAmount", "DiscountDetails/AmountAfterDiscount", "DiscountDetails/DiscountDetail",
    "CouponDeductionDetails/CouponDeductionAmount", "CouponDeductionDetails/CouponDeductionDetail",
    "PayableDetails/PayableAmount",
)
"""An English ``Group/Field`` header of the same 61 columns (partly invented, see bill-formats §2.3)."""

assert len(HEADER_ZH) == len(HEADER_EN) == 61

# Column positions used below (bill-formats §2.3).
_ID, _UID, _LOGIN, _OWNER_UID, _OWNER_LOGIN, _ENTITY = 0, 3, 4, 5, 6, 7
_MONTH, _DATE, _FEE_TYPE, _TXN = 8, 9, 10, 11
_T_CONSUME, _T_START, _T_END = 12, 13, 14
_PRODUCT, _PRODUCT_NAME, _COMMODITY, _COMMODITY_NAME, _ITEM, _ITEM_NAME = 15, 16, 17, 18, 19, 20
_INSTANCE, _REGION_CODE, _REGION = 24, 26, 27
_DUR_BEFORE, _DUR_DEDUCTED = 29, 30
_USAGE_BEFORE, _USAGE_DEDUCTED, _USAGE, _USAGE_UNIT, _USAGE_DETAIL = 34, 35, 36, 37, 38
_PRICE, _PRICE_UNIT, _TIERS, _TIER_RULE, _FACTOR, _CURRENCY = 39, 40, 41, 42, 44, 45
_LIST_COST, _FORMULA, _PROCESS, _RULE_URL = 46, 47, 49, 50
_DISCOUNT, _AFTER_DISCOUNT, _DISCOUNT_DETAIL, _COUPON = 55, 56, 57, 58
_PAYABLE = 60

MODEL_STUDIO = "sfm"

# Exact arithmetic: any rounding would raise instead of silently changing a total.
_CTX = Context(prec=50, traps=[Inexact, InvalidOperation, Overflow, DivisionByZero])
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Anomaly:
    """A spend spike: on ``day`` every row of the ``api_key_index``-th API key uses ``factor`` times more."""

    day: int
    api_key_index: int = 0
    factor: int = 20


@dataclass(frozen=True)
class SynthSpec:
    """What to generate. ``rows`` counts every data row, the ``other_product_rows`` included."""

    month: str = "2026-05"
    rows: int = 10_000
    workspaces: int = 4
    api_keys: int = 8
    seed: int = 7
    days: int | None = None  # the first N days of the month (a month-to-date snapshot); None = all
    anomaly: Anomaly | None = None
    other_product_rows: int = 12
    header: Literal["zh", "en"] = "zh"
    uid: str = "1000000000000001"
    login: str = "example-account"
    currency: str = "CNY"

    def __post_init__(self) -> None:
        try:
            year, month = (int(part) for part in self.month.split("-"))
            date(year, month, 1)
        except ValueError as exc:
            raise ValueError(f"month must be YYYY-MM, got {self.month!r}") from exc
        if len(self.month) != 7:
            raise ValueError(f"month must be YYYY-MM, got {self.month!r}")
        if self.rows < 0 or self.other_product_rows < 0 or self.other_product_rows > self.rows:
            raise ValueError("need 0 <= other_product_rows <= rows")
        if self.workspaces < 1 or self.api_keys < 0:
            raise ValueError("need at least one workspace and a non-negative number of API keys")
        if self.days is not None and not 1 <= self.days <= self.month_days:
            raise ValueError(f"days must be between 1 and {self.month_days}")
        if self.header not in ("zh", "en"):
            raise ValueError("header must be 'zh' or 'en'")
        if self.anomaly is not None:
            if not 1 <= self.anomaly.day <= self.covered_days:
                raise ValueError("anomaly day must be one of the generated days")
            if not 0 <= self.anomaly.api_key_index < self.api_keys:
                raise ValueError("anomaly api_key_index must name a generated API key")
            if self.anomaly.factor < 1:
                raise ValueError("anomaly factor must be at least 1")

    @property
    def year_month(self) -> tuple[int, int]:
        year, month = self.month.split("-")
        return int(year), int(month)

    @property
    def month_days(self) -> int:
        return last_day(self.month).day

    @property
    def covered_days(self) -> int:
        return self.days if self.days is not None else self.month_days

    @property
    def yyyymm(self) -> str:
        return self.month.replace("-", "")


def header_for(spec: SynthSpec) -> tuple[str, ...]:
    """The header row ``spec`` asks for."""
    return HEADER_EN if spec.header == "en" else HEADER_ZH


# ---------------------------------------------------------------------------------------------------------
# The catalogue: models, usage types and list prices. Prices marked "real" are from the May 2026 bill or the
# China price page (bill-formats §4); the others are plausible inventions.


@dataclass(frozen=True)
class _Kind:
    commodity: str
    commodity_name: str
    item: str
    item_name: str
    unit: str
    price_unit: str
    region_code: str
    region: str
    free_total: int  # free quota per model, in raw units (tokens, images, hundredths of a second)


_TOKEN = _Kind("sfm_inference_public_cn", "百炼大模型推理", "token_number", "大模型文本消耗量", "千tokens",
               "元/千tokens", "cn-beijing", "华北2（北京）", 1_000_000)
_IMAGE = _Kind("sfm_inference_public_cn", "百炼大模型推理", "image_number", "大模型图片生成量", "张", "元/张",
               "cn-beijing", "华北2（北京）", 100)
_VIDEO = _Kind("sfm_inferenceHH_public_cn", "百炼大模型Happy系列", "video_duration", "视频生成模型用量", "秒",
               "元/秒", "", "", 10 * 100)


@dataclass(frozen=True)
class _Sku:
    """One priced usage type of one model: the 3rd and 4th instance-ID segments and the list price."""

    kind: _Kind
    model: str
    usage_type: str
    price: str
    weight: int  # how often it shows up within its family
    size: tuple[float, float] = (7.0, 1.2)  # tokens: lognormal (mu, sigma) of tokens per minute


# A family is what one caller uses together (input and output rows of one model, say).
_FAMILIES: tuple[tuple[_Sku, ...], ...] = (
    (  # qwen-plus, China prices per context tier (real)
        _Sku(_TOKEN, "qwen-plus", "context_0-128k_input_token", "0.0008", 40, (8.2, 1.3)),
        _Sku(_TOKEN, "qwen-plus", "context_0-128k_output_token", "0.002", 40, (6.3, 1.0)),
        _Sku(_TOKEN, "qwen-plus", "context_128-256k_input_token", "0.0024", 3, (11.9, 0.2)),
        _Sku(_TOKEN, "qwen-plus", "context_128-256k_output_token", "0.02", 3, (6.8, 0.8)),
    ),
    (  # qwen3.6-plus: tier string real, prices invented
        _Sku(_TOKEN, "qwen3.6-plus", "context_0-256k_input_token", "0.002", 40, (8.5, 1.2)),
        _Sku(_TOKEN, "qwen3.6-plus", "context_0-256k_output_token", "0.012", 40, (6.5, 1.0)),
    ),
    (  # qwen-max (third-party China prices)
        _Sku(_TOKEN, "qwen-max", "input_token", "0.0024", 20, (7.8, 1.1)),
        _Sku(_TOKEN, "qwen-max", "output_token", "0.0096", 20, (6.0, 1.0)),
    ),
    (  # qwen-turbo (real input, third-party output)
        _Sku(_TOKEN, "qwen-turbo", "input_token", "0.0003", 30, (8.8, 1.4)),
        _Sku(_TOKEN, "qwen-turbo", "output_token", "0.0006", 30, (6.2, 1.1)),
    ),
    (  # qwen3-omni-flash (real prices)
        _Sku(_TOKEN, "qwen3-omni-flash", "text_input_token", "0.0018", 20, (5.5, 1.0)),
        _Sku(_TOKEN, "qwen3-omni-flash", "audio_input_token", "0.0158", 8, (6.0, 1.0)),
        _Sku(_TOKEN, "qwen3-omni-flash", "purein_text_output_token", "0.0069", 12, (4.0, 1.0)),
        _Sku(_TOKEN, "qwen3-omni-flash", "multiin_text_output_token", "0.0127", 8, (4.5, 1.0)),
    ),
    (  # images (wanx and aitryon real, qwen-image invented)
        _Sku(_IMAGE, "wanx2.1-t2i-plus", "images", "0.2", 10),
        _Sku(_IMAGE, "qwen-image-2.0", "images", "0.2", 6),
        _Sku(_IMAGE, "aitryon", "times", "0.2", 6),
    ),
    (  # video (real prices)
        _Sku(_VIDEO, "happyhorse-1.0-i2v", "1080P", "1.6", 6),
        _Sku(_VIDEO, "happyhorse-1.0-t2v", "1080P", "1.6", 3),
        _Sku(_VIDEO, "happyhorse-1.0-t2v", "720P", "0.9", 2),
        _Sku(_VIDEO, "happyhorse-1.0-r2v", "1080P", "1.6", 3),
        _Sku(_VIDEO, "happyhorse-1.0-video-edit", "720P", "0.9", 2),
    ),
)
# How likely a caller is to use each family, and the family's share of a caller's rows (text dominates).
_FAMILY_WEIGHTS = (10, 8, 5, 6, 4, 3, 2)
_FAMILY_SHARES = (30, 25, 10, 12, 8, 10, 5)
_IMAGE_FAMILY, _VIDEO_FAMILY = 5, 6
# Rows per minute by hour of day (UTC+8), weekdays; weekends run at half.
_HOURLY = (2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 8, 9, 11, 11, 10, 9, 7, 6, 5, 4, 3, 2)

_SERVICE_ENTITY = "通义云启（杭州）信息技术有限公司"
_PRODUCT_NAME_SFM = "大模型服务平台百炼"
_RULE_URL_TEXT = "https://help.aliyun.com/zh/model-studio/billing-for-model-studio"
_FORMULA_TEXT = "官网目录价*用量"
_IMAGE_TIERS = "[0,9999999999999]"
_IMAGE_TIER_RULE = json.dumps(
    {"阶梯汇总周期": "按月", "阶梯用量计算方式": "资源包抵扣前用量汇总", "阶梯汇总维度": "按实例"},
    ensure_ascii=False, separators=(",", ":"),
)
_PAID_PREFIX = "_0700v1_019_"
_FREE_PREFIX = "_0g00v1_031_"
_PROMO_NAME = "HappyHorse系列模型限时8折特惠。"
_PROMO_RATE = Decimal("0.2")  # 8折: 20% off the list cost

# ---------------------------------------------------------------------------------------------------------
# Cell templates. Each JSON cell is made once with json.dumps, with holes for the per-row numbers, so every
# row's cell is valid JSON with the real key order at the cost of one %-format. For file output the constant
# cells and templates are CSV-encoded once (by the csv module itself); the holes only ever receive plain
# numbers, which need no quoting, so joining the cells gives the bytes csv.writer would write.

_S = "\ue000S\ue000"  # a hole inside a JSON string (private-use characters json.dumps keeps as they are)
_N = "\ue000N\ue000"  # a hole for a bare JSON number


def _template(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("%", "%%")
    return text.replace(f'"{_N}"', "%s").replace(_S, "%s")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=8192)
def _csv_cell(value: str) -> str:
    """``value`` as csv.writer (the export's dialect) writes it inside a row."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([value, ""])
    return out.getvalue()[:-2]  # drop the ',' before the empty second cell and the line end


# Paid token rows: 用量, 用量（原始单位）, 抵扣前用量.
_PAID_TOKEN_DETAIL = _template({
    "用量": _S,
    "用量计算公式": "用量=用量（原始单位）/1000",
    "用量原始单位": "tokens",
    "用量单位（转换后）": "千tokens",
    "用量（原始单位）": _S,
    "用量（原始单位）计算公式": "用量（原始单位）=抵扣前用量-抵扣用量",
    "抵扣前用量": _S,
    "抵扣用量": "0",
    "抵扣用量计算公式": "抵扣用量=资源包消耗用量/抵扣系数",
    "资源包抵扣详情": "[]",
})


def _free_detail_template(kind: _Kind, model: str, buyer: str, start: str, end: str) -> str:
    """用量详情 of a free-quota row: holes for 抵扣前用量, 抵扣用量 and the quota's deducted amount."""
    suffix = " second" if kind is _VIDEO else " "
    total = f"{kind.free_total // 100}" if kind is _VIDEO else f"{kind.free_total}"
    inner = _dumps([{
        "免费额度商品名称": kind.commodity_name, "免费额度类型": model, "免费额度抵扣用量": _S + suffix,
        "免费额度总量": total + suffix, "免费额度承诺周期": "无周期", "buyerId": buyer,
        "免费额度生效时间": start, "免费额度失效时间": end,
    }])
    return _template({
        "用量": "0",
        "用量计算公式": "用量=用量（原始单位）/1",
        "用量单位（转换后）": kind.unit,
        "用量（原始单位）": "0",
        "用量（原始单位）计算公式": "用量（原始单位）=抵扣前用量-抵扣用量",
        "抵扣前用量": _S,
        "抵扣用量": _S,
        "抵扣用量计算公式": "抵扣用量=资源包消耗用量/抵扣系数",
        "资源包抵扣详情": inner,
    })


def _process_template(price: str) -> str:
    """计费过程 without a promotion: one hole for the quantity."""
    return _template({"priceExpressInfo": {
        "priceExpression": "baseprice_factor*quantity_factor",
        "priceExpressionFactorValueMap": {"baseprice_factor": price, "quantity_factor": _S},
        "precision": "10", "round": "4",
    }})


@dataclass(frozen=True)
class _Promotion:
    """The HappyHorse 8折 promotion: day 11 of the month to the first day of the next (as in May 2026)."""

    process_template: str  # 计费过程 with promotionInfo: holes for the quantity and promotionAmount
    detail_template: str  # 优惠详情: a hole for 优惠金额
    starts: str  # 'YYYYMMDD', inclusive


def _promotion(spec: SynthSpec, price: str) -> _Promotion:
    start = bill_midnight(first_day(spec.month).replace(day=11))
    end = bill_midnight(first_day(next_month(spec.month)))
    process = _template({
        "priceExpressInfo": {
            "priceExpression": "baseprice_factor*quantity_factor",
            "priceExpressionFactorValueMap": {"baseprice_factor": price, "quantity_factor": _S},
            "precision": "10", "round": "4",
        },
        "promotionInfo": [{
            "promotionName": _PROMO_NAME, "promotionAmount": _N, "promotionType": "discount",
            "promotionContent": "0.8", "promotionSource": "act",
            "startTime": int(start.timestamp() * 1000), "endTime": int(end.timestamp() * 1000),
            "promotionPriority": 0, "isMultiUidAccumulate": False,
        }],
    })
    detail = _template([{
        "优惠名称": _PROMO_NAME,
        "优惠金额": _S,
        "优惠类型": "折扣",
        "优惠内容": "8折",
        "优惠来源": "官网优惠",
        "优惠开始时间": start.strftime("%Y-%m-%d %H:%M:%S"),
        "优惠结束时间": end.strftime("%Y-%m-%d %H:%M:%S"),
        "优惠顺序": "0",
    }])
    return _Promotion(process, detail, start.strftime("%Y%m%d"))


def _fmt(value: Decimal) -> str:
    """Plain notation without trailing zeros, as the bill prints amounts ('0.000069', '8', '1.8144')."""
    if not value:
        return "0"
    return format(value.normalize(_CTX), "f")


def _scaled(units: int, places: int) -> str:
    """``units`` * 10**-places as the bill prints it: (4131, 3) -> '4.131', (10, 3) -> '0.01'."""
    whole, frac = divmod(units, 10**places)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:0{places}d}".rstrip("0")


# ---------------------------------------------------------------------------------------------------------
# Exact sums. Every amount is computed once, in Decimal, when a usage draw is made; running sums are exact
# integer multiples of 1e-10 (a conversion that would round raises), turned back into Decimal at the end.

_UNIT_PLACES = 10
_UNIT = Decimal(10) ** _UNIT_PLACES


def _units(value: Decimal) -> int:
    return int(_CTX.multiply(value, _UNIT).to_integral_exact(context=_CTX))


def _from_units(units: int) -> Decimal:
    return Decimal(_fmt(_CTX.divide(Decimal(units), _UNIT)))


# ---------------------------------------------------------------------------------------------------------
# Usage draws. Each usage type gets a table of pre-drawn usages with their texts, exact amounts and the
# arguments its row templates take; a row picks one entry with a single random call.


def _draw_bits(rows: int) -> int:
    """Table size (as bits): 1024 draws per usage type for big months, fewer for small ones (fast tests)."""
    return max(6, min(10, rows.bit_length() - 5))


@dataclass(frozen=True)
class _Draw:
    raw: int  # tokens, images or hundredths of a second
    paid_args: tuple[bytes, ...]  # what the paid row template takes after the per-row cells (UTF-8)
    promoted_args: tuple[bytes, ...]  # the same under the promotion (video only)
    free_args: tuple[bytes, ...]  # the same for a free-quota row
    usage: int  # in 1e-10 units of the bill's unit
    cost: int  # list price x usage, in 1e-10 units
    discount: int  # under the promotion (video only), else 0
    promoted_payable: int


def _draw(sku: _Sku, raw: int) -> _Draw:
    if sku.kind is _TOKEN:
        usage_text, raw_text = _scaled(raw, 3), str(raw)
    elif sku.kind is _IMAGE:
        usage_text = raw_text = str(raw)
    else:
        usage_text = raw_text = _scaled(raw, 2)
    usage = Decimal(usage_text)
    cost = _CTX.multiply(Decimal(sku.price), usage)
    discount = _CTX.multiply(cost, _PROMO_RATE) if sku.kind is _VIDEO else _ZERO
    promoted = _CTX.subtract(cost, discount)
    u, r = usage_text.encode(), raw_text.encode()
    c, d, p = _fmt(cost).encode(), _fmt(discount).encode(), _fmt(promoted).encode()
    if sku.kind is _TOKEN:  # 用量详情 holes: 用量, 用量（原始单位）, 抵扣前用量
        paid_args: tuple[bytes, ...] = (u, u, u, r, r, c, u, c, c)
    else:
        paid_args = (u, u, c, u, c, c)
    return _Draw(
        raw, paid_args, (u, u, c, u, d, d, p, d, p), (u, u, r, r, r),
        _units(usage), _units(cost), _units(discount), _units(promoted),
    )


def _raw_usage(sku: _Sku, rng: random.Random) -> int:
    if sku.kind is _TOKEN:
        return max(1, min(900_000, int(rng.lognormvariate(*sku.size))))
    if sku.kind is _IMAGE:
        return 1 if rng.random() < 0.6 else rng.randint(2, 4)
    if sku.model.endswith("video-edit"):
        return rng.randint(300, 1500)
    return 500 if rng.random() < 0.7 else 1000


# ---------------------------------------------------------------------------------------------------------
# Row templates. A row is one bytes %-format of a line template: the constant cells already encoded
# (CSV-quoted for files) and joined, UTF-8, with holes for the per-row cells (the bill line ID's random hex
# and sequence number, the date and times) and inside the JSON cells. The per-row values are plain numbers,
# dates and IDs, which never need quoting, so the result equals what csv.writer writes, already encoded.

_HOLE = "\ue000hole\ue000"
_FIELD_SEP = "\x1f"  # joins plain (unencoded) cells; never occurs in a cell


@dataclass(frozen=True)
class _Json:
    """A JSON cell template with %s holes (see ``_template``)."""

    template: str


@dataclass(frozen=True)
class _BillLineId:
    """The bill line ID cell: ``{YYYYMM}_{type prefix}_{32 hex}_01_{20 digits}``; two holes."""

    prefix: str


def _line_template(cells: list[Any], sep: str) -> bytes:
    """One bytes %-format for a row; ``sep`` ',' encodes cells for CSV, ``_FIELD_SEP`` keeps them plain."""
    parts: list[str] = []
    for cell in cells:
        if isinstance(cell, _Json):
            parts.append(_csv_cell(cell.template) if sep == "," else cell.template)
        elif isinstance(cell, _BillLineId):
            parts.append(cell.prefix.replace("%", "%%") + "%032x_01_%020d")
        elif cell == _HOLE:
            parts.append("%s")
        else:
            parts.append((_csv_cell(cell) if sep == "," else cell).replace("%", "%%"))
    return sep.join(parts).encode("utf-8")


# The per-row cells every template starts with: bill line ID (two holes: random hex and sequence),
# billing date, consumption time, service start and service end.
_ROW_HOLES = (_DATE, _T_CONSUME, _T_START, _T_END)


# ---------------------------------------------------------------------------------------------------------
# Instances (API key x workspace x usage type x channel) and the per-month state.


@dataclass
class _Instance:
    index: int
    instance_id: str
    workspace_id: str
    api_key_id: str  # '' for console calls
    channel: str
    sku: _Sku
    key_index: int  # -1 for console calls
    draws: list[_Draw]
    promotion: _Promotion | None = None
    paid_line: bytes = b""  # line templates in the output encoding (set when rows are emitted)
    promoted_line: bytes = b""
    free_line: bytes = b""
    payable: int = 0  # exact sums in 1e-10 units
    list_cost: int = 0
    discount: int = 0
    usage: int = 0
    rows: int = 0


@dataclass
class _Quota:
    """A model's free quota for the account: what is left this month, its window, its 用量详情 template."""

    remaining: int  # raw units
    starts: str  # 'YYYYMMDD'
    ends: str  # 'YYYYMMDD', exclusive
    detail: str


def _random_id(rng: random.Random, length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(length))


def _build_instances(
    spec: SynthSpec, rng: random.Random
) -> tuple[list[_Instance], list[int], dict[str, _Quota]]:
    """The callers and what they call, with a cumulative popularity for weighted picks."""
    table_size = 1 << _draw_bits(spec.rows)
    workspaces: list[str] = []
    while len(workspaces) < spec.workspaces:
        candidate = "llm-" + _random_id(rng, 16)
        if candidate not in workspaces:
            workspaces.append(candidate)
    keys: list[str] = []
    while len(keys) < spec.api_keys:
        candidate = str(rng.randrange(1_000_000, 10_000_000))
        if candidate not in keys:
            keys.append(candidate)

    # callers: every API key (round-robin over workspaces, Zipf-like volume) and a console user per workspace
    callers: list[tuple[str, str, str, int, int]] = []  # (key, workspace, channel, key_index, weight)
    for i, key in enumerate(keys):
        callers.append((key, workspaces[i % len(workspaces)], "", i, max(1, 1000 // (i + 1))))
    for workspace in workspaces:
        callers.append(("", workspace, "bmp", -1, 60))

    draws: dict[_Sku, list[_Draw]] = {}
    promotions: dict[str, _Promotion] = {}
    instances: list[_Instance] = []
    weights: list[int] = []
    for key, workspace, channel, key_index, caller_weight in callers:
        count = rng.randint(2, 4) if key else rng.randint(1, 3)
        families: list[int] = []
        if key_index == 1 or (key_index == -1 and workspace == workspaces[0]):
            families += [_IMAGE_FAMILY, _VIDEO_FAMILY]  # so every month has image, video and promotion rows
        target = min(len(families) + count, len(_FAMILIES))
        while len(families) < target:
            pick = rng.choices(range(len(_FAMILIES)), weights=_FAMILY_WEIGHTS)[0]
            if pick not in families:
                families.append(pick)
        for family in sorted(families):
            family_weight = sum(sku.weight for sku in _FAMILIES[family])
            for sku in _FAMILIES[family]:
                if sku not in draws:
                    draws[sku] = [_draw(sku, _raw_usage(sku, rng)) for _ in range(table_size)]
                promotion = None
                if sku.kind is _VIDEO:
                    if sku.price not in promotions:
                        promotions[sku.price] = _promotion(spec, sku.price)
                    promotion = promotions[sku.price]
                instance_id = f"{key};{workspace};{sku.model};{sku.usage_type};{channel};0"
                instances.append(_Instance(
                    len(instances), instance_id, workspace, key, channel, sku, key_index, draws[sku],
                    promotion=promotion,
                ))
                weights.append(caller_weight * _FAMILY_SHARES[family] * sku.weight * 1000 // family_weight)

    quotas: dict[str, _Quota] = {}
    first = first_day(spec.month)
    for inst in instances:
        model = inst.sku.model
        if model in quotas:
            continue
        starts = first - timedelta(days=rng.randint(5, 75))
        ends = starts + timedelta(days=91)
        used = rng.randint(0, inst.sku.kind.free_total * 3 // 4)
        quotas[model] = _Quota(
            inst.sku.kind.free_total - used, starts.strftime("%Y%m%d"), ends.strftime("%Y%m%d"),
            _free_detail_template(inst.sku.kind, model, spec.login, f"{starts:%Y-%m-%d} 00:00:00",
                                  f"{ends:%Y-%m-%d} 00:00:00"),
        )
    cumulative: list[int] = []
    running = 0
    for weight in weights:
        running += weight
        cumulative.append(running)
    return instances, cumulative, quotas


def _base_cells(spec: SynthSpec) -> list[Any]:
    row: list[Any] = [""] * 61
    for col in _ROW_HOLES:
        row[col] = _HOLE
    row[_UID] = row[_OWNER_UID] = spec.uid
    row[_LOGIN] = row[_OWNER_LOGIN] = spec.login
    row[_ENTITY] = _SERVICE_ENTITY
    row[_MONTH] = spec.yyyymm
    row[_TXN] = "后付费"
    row[_CURRENCY] = spec.currency
    row[_FORMULA] = _FORMULA_TEXT
    row[_COUPON] = "0"
    return row


def _fill_templates(spec: SynthSpec, inst: _Instance, quota: _Quota, sep: str) -> None:
    """Set the instance's paid, promoted and free line templates (holes in the order of ``_Draw``'s args)."""
    sku, kind = inst.sku, inst.sku.kind
    row = _base_cells(spec)
    row[_PRODUCT], row[_PRODUCT_NAME] = MODEL_STUDIO, _PRODUCT_NAME_SFM
    row[_COMMODITY], row[_COMMODITY_NAME] = kind.commodity, kind.commodity_name
    row[_ITEM], row[_ITEM_NAME] = kind.item, kind.item_name
    row[_INSTANCE] = inst.instance_id
    row[_REGION_CODE], row[_REGION] = kind.region_code, kind.region
    row[_USAGE_UNIT], row[_PRICE_UNIT] = kind.unit, kind.price_unit
    row[_RULE_URL] = _RULE_URL_TEXT

    paid = row.copy()
    paid[_ID] = _BillLineId(spec.yyyymm + _PAID_PREFIX)
    paid[_FEE_TYPE] = BILL_PAY_AS_YOU_GO
    paid[_USAGE_BEFORE] = paid[_USAGE] = _HOLE
    paid[_USAGE_DEDUCTED] = "0"
    paid[_PRICE] = sku.price
    paid[_LIST_COST] = _HOLE
    paid[_PROCESS] = _Json(_process_template(sku.price))
    paid[_DISCOUNT] = "0"
    paid[_AFTER_DISCOUNT] = paid[_PAYABLE] = _HOLE
    if kind is _TOKEN:
        paid[_USAGE_DETAIL] = _Json(_PAID_TOKEN_DETAIL)
        paid[_FACTOR] = _dumps({"文本生成模型规格": sku.model, "Token类型": sku.usage_type})
    elif kind is _IMAGE:
        paid[_FACTOR] = _dumps({"图片生成模型规格": sku.model})
        paid[_TIERS], paid[_TIER_RULE] = _IMAGE_TIERS, _IMAGE_TIER_RULE
    else:
        paid[_FACTOR] = _dumps(
            {"视频生成模型规格": sku.model, "服务区域": "中国大陆", "视频生成画幅规格": sku.usage_type}
        )
    inst.paid_line = _line_template(paid, sep)

    if inst.promotion is not None:
        promoted = paid.copy()
        promoted[_PROCESS] = _Json(inst.promotion.process_template)
        promoted[_DISCOUNT] = _HOLE
        promoted[_DISCOUNT_DETAIL] = _Json(inst.promotion.detail_template)
        inst.promoted_line = _line_template(promoted, sep)

    free = row.copy()
    free[_ID] = _BillLineId(spec.yyyymm + _FREE_PREFIX)
    free[_FEE_TYPE] = BILL_FREE_QUOTA
    free[_DUR_BEFORE] = free[_DUR_DEDUCTED] = "0"
    free[_USAGE_BEFORE] = free[_USAGE_DEDUCTED] = _HOLE
    free[_USAGE] = "0"
    free[_USAGE_DETAIL] = _Json(quota.detail)
    free[_PRICE] = "0"
    free[_LIST_COST] = "0"
    free[_PROCESS] = _process_template("0") % "0"
    free[_DISCOUNT] = free[_AFTER_DISCOUNT] = "0"
    free[_PAYABLE] = "0"
    inst.free_line = _line_template(free, sep)


def _other_line(spec: SynthSpec, sep: str) -> bytes:
    """An OSS storage row: not Model Studio, so a pipeline must exclude it. Holes: the five per-row cells,
    the instance (bucket), 抵扣前用量, 用量, 目录总价, 计费过程's quantity, 优惠后金额 and 应付."""
    row = _base_cells(spec)
    row[_ID] = _BillLineId(spec.yyyymm + _PAID_PREFIX)
    row[_FEE_TYPE] = BILL_PAY_AS_YOU_GO
    row[_ENTITY] = "阿里云计算有限公司"
    row[_PRODUCT], row[_PRODUCT_NAME] = "oss", "对象存储"
    row[_COMMODITY], row[_COMMODITY_NAME] = "oss", "对象存储OSS"
    row[_ITEM], row[_ITEM_NAME] = "Storage", "标准存储容量"
    row[_INSTANCE] = _HOLE
    row[_REGION_CODE], row[_REGION] = "cn-hangzhou", "华东1（杭州）"
    row[_USAGE_BEFORE] = row[_USAGE] = _HOLE
    row[_USAGE_DEDUCTED] = "0"
    row[_USAGE_UNIT] = "GB"
    row[_PRICE], row[_PRICE_UNIT] = _fmt(_OTHER_PRICE), "元/GB/天"
    row[_FACTOR] = _dumps({"存储类型": "标准存储-本地冗余"})
    row[_LIST_COST] = _HOLE
    row[_PROCESS] = _Json(_process_template(_fmt(_OTHER_PRICE)))
    row[_DISCOUNT] = "0"
    row[_AFTER_DISCOUNT] = row[_PAYABLE] = _HOLE
    return _line_template(row, sep)


_OTHER_PRICE = Decimal("0.004")

# ---------------------------------------------------------------------------------------------------------
# Totals


@dataclass
class SynthTotals:
    """Filled while rows are generated; ``as_dict`` rolls the sums up (see ``expected_totals``)."""

    spec: SynthSpec
    instances: list[_Instance] = field(default_factory=list)
    by_date: dict[str, int] = field(default_factory=dict)  # 1e-10 units
    rows: int = 0
    rows_model_studio: int = 0
    rows_free_quota: int = 0
    rows_discounted: int = 0
    rows_other_product: int = 0
    other_payable: int = 0
    anomaly: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        def add(table: dict[str, int], key: str, value: int) -> None:
            table[key] = table.get(key, 0) + value

        def money(table: dict[str, int]) -> dict[str, Decimal]:
            return {key: _from_units(value) for key, value in sorted(table.items())}

        payable = list_cost = discount = 0
        by_workspace: dict[str, int] = {}
        by_key: dict[str, int] = {}
        by_model: dict[str, int] = {}
        by_channel: dict[str, int] = {}
        usage_by_unit: dict[str, int] = {}
        for inst in self.instances:
            if not inst.rows:
                continue
            payable += inst.payable
            list_cost += inst.list_cost
            discount += inst.discount
            add(by_workspace, inst.workspace_id, inst.payable)
            add(by_key, inst.api_key_id, inst.payable)
            add(by_model, inst.sku.model, inst.payable)
            add(by_channel, inst.channel, inst.payable)
            add(usage_by_unit, inst.sku.kind.unit, inst.usage)
        currency = self.spec.currency
        return {
            "month": self.spec.month,
            "rows": self.rows,
            "rows_model_studio": self.rows_model_studio,
            "rows_other_product": self.rows_other_product,
            "rows_free_quota": self.rows_free_quota,
            "rows_discounted": self.rows_discounted,
            "instances": sum(1 for inst in self.instances if inst.rows),
            "payable": money({currency: payable}),
            "list_cost": money({currency: list_cost}),
            "discount": money({currency: discount}),
            "usage_by_unit": money(usage_by_unit),
            "payable_by_workspace": money(by_workspace),
            "payable_by_api_key": money(by_key),
            "payable_by_model": money(by_model),
            "payable_by_channel": money(by_channel),
            "payable_by_date": money(self.by_date),
            "other_product_payable": money({currency: self.other_payable}),
            "anomaly": self.anomaly,
        }


def totals_to_json(totals: dict[str, Any]) -> str:
    """``expected_totals`` as JSON, Decimals as exact plain strings."""
    return json.dumps(totals, ensure_ascii=False, indent=2, default=_fmt)


# ---------------------------------------------------------------------------------------------------------
# The generator

_HH_MM = [f"{h:02d}:{m:02d}:00" for h in range(24) for m in range(60)]


def _day_weights(spec: SynthSpec) -> tuple[list[int], int]:
    """Per-day weights (weekdays 2, weekends 1) and the sum of all minute weights (day x hour of day)."""
    year, month = spec.year_month
    weights = [1 if date(year, month, day).weekday() >= 5 else 2 for day in range(1, spec.covered_days + 1)]
    return weights, 60 * sum(_HOURLY) * sum(weights)


def _generate(spec: SynthSpec, totals: SynthTotals, sep: str | None) -> Iterator[bytes]:
    """The one generator behind rows, files and totals: data rows as UTF-8 lines (no line end).

    ``sep`` ',' gives CSV lines; ``_FIELD_SEP`` gives plain cells joined by it; None adds up only (the same
    draws, so the same totals, and no text). Two random streams: one for everything that changes a total, one
    for bill line IDs, so totals never depend on the IDs.
    """
    rng = random.Random(spec.seed)  # noqa: S311 - reproducible test data, not secrets
    ids = random.Random(f"ids-{spec.seed}")  # noqa: S311
    instances, cumulative, quotas = _build_instances(spec, rng)
    emit = sep is not None
    other_line = b""
    if sep is not None:
        for inst in instances:
            _fill_templates(spec, inst, quotas[inst.sku.model], sep)
        other_line = _other_line(spec, sep)
    totals.instances = instances
    n_instances = len(instances)
    population = range(n_instances)
    ms_rows = spec.rows - spec.other_product_rows
    day_weights, weight_sum = _day_weights(spec)
    peak = -(-ms_rows * max(day_weights) * max(_HOURLY) // weight_sum) + 1
    if ms_rows and peak > n_instances:
        raise ValueError(
            f"{spec.rows} rows over {spec.covered_days} days need up to {peak} rows in a busy minute, but "
            f"only {n_instances} distinct instances exist: raise api_keys, workspaces or days"
        )
    year, month = spec.year_month
    buckets = [f"example-logs-{_random_id(rng, 6)}".encode(), f"example-media-{_random_id(rng, 6)}".encode()]
    anomaly_day, anomaly_key, anomaly_factor = "", -2, 1
    if spec.anomaly is not None:
        anomaly = spec.anomaly
        anomaly_day = f"{year:04d}{month:02d}{anomaly.day:02d}"
        anomaly_key, anomaly_factor = anomaly.api_key_index, anomaly.factor
        key_id = next(i.api_key_id for i in instances if i.key_index == anomaly.api_key_index)
        totals.anomaly = {"date": f"{year:04d}-{month:02d}-{anomaly.day:02d}", "api_key_id": key_id,
                          "factor": str(anomaly.factor)}

    choices, getrandbits, randint = rng.choices, rng.getrandbits, rng.randint
    id_bits = ids.getrandbits
    sequence = 4_250_000_000_000 + rng.randrange(10_000_000)
    cum_weight = placed = other_placed = 0
    n_days = spec.covered_days
    hourly, hh_mm = _HOURLY, [text.encode() for text in _HH_MM]
    draw_bits = _draw_bits(spec.rows)
    free_count = discounted_count = 0
    for day in range(1, n_days + 1):
        day_start = date(year, month, day)
        yyyymmdd = day_start.strftime("%Y%m%d")
        date_cell = yyyymmdd.encode()
        day_text = day_start.strftime("%Y-%m-%d ").encode()
        next_day_text = (day_start + timedelta(days=1)).strftime("%Y-%m-%d ").encode()
        day_payable = 0
        anomalous = yyyymmdd == anomaly_day
        # the other product's daily rows come first in the day
        other_today = spec.other_product_rows * day // n_days - other_placed
        for _ in range(other_today):
            other_placed += 1
            gb_milli = randint(1_000, 5_000_000)
            cost = _CTX.multiply(_OTHER_PRICE, Decimal(gb_milli).scaleb(-3))
            totals.other_payable += _units(cost)
            totals.rows += 1
            totals.rows_other_product += 1
            if emit:
                sequence += 1 + id_bits(10)
                usage, cost_text = _scaled(gb_milli, 3).encode(), _fmt(cost).encode()
                yield other_line % (
                    id_bits(128), sequence, date_cell, day_text + hh_mm[0], day_text + hh_mm[0],
                    next_day_text + hh_mm[0], buckets[other_placed % 2], usage, usage, cost_text, usage,
                    cost_text, cost_text,
                )
        day_weight = day_weights[day - 1]
        for minute in range(1440):
            cum_weight += hourly[minute // 60] * day_weight
            count = ms_rows * cum_weight // weight_sum - placed
            if count <= 0:
                continue
            placed += count
            if emit:
                t_start = day_text + hh_mm[minute]
                t_end = day_text + hh_mm[minute + 1] if minute < 1439 else next_day_text + hh_mm[0]
            picked = choices(population, cum_weights=cumulative, k=count)
            if count > 1:
                seen: set[int] = set()
                for j, idx in enumerate(picked):
                    while idx in seen:  # one row per instance and minute, as in the real bill
                        idx = (idx + 1) % n_instances
                    seen.add(idx)
                    picked[j] = idx
            for idx in picked:
                inst = instances[idx]
                d = inst.draws[getrandbits(draw_bits)]
                if anomalous and inst.key_index == anomaly_key:
                    d = _draw(inst.sku, d.raw * anomaly_factor)
                quota = quotas[inst.sku.model]
                inst.rows += 1
                if d.raw <= quota.remaining and quota.starts <= yyyymmdd < quota.ends:
                    quota.remaining -= d.raw
                    free_count += 1
                    if emit:
                        sequence += 1 + id_bits(10)
                        yield inst.free_line % (
                            id_bits(128), sequence, date_cell, t_start, t_start, t_end, *d.free_args
                        )
                    continue
                inst.usage += d.usage
                inst.list_cost += d.cost
                promotion = inst.promotion
                if promotion is not None and yyyymmdd >= promotion.starts:
                    inst.payable += d.promoted_payable
                    inst.discount += d.discount
                    day_payable += d.promoted_payable
                    discounted_count += 1
                    line, args = inst.promoted_line, d.promoted_args
                else:
                    inst.payable += d.cost
                    day_payable += d.cost
                    line, args = inst.paid_line, d.paid_args
                if emit:
                    sequence += 1 + id_bits(10)
                    yield line % (id_bits(128), sequence, date_cell, t_start, t_start, t_end, *args)
        totals.rows += placed - totals.rows_model_studio
        totals.rows_model_studio = placed
        totals.rows_free_quota = free_count
        totals.rows_discounted = discounted_count
        totals.by_date[f"{year:04d}-{month:02d}-{day:02d}"] = day_payable


def generate_rows(spec: SynthSpec, totals: SynthTotals | None = None) -> Iterator[list[str]]:
    """The month's data rows (no header; see ``header_for``), in time order, 61 plain strings each.

    Rows stream out one at a time; memory stays flat however long the month. Pass a ``SynthTotals`` to have
    it filled as the rows go (``totals.as_dict()`` afterwards equals ``expected_totals(spec)``).
    """
    for line in _generate(spec, totals if totals is not None else SynthTotals(spec), _FIELD_SEP):
        yield line.decode("utf-8").split(_FIELD_SEP)


def expected_totals(spec: SynthSpec) -> dict[str, Any]:
    """What a correct pipeline reports for ``spec``'s month, in exact Decimals (no rows are formatted).

    Keys: row counts (``rows``, ``rows_model_studio``, ``rows_other_product``, ``rows_free_quota``,
    ``rows_discounted``); Model Studio ``payable``, ``list_cost`` and ``discount`` per currency;
    ``payable_by_workspace``, ``payable_by_api_key`` ('' = console calls), ``payable_by_model``,
    ``payable_by_channel`` ('' = API calls, 'bmp' = console), ``payable_by_date`` (YYYY-MM-DD);
    ``usage_by_unit``; ``other_product_payable`` (the rows to exclude); ``anomaly`` (date, key, factor).
    """
    totals = SynthTotals(spec)
    for _ in _generate(spec, totals, None):
        pass
    return totals.as_dict()


# ---------------------------------------------------------------------------------------------------------
# Writers

_BATCH = 4096


def _csv_lines(spec: SynthSpec, totals: SynthTotals) -> Iterator[bytes]:
    """The data rows as UTF-8 CSV lines without their line ends."""
    return _generate(spec, totals, ",")


def _write_member(write: Any, header: tuple[str, ...], lines: Iterator[bytes], limit: int | None, *,
                  as_bytes: bool) -> int:
    """BOM, header line and up to ``limit`` lines (all when None), each ending in LF; lines written.

    ``write`` takes bytes, or str when ``as_bytes`` is False.
    """
    def emit(chunk: bytes) -> None:
        write(chunk if as_bytes else chunk.decode("utf-8"))

    emit(("\ufeff" + ",".join(_csv_cell(name) for name in header) + "\n").encode("utf-8"))
    written = 0
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        written += 1
        if len(batch) == _BATCH or written == limit:
            batch.append(b"")
            emit(b"\n".join(batch))
            batch.clear()
            if written == limit:
                break
    if batch:
        batch.append(b"")
        emit(b"\n".join(batch))
    return written


class _BackgroundWriter:
    """Calls ``write`` on a worker thread, so zlib (which releases the GIL) compresses while rows are made.

    At most ``depth`` chunks wait in the queue, so memory stays bounded. ``close`` re-raises a worker error.
    """

    def __init__(self, write: Any, depth: int = 4) -> None:
        self._write = write
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="synth-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(chunk)
                except BaseException as exc:  # handed to the producer in close()
                    self._error = exc

    def write(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def write_csv(target: str | os.PathLike[str] | IO[str] | IO[bytes], spec: SynthSpec) -> dict[str, Any]:
    """Write the month as one CSV file (BOM, LF, the export's quoting) and return its ``expected_totals``.

    ``target`` is a path, a text stream or a binary stream; a stream is left open.
    """
    totals = SynthTotals(spec)
    lines = _csv_lines(spec, totals)
    header = header_for(spec)
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as out:
            _write_member(out.write, header, lines, None, as_bytes=True)
    else:
        _write_member(target.write, header, lines, None, as_bytes=not isinstance(target, io.TextIOBase))
    return totals.as_dict()


@dataclass(frozen=True)
class V2Push:
    """One generated subscription push: where the zip went, its members and the month's totals."""

    zip_path: Path
    members: tuple[str, ...]
    member_rows: tuple[int, ...]
    csv_bytes: int  # uncompressed size of all members
    totals: dict[str, Any]


def push_file_stem(spec: SynthSpec, uid: str, site_id: str) -> str:
    """``{UID}_{SiteID}_consumeDetailBillV2_{YYYYMM}``: the v2 subscription object name (§1.2)."""
    return f"{uid}_{site_id}_consumeDetailBillV2_{spec.yyyymm}"


def write_v2_push(
    root_dir: str | os.PathLike[str],
    spec: SynthSpec,
    *,
    uid: str,
    site_id: str = "2684201000001",
    snapshot: str = "20260601120000",
    files: int = 1,
    compresslevel: int = 6,
) -> V2Push:
    """Write the month as a v2 subscription push: ``{root}/{YYYYMM}/{snapshot}/{stem}.zip``.

    The zip holds ``files`` CSV members named ``{stem}_{i}.csv`` (1-based) that together are the month: rows
    in time order, split into nearly equal consecutive runs, each member with its own BOM and header. The rows
    carry ``uid`` as the account. Member timestamps come from ``snapshot``, so the same spec gives the same
    bytes. Rows stream into the zip; memory does not grow with the month.
    """
    if files < 1:
        raise ValueError("files must be at least 1")
    if len(snapshot) != 14 or not snapshot.isdigit():
        raise ValueError(f"snapshot must be YYYYMMDDHHMMSS, got {snapshot!r}")
    spec = replace(spec, uid=uid)
    stem = push_file_stem(spec, uid, site_id)
    folder = Path(root_dir) / spec.yyyymm / snapshot
    folder.mkdir(parents=True, exist_ok=True)
    zip_path = folder / f"{stem}.zip"
    stamp = datetime.strptime(snapshot, "%Y%m%d%H%M%S")
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    totals = SynthTotals(spec)
    lines = _csv_lines(spec, totals)
    header = header_for(spec)
    members: list[str] = []
    member_rows: list[int] = []
    csv_bytes = 0
    tmp_path = zip_path.with_name(f".tmp-{zip_path.name}")
    try:
        with zipfile.ZipFile(tmp_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for i in range(files):
                limit = spec.rows * (i + 1) // files - spec.rows * i // files
                info = zipfile.ZipInfo(f"{stem}_{i + 1}.csv", date_time=date_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                info._compresslevel = compresslevel  # type: ignore[attr-defined]  # no public setter in 3.11
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    writer = _BackgroundWriter(member.write)
                    try:
                        member_lines = lines if limit else iter(())
                        written = _write_member(
                            writer.write, header, member_lines, limit or None, as_bytes=True
                        )
                    finally:
                        writer.close()
                members.append(info.filename)
                member_rows.append(written)
                csv_bytes += archive.getinfo(info.filename).file_size
            if next(lines, None) is not None:
                raise AssertionError("rows left after the last member")
        os.replace(tmp_path, zip_path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return V2Push(zip_path, tuple(members), tuple(member_rows), csv_bytes, totals.as_dict())
