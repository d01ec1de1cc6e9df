"""The benchmark's bills: a realistic consumeDetailBillV2 month of any size, written as it is made.

Nothing from the ``chargeback`` package is used: the pipeline under test is measured on data it did not make.
The rows copy the real China-site export in ``tests/data/real-bills/`` (bill-formats.md §2.3): its 61-column
Chinese header read verbatim from that file, UTF-8 with BOM, LF line ends, csv-module quoting, the same JSON
cells with the same keys in the same order, one-minute rows and six-segment instance IDs. On top of what one
small account shows, a month here has several accounts (resource owners) with their workspaces, API keys and
console users, tiered token usage types, images, video, free-quota rows until each grant runs out, the
HappyHorse 8折 promotion on video from the 11th, and a few OSS rows a Model Studio pipeline must leave out.

The month is split into CSV members of at most ``member_rows`` rows (the 10M-row month is ten 1M-row CSVs),
written as a v2 subscription push twice: plain CSVs, and the same bytes zipped as pushed,
``{dir}/{YYYYMM}/{YYYYMMDDHHMMSS}/{UID}_{SiteID}_consumeDetailBillV2_{YYYYMM}.zip`` (bill-formats §1.2).
Rows stream out; memory is bounded by the number of groups, not rows. While writing, the generator adds up
the exact result at the allocation grain (billing date, account, workspace, API key, model, usage type,
channel, fee type, currency, unit, list price) in integers of 1e-12, so a contender is checked against
numbers that no contender computed.

    python bench/billgen.py --rows 1000000 --out bench/data/rows-1000000
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import shutil
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REAL_EXPORT = HERE.parent / "tests" / "data" / "real-bills" / "1000000000000001-20260516105620_consumedetailbillv2.csv"

MODEL_STUDIO = "sfm"
PAY_AS_YOU_GO = "云资源按量费用"
FREE_QUOTA = "免费额度"
SITE_ID = "2684201000001"
SNAPSHOT = "20260601120000"  # the push folder: after the month closed

SCALE = 12  # amounts are integers of 1e-12 (DECIMAL(38, 12)) while they are added up
GRAIN = ("billing_date", "account_id", "workspace_id", "api_key_id", "model", "usage_type", "channel",
         "fee_type", "currency", "usage_unit", "list_unit_price")
AMOUNTS = ("usage", "list_cost", "discount", "coupon", "billed_cost")


def real_header() -> list[str]:
    """The 61 column names of the real export, verbatim (BOM dropped)."""
    with REAL_EXPORT.open(encoding="utf-8-sig", newline="") as stream:
        return next(csv.reader(stream))


# ---------------------------------------------------------------------------------------------------------
# What is generated


@dataclass(frozen=True)
class Account:
    """A resource owner with its workspaces, API keys and share of the month's calls."""

    uid: str
    login: str
    workspaces: int
    api_keys: int
    weight: int


ACCOUNTS = (
    Account("1000000000000001", "example-account", 5, 80, 6),
    Account("1000000000000002", "example-account-2", 4, 50, 3),
    Account("1000000000000003", "example-account-3", 3, 30, 1),
)


@dataclass(frozen=True)
class BillSpec:
    """One benchmark month. ``rows`` counts every data row, the other product's included."""

    rows: int
    month: str = "2026-05"
    seed: int = 2026
    member_rows: int = 1_000_000
    accounts: tuple[Account, ...] = ACCOUNTS

    @property
    def yyyymm(self) -> str:
        return self.month.replace("-", "")

    @property
    def other_product_rows(self) -> int:
        return max(10, self.rows // 10_000)

    @property
    def members(self) -> int:
        return max(1, -(-self.rows // self.member_rows))

    @property
    def stem(self) -> str:
        """``{UID}_{SiteID}_consumeDetailBillV2_{YYYYMM}``: the subscription object name (§1.2)."""
        return f"{self.accounts[0].uid}_{SITE_ID}_consumeDetailBillV2_{self.yyyymm}"

    def member_names(self) -> list[str]:
        if self.members == 1:
            return [f"{self.stem}.csv"]
        return [f"{self.stem}_{i + 1}.csv" for i in range(self.members)]


# ---------------------------------------------------------------------------------------------------------
# The catalogue (prices from the real bill and the China price page where known, bill-formats §4)


@dataclass(frozen=True)
class Kind:
    name: str  # token | image | video
    commodity: str
    commodity_name: str
    item: str
    item_name: str
    unit: str
    price_unit: str
    region_code: str
    region: str
    free_total: int  # raw units (tokens, images, seconds) of the free grant per account and model


TOKEN = Kind("token", "sfm_inference_public_cn", "百炼大模型推理", "token_number", "大模型文本消耗量", "千tokens",
             "元/千tokens", "cn-beijing", "华北2（北京）", 1_000_000)
IMAGE = Kind("image", "sfm_inference_public_cn", "百炼大模型推理", "image_number", "大模型图片生成量", "张", "元/张",
             "cn-beijing", "华北2（北京）", 100)
VIDEO = Kind("video", "sfm_inferenceHH_public_cn", "百炼大模型Happy系列", "video_duration", "视频生成模型用量", "秒",
             "元/秒", "", "", 10)


@dataclass(frozen=True)
class Sku:
    kind: Kind
    model: str
    usage_type: str
    price: str
    weight: int
    tokens: tuple[float, float] = (7.0, 1.2)  # lognormal (mu, sigma) of tokens per minute


FAMILIES: tuple[tuple[Sku, ...], ...] = (
    (Sku(TOKEN, "qwen-plus", "context_0-128k_input_token", "0.0008", 40, (8.2, 1.3)),
     Sku(TOKEN, "qwen-plus", "context_0-128k_output_token", "0.002", 40, (6.3, 1.0)),
     Sku(TOKEN, "qwen-plus", "context_128-256k_input_token", "0.0024", 3, (11.9, 0.2)),
     Sku(TOKEN, "qwen-plus", "context_128-256k_output_token", "0.02", 3, (6.8, 0.8))),
    (Sku(TOKEN, "qwen3.6-plus", "context_0-256k_input_token", "0.002", 40, (8.5, 1.2)),
     Sku(TOKEN, "qwen3.6-plus", "context_0-256k_output_token", "0.012", 40, (6.5, 1.0))),
    (Sku(TOKEN, "qwen-max", "input_token", "0.0024", 20, (7.8, 1.1)),
     Sku(TOKEN, "qwen-max", "output_token", "0.0096", 20, (6.0, 1.0))),
    (Sku(TOKEN, "qwen-turbo", "input_token", "0.0003", 30, (8.8, 1.4)),
     Sku(TOKEN, "qwen-turbo", "output_token", "0.0006", 30, (6.2, 1.1))),
    (Sku(TOKEN, "qwen3-omni-flash", "text_input_token", "0.0018", 20, (5.5, 1.0)),
     Sku(TOKEN, "qwen3-omni-flash", "audio_input_token", "0.0158", 8, (6.0, 1.0)),
     Sku(TOKEN, "qwen3-omni-flash", "purein_text_output_token", "0.0069", 12, (4.0, 1.0))),
    (Sku(IMAGE, "wanx2.1-t2i-plus", "images", "0.2", 10),
     Sku(IMAGE, "qwen-image-2.0", "images", "0.2", 6),
     Sku(IMAGE, "aitryon", "times", "0.2", 6)),
    (Sku(VIDEO, "happyhorse-1.0-i2v", "1080P", "1.6", 6),
     Sku(VIDEO, "happyhorse-1.0-t2v", "720P", "0.9", 2),
     Sku(VIDEO, "happyhorse-1.0-r2v", "1080P", "1.6", 3)),
)
FAMILY_WEIGHTS = (10, 8, 5, 6, 4, 3, 2)  # how likely a caller uses a family
FAMILY_SHARES = (30, 25, 10, 12, 8, 10, 5)  # the family's share of that caller's rows
IMAGE_FAMILY, VIDEO_FAMILY = 5, 6
HOURLY = (2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 8, 9, 11, 11, 10, 9, 7, 6, 5, 4, 3, 2)  # UTC+8, weekdays
OTHER_PRICE = Decimal("0.004")  # OSS standard storage, 元/GB/天

SERVICE_ENTITY = "通义云启（杭州）信息技术有限公司"
RULE_URL = "https://help.aliyun.com/zh/model-studio/billing-for-model-studio"
PROMO_NAME = "HappyHorse系列模型限时8折特惠。"
PROMO_RATE = Decimal("0.2")
CN = timezone(timedelta(hours=8))


# ---------------------------------------------------------------------------------------------------------
# Row templates: each kind of row is one bytes %-format with the constant cells CSV-encoded once. The holes
# only ever receive plain numbers, dates and hex, which need no quoting.

_S = "\ue000"  # a hole (a private-use character that json.dumps and csv keep as it is)
_N = "\ue003"  # a hole for a bare JSON number (its quotes are dropped)
_HEX, _SEQ = "\ue001", "\ue002"


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _encode_row(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    text = out.getvalue().replace("%", "%%").replace(f'""{_N}""', _S)
    text = text.replace(_S, "%s").replace(_HEX, "%032x").replace(_SEQ, "%020d")
    return text.encode("utf-8")


def plain(value: Decimal) -> str:
    """An amount as the bill prints it: plain notation, no trailing zeros ('0.000069', '8', '0')."""
    return "0" if not value else format(value.normalize(), "f")


def units(value: Decimal) -> int:
    scaled = value.scaleb(SCALE)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {SCALE} decimals")
    return int(scaled)


def from_units(value: int) -> Decimal:
    return Decimal(value).scaleb(-SCALE)


@dataclass
class Instance:
    """One caller's use of one SKU: a distinct instance ID, and its row templates."""

    index: int
    account: Account
    workspace: str
    api_key: str  # '' for console calls
    channel: str  # '' for API calls, 'bmp' for the console
    sku: Sku
    paid: bytes = b""
    promoted: bytes = b""
    free: bytes = b""

    @property
    def instance_id(self) -> str:
        return f"{self.api_key};{self.workspace};{self.sku.model};{self.sku.usage_type};{self.channel};0"


@dataclass(frozen=True)
class Draw:
    """A pre-drawn usage of a SKU: the texts its rows carry and its exact amounts (1e-12 units)."""

    raw: int
    paid_args: tuple[bytes, ...]
    promoted_args: tuple[bytes, ...]
    free_args: tuple[bytes, ...]
    usage: int
    cost: int
    discount: int


def _draw(sku: Sku, rng: random.Random) -> Draw:
    if sku.kind is TOKEN:
        raw = max(1, min(900_000, int(rng.lognormvariate(*sku.tokens))))
        usage = Decimal(raw).scaleb(-3)
    elif sku.kind is IMAGE:
        raw = 1 if rng.random() < 0.6 else rng.randint(2, 4)
        usage = Decimal(raw)
    else:
        raw = 5 if rng.random() < 0.7 else 10
        usage = Decimal(raw)
    cost = Decimal(sku.price) * usage
    discount = cost * PROMO_RATE if sku.kind is VIDEO else Decimal(0)
    promoted = cost - discount
    u, r = plain(usage).encode(), str(raw).encode()
    c, d, p = plain(cost).encode(), plain(discount).encode(), plain(promoted).encode()
    # token rows: 抵扣前用量, 用量, 用量详情 (用量, 原始单位, 抵扣前), 目录总价, quantity, 优惠后, 应付
    paid = (u, u, u, r, r, c, u, c, c) if sku.kind is TOKEN else (u, u, c, u, c, c)
    promoted_args = (u, u, c, u, d, d, p, d, p)  # ... promotionAmount, 优惠金额, 优惠后, 优惠详情, 应付
    free = (u, u, r, r, r)  # 抵扣前用量, 抵扣用量, 用量详情 (抵扣前, 抵扣, 免费额度抵扣用量)
    return Draw(raw, paid, promoted_args, free, units(usage), units(cost), units(discount))


class Templates:
    """Builds the row templates of the real export's row kinds for this header."""

    def __init__(self, spec: BillSpec, header: list[str]) -> None:
        self.spec = spec
        self.col = {name: i for i, name in enumerate(header)}
        year, month = int(spec.month[:4]), int(spec.month[5:])
        start = datetime(year, month, 11, tzinfo=CN)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CN)
        self.promo_from = f"{year:04d}{month:02d}11"
        self.promo_start, self.promo_end = start, end

    def _base(self, account: Account, fee_type: str, id_prefix: str) -> list[str]:
        row = [""] * len(self.col)
        put = self._put(row)
        put("标识信息/账单明细ID", f"{self.spec.yyyymm}_{id_prefix}_{_HEX}_01_{_SEQ}")
        put("身份信息/资源购买账号ID", account.uid)
        put("身份信息/资源购买账号", account.login)
        put("身份信息/资源归属账号ID", account.uid)
        put("身份信息/资源归属账号", account.login)
        put("账单信息/服务主体", SERVICE_ENTITY)
        put("账单信息/账单月份", self.spec.yyyymm)
        for name in ("账单信息/账单日期", "账单信息/消费时间", "账单信息/服务开始时间", "账单信息/服务结束时间"):
            put(name, _S)
        put("账单信息/费用类型", fee_type)
        put("账单信息/交易类型", "后付费")
        put("定价信息/定价币种", "CNY")
        put("费用信息/计费公式", "官网目录价*用量")
        put("优惠券抵扣信息/优惠券抵扣金额", "0")
        return row

    def _put(self, row: list[str]) -> Any:
        def put(name: str, value: str) -> None:
            row[self.col[name]] = value
        return put

    @staticmethod
    def _process(price: str, quantity: str, promotion: dict[str, Any] | None = None) -> str:
        info: dict[str, Any] = {"priceExpressInfo": {
            "priceExpression": "baseprice_factor*quantity_factor",
            "priceExpressionFactorValueMap": {"baseprice_factor": price, "quantity_factor": quantity},
            "precision": "10", "round": "4"}}
        if promotion is not None:
            info["promotionInfo"] = [promotion]
        return _json(info)

    def _product(self, row: list[str], inst: Instance) -> None:
        kind = inst.sku.kind
        put = self._put(row)
        put("产品信息/产品Code", MODEL_STUDIO)
        put("产品信息/产品名称", "大模型服务平台百炼")
        put("产品信息/商品Code", kind.commodity)
        put("产品信息/商品名称", kind.commodity_name)
        put("产品信息/计费项Code", kind.item)
        put("产品信息/计费项名称", kind.item_name)
        put("资源信息/实例ID（出账粒度）", inst.instance_id)
        put("资源信息/地域Code", kind.region_code)
        put("资源信息/地域", kind.region)
        put("用量信息/用量单位", kind.unit)
        put("定价信息/价格单位", kind.price_unit)
        put("费用信息/计费规则说明", RULE_URL)

    def fill(self, inst: Instance, quota: Quota) -> None:
        """Set the instance's paid, promoted (video) and free-quota row templates."""
        sku, kind = inst.sku, inst.sku.kind
        row = self._base(inst.account, PAY_AS_YOU_GO, "0700v1_019")
        self._product(row, inst)
        put = self._put(row)
        put("用量信息/抵扣前用量", _S)
        put("用量信息/抵扣用量", "0")
        put("用量信息/用量", _S)
        put("定价信息/官网目录价", sku.price)
        put("费用信息/目录总价", _S)
        put("费用信息/计费过程", self._process(sku.price, _S))
        put("优惠信息/优惠金额", "0")
        put("优惠信息/优惠后金额", _S)
        put("应付信息/应付金额（含税）", _S)
        if kind is TOKEN:
            put("用量信息/用量详情", _json({
                "用量": _S, "用量计算公式": "用量=用量（原始单位）/1000", "用量原始单位": "tokens",
                "用量单位（转换后）": "千tokens", "用量（原始单位）": _S,
                "用量（原始单位）计算公式": "用量（原始单位）=抵扣前用量-抵扣用量", "抵扣前用量": _S, "抵扣用量": "0",
                "抵扣用量计算公式": "抵扣用量=资源包消耗用量/抵扣系数", "资源包抵扣详情": "[]"}))
            put("定价信息/目录价因子", _json({"文本生成模型规格": sku.model, "Token类型": sku.usage_type}))
        elif kind is IMAGE:
            put("定价信息/目录价用量阶梯", "[0,9999999999999]")
            put("定价信息/用量阶梯累计规则", _json(
                {"阶梯汇总周期": "按月", "阶梯用量计算方式": "资源包抵扣前用量汇总", "阶梯汇总维度": "按实例"}))
            put("定价信息/目录价因子", _json({"图片生成模型规格": sku.model}))
        else:
            put("定价信息/目录价因子", _json(
                {"视频生成模型规格": sku.model, "服务区域": "中国大陆", "视频生成画幅规格": sku.usage_type}))
        inst.paid = _encode_row(row)

        if kind is VIDEO:
            promoted = row.copy()
            put = self._put(promoted)
            put("费用信息/计费过程", self._process(sku.price, _S, {
                "promotionName": PROMO_NAME, "promotionAmount": _N, "promotionType": "discount",
                "promotionContent": "0.8", "promotionSource": "act",
                "startTime": int(self.promo_start.timestamp() * 1000),
                "endTime": int(self.promo_end.timestamp() * 1000),
                "promotionPriority": 0, "isMultiUidAccumulate": False}))
            put("优惠信息/优惠金额", _S)
            put("优惠信息/优惠详情", _json([{
                "优惠名称": PROMO_NAME, "优惠金额": _S, "优惠类型": "折扣", "优惠内容": "8折", "优惠来源": "官网优惠",
                "优惠开始时间": f"{self.promo_start:%Y-%m-%d %H:%M:%S}",
                "优惠结束时间": f"{self.promo_end:%Y-%m-%d %H:%M:%S}", "优惠顺序": "0"}]))
            inst.promoted = _encode_row(promoted)

        free = self._base(inst.account, FREE_QUOTA, "0g00v1_031")
        self._product(free, inst)
        put = self._put(free)
        put("时长信息/抵扣前时长", "0")
        put("时长信息/抵扣时长", "0")
        put("用量信息/抵扣前用量", _S)
        put("用量信息/抵扣用量", _S)
        put("用量信息/用量", "0")
        suffix = " second" if kind is VIDEO else " "
        grant = _json([{
            "免费额度商品名称": kind.commodity_name, "免费额度类型": sku.model, "免费额度抵扣用量": _S + suffix,
            "免费额度总量": f"{kind.free_total}{suffix}", "免费额度承诺周期": "无周期",
            "buyerId": inst.account.login, "免费额度生效时间": quota.valid_from, "免费额度失效时间": quota.valid_to}])
        put("用量信息/用量详情", _json({
            "用量": "0", "用量计算公式": "用量=用量（原始单位）/1", "用量单位（转换后）": kind.unit,
            "用量（原始单位）": "0",
            "用量（原始单位）计算公式": "用量（原始单位）=抵扣前用量-抵扣用量", "抵扣前用量": _S, "抵扣用量": _S,
            "抵扣用量计算公式": "抵扣用量=资源包消耗用量/抵扣系数", "资源包抵扣详情": grant}))
        put("定价信息/官网目录价", "0")
        put("费用信息/目录总价", "0")
        put("费用信息/计费过程", self._process("0", "0"))
        put("优惠信息/优惠金额", "0")
        put("优惠信息/优惠后金额", "0")
        put("应付信息/应付金额（含税）", "0")
        inst.free = _encode_row(free)

    def other_product(self, account: Account) -> bytes:
        """An OSS storage row (holes: the row cells, bucket, 抵扣前用量, 用量, 目录总价, quantity, 优惠后, 应付)."""
        row = self._base(account, PAY_AS_YOU_GO, "0700v1_019")
        put = self._put(row)
        put("账单信息/服务主体", "阿里云计算有限公司")
        put("产品信息/产品Code", "oss")
        put("产品信息/产品名称", "对象存储")
        put("产品信息/商品Code", "oss")
        put("产品信息/商品名称", "对象存储OSS")
        put("产品信息/计费项Code", "Storage")
        put("产品信息/计费项名称", "标准存储容量")
        put("资源信息/实例ID（出账粒度）", _S)
        put("资源信息/地域Code", "cn-hangzhou")
        put("资源信息/地域", "华东1（杭州）")
        put("用量信息/抵扣前用量", _S)
        put("用量信息/抵扣用量", "0")
        put("用量信息/用量", _S)
        put("用量信息/用量单位", "GB")
        put("定价信息/官网目录价", plain(OTHER_PRICE))
        put("定价信息/价格单位", "元/GB/天")
        put("定价信息/目录价因子", _json({"存储类型": "标准存储-本地冗余"}))
        put("费用信息/目录总价", _S)
        put("费用信息/计费过程", self._process(plain(OTHER_PRICE), _S))
        put("优惠信息/优惠金额", "0")
        put("优惠信息/优惠后金额", _S)
        put("应付信息/应付金额（含税）", _S)
        return _encode_row(row)


@dataclass
class Quota:
    """An account's free grant for one model: what is left, and its validity window."""

    remaining: int
    starts: str  # YYYYMMDD
    ends: str  # YYYYMMDD, exclusive
    valid_from: str
    valid_to: str


# ---------------------------------------------------------------------------------------------------------
# The expected result, added up while rows are written


@dataclass
class Expected:
    """Exact sums per group of the allocation grain, and row counts."""

    groups: dict[tuple[int, int, bool], list[int]] = field(default_factory=dict)  # (day, instance, free)
    rows: int = 0
    rows_model_studio: int = 0
    rows_free_quota: int = 0
    rows_discounted: int = 0
    rows_other_product: int = 0
    other_product_payable: int = 0

    def grain_rows(self, spec: BillSpec, instances: list[Instance]) -> list[dict[str, Any]]:
        """The result a correct contender computes, one dict per group (amounts as Decimals)."""
        out = []
        for (day, index, free), (count, usage, cost, discount, payable) in sorted(self.groups.items()):
            inst = instances[index]
            out.append({
                "billing_date": f"{spec.month}-{day:02d}", "account_id": inst.account.uid,
                "workspace_id": inst.workspace, "api_key_id": inst.api_key, "model": inst.sku.model,
                "usage_type": inst.sku.usage_type, "channel": inst.channel,
                "fee_type": FREE_QUOTA if free else PAY_AS_YOU_GO, "currency": "CNY",
                "usage_unit": inst.sku.kind.unit, "list_unit_price": "0" if free else inst.sku.price,
                "usage": from_units(usage), "list_cost": from_units(cost), "discount": from_units(discount),
                "coupon": Decimal(0), "billed_cost": from_units(payable), "line_count": count,
            })
        return out


# ---------------------------------------------------------------------------------------------------------
# The generator


def _random_id(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length))


def _instances(spec: BillSpec, rng: random.Random) -> tuple[list[Instance], list[int]]:
    """Every caller's instances and their cumulative popularity."""
    instances: list[Instance] = []
    weights: list[int] = []
    for account in spec.accounts:
        workspaces = sorted({"llm-" + _random_id(rng, 16) for _ in range(account.workspaces)})
        keys: list[str] = []
        while len(keys) < account.api_keys:
            key = str(rng.randrange(1_000_000, 10_000_000))
            if key not in keys:
                keys.append(key)
        callers = [(key, workspaces[i % len(workspaces)], "", i, max(1, 1000 // (i + 1)))
                   for i, key in enumerate(keys)]
        callers += [("", ws, "bmp", -1, 60) for ws in workspaces]
        for key, workspace, channel, key_index, weight in callers:
            families: list[int] = []
            if key_index == 1 or (key_index == -1 and workspace == workspaces[0]):
                families += [IMAGE_FAMILY, VIDEO_FAMILY]  # every account has image, video and promotion rows
            target = min(len(families) + (rng.randint(2, 4) if key else rng.randint(1, 3)), len(FAMILIES))
            while len(families) < target:
                pick = rng.choices(range(len(FAMILIES)), weights=FAMILY_WEIGHTS)[0]
                if pick not in families:
                    families.append(pick)
            for family in sorted(families):
                family_weight = sum(sku.weight for sku in FAMILIES[family])
                for sku in FAMILIES[family]:
                    instances.append(Instance(len(instances), account, workspace, key, channel, sku))
                    weights.append(account.weight * weight * FAMILY_SHARES[family] * sku.weight * 1000
                                   // family_weight)
    cumulative, running = [], 0
    for weight in weights:
        running += weight
        cumulative.append(running)
    return instances, cumulative


def generate(spec: BillSpec, header: list[str], expected: Expected,
             instances_out: list[Instance]) -> Iterator[bytes]:
    """The month's data rows as UTF-8 CSV lines without line ends, in time order; fills ``expected``."""
    rng = random.Random(spec.seed)  # reproducible test data
    ids = random.Random(f"ids-{spec.seed}")  # bill line IDs never change a total
    templates = Templates(spec, header)
    instances, cumulative = _instances(spec, rng)
    instances_out.extend(instances)
    year, month = int(spec.month[:4]), int(spec.month[5:])
    first = date(year, month, 1)
    days = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days
    quotas: dict[tuple[str, str], Quota] = {}
    for inst in instances:
        key = (inst.account.uid, inst.sku.model)
        if key not in quotas:
            starts = first - timedelta(days=rng.randint(5, 75))
            ends = starts + timedelta(days=91)
            used = rng.randint(0, inst.sku.kind.free_total * 3 // 4)
            quotas[key] = Quota(inst.sku.kind.free_total - used, f"{starts:%Y%m%d}", f"{ends:%Y%m%d}",
                                f"{starts:%Y-%m-%d} 00:00:00", f"{ends:%Y-%m-%d} 00:00:00")
        templates.fill(inst, quotas[key])
    inst_quota = [quotas[(inst.account.uid, inst.sku.model)] for inst in instances]
    draws: dict[Sku, list[Draw]] = {}
    for inst in instances:
        if inst.sku not in draws:
            draws[inst.sku] = [_draw(inst.sku, rng) for _ in range(1024)]
    inst_draws = [draws[inst.sku] for inst in instances]
    other_line = templates.other_product(spec.accounts[0])
    buckets = [f"example-logs-{_random_id(rng, 6)}".encode(), f"example-media-{_random_id(rng, 6)}".encode()]

    n = len(instances)
    population = range(n)
    ms_rows = spec.rows - spec.other_product_rows
    day_weights = [1 if (first + timedelta(days=d)).weekday() >= 5 else 2 for d in range(days)]
    weight_sum = 60 * sum(HOURLY) * sum(day_weights)
    peak = -(-ms_rows * max(day_weights) * max(HOURLY) // weight_sum) + 1
    if peak > n:
        raise ValueError(f"{spec.rows} rows need {peak} rows in a busy minute, but only {n} instances exist")
    minutes = [f"{h:02d}:{m:02d}:00".encode() for h in range(24) for m in range(60)]
    groups = expected.groups
    choices, getrandbits, id_bits = rng.choices, rng.getrandbits, ids.getrandbits
    sequence = 4_250_000_000_000 + rng.randrange(10_000_000)
    cum_weight = placed = other_placed = 0
    for d in range(days):
        day = d + 1
        today = first + timedelta(days=d)
        yyyymmdd = f"{today:%Y%m%d}"
        date_cell = yyyymmdd.encode()
        day_text, next_text = f"{today:%Y-%m-%d} ".encode(), f"{today + timedelta(days=1):%Y-%m-%d} ".encode()
        promoted_today = yyyymmdd >= templates.promo_from
        for _ in range(spec.other_product_rows * day // days - other_placed):
            other_placed += 1
            gb = Decimal(rng.randint(1_000, 5_000_000)).scaleb(-3)
            cost = OTHER_PRICE * gb
            expected.other_product_payable += units(cost)
            expected.rows_other_product += 1
            sequence += 1 + id_bits(10)
            u, c = plain(gb).encode(), plain(cost).encode()
            stamp = day_text + minutes[0]
            yield other_line % (id_bits(128), sequence, date_cell, stamp, stamp, next_text + minutes[0],
                                buckets[other_placed % 2], u, u, c, u, c, c)
        for minute in range(1440):
            cum_weight += HOURLY[minute // 60] * day_weights[d]
            count = ms_rows * cum_weight // weight_sum - placed
            if count <= 0:
                continue
            placed += count
            t_start = day_text + minutes[minute]
            t_end = day_text + minutes[minute + 1] if minute < 1439 else next_text + minutes[0]
            picked = choices(population, cum_weights=cumulative, k=count)
            if count > 1:  # one row per instance and minute, as in the real bill
                seen: set[int] = set()
                for j, index in enumerate(picked):
                    while index in seen:
                        index = (index + 1) % n
                    seen.add(index)
                    picked[j] = index
            for index in picked:
                inst = instances[index]
                draw = inst_draws[index][getrandbits(10)]
                quota = inst_quota[index]
                sequence += 1 + id_bits(10)
                if draw.raw <= quota.remaining and quota.starts <= yyyymmdd < quota.ends:
                    quota.remaining -= draw.raw
                    expected.rows_free_quota += 1
                    group = groups.get((day, index, True))
                    if group is None:
                        group = groups[(day, index, True)] = [0, 0, 0, 0, 0]
                    group[0] += 1
                    yield inst.free % (id_bits(128), sequence, date_cell, t_start, t_start, t_end,
                                       *draw.free_args)
                    continue
                group = groups.get((day, index, False))
                if group is None:
                    group = groups[(day, index, False)] = [0, 0, 0, 0, 0]
                group[0] += 1
                group[1] += draw.usage
                group[2] += draw.cost
                if inst.promoted and promoted_today:
                    group[3] += draw.discount
                    group[4] += draw.cost - draw.discount
                    expected.rows_discounted += 1
                    line, args = inst.promoted, draw.promoted_args
                else:
                    group[4] += draw.cost
                    line, args = inst.paid, draw.paid_args
                yield line % (id_bits(128), sequence, date_cell, t_start, t_start, t_end, *args)
    expected.rows_model_studio = placed
    expected.rows = placed + other_placed


# ---------------------------------------------------------------------------------------------------------
# Writing a dataset


@dataclass(frozen=True)
class Dataset:
    """A generated month on disk, in both forms, with what a correct contender must compute."""

    spec: BillSpec
    root: Path
    csv_bytes: int
    zip_bytes: int
    expected: dict[str, Any]  # summary totals (amounts as plain strings)
    generate_seconds: float | None  # None when reused

    @property
    def plain_root(self) -> Path:
        """The subscription folder holding the uncompressed CSVs (``{root}/plain/{YYYYMM}/{snapshot}/``)."""
        return self.root / "plain"

    @property
    def zip_root(self) -> Path:
        """The subscription folder holding the zip as pushed."""
        return self.root / "zip"

    @property
    def csv_paths(self) -> list[Path]:
        folder = self.plain_root / self.spec.yyyymm / SNAPSHOT
        return [folder / name for name in self.spec.member_names()]

    @property
    def zip_path(self) -> Path:
        return self.zip_root / self.spec.yyyymm / SNAPSHOT / f"{self.spec.stem}.zip"

    @property
    def grain_path(self) -> Path:
        return self.root / "expected_grain.jsonl"

    def expected_grain(self) -> list[dict[str, Any]]:
        with self.grain_path.open(encoding="utf-8") as stream:
            rows = [json.loads(line) for line in stream]
        for row in rows:
            for name in AMOUNTS:
                row[name] = Decimal(row[name])
        return rows


class _Zipper(threading.Thread):
    """Adds finished CSV members to the zip on a worker thread (zlib releases the GIL)."""

    def __init__(self, zip_path: Path, stamp: datetime) -> None:
        super().__init__(name="bench-zipper", daemon=True)
        self.zip_path, self.stamp = zip_path, stamp
        self.paths: list[Path | None] = []
        self.ready = threading.Condition()
        self.error: BaseException | None = None

    def add(self, path: Path | None) -> None:
        with self.ready:
            self.paths.append(path)
            self.ready.notify()

    def run(self) -> None:
        try:
            with zipfile.ZipFile(self.zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6,
                                 allowZip64=True) as archive:
                while True:
                    with self.ready:
                        while not self.paths:
                            self.ready.wait()
                        path = self.paths.pop(0)
                    if path is None:
                        return
                    info = zipfile.ZipInfo(path.name, date_time=self.stamp.timetuple()[:6])
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    with path.open("rb") as src, archive.open(info, "w", force_zip64=True) as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except BaseException as exc:  # handed to the writer in write_dataset
            self.error = exc


def fingerprint(spec: BillSpec) -> str:
    """Changes when the spec or this generator changes (then kept data is made again)."""
    blob = json.dumps(asdict(spec), sort_keys=True).encode() + Path(__file__).read_bytes()
    return hashlib.sha256(blob).hexdigest()[:16]


def write_dataset(spec: BillSpec, root: Path, *, log: Any = None) -> Dataset:
    """Generate ``spec``'s month under ``root`` (plain CSVs, the zip, expected results), replacing any."""
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    header = real_header()
    names = spec.member_names()
    plain_dir = root / "plain" / spec.yyyymm / SNAPSHOT
    zip_dir = root / "zip" / spec.yyyymm / SNAPSHOT
    plain_dir.mkdir(parents=True)
    zip_dir.mkdir(parents=True)
    zip_path = zip_dir / f"{spec.stem}.zip"
    zipper = _Zipper(zip_path.with_name(".tmp-" + zip_path.name), datetime.strptime(SNAPSHOT, "%Y%m%d%H%M%S"))
    zipper.start()
    expected = Expected()
    instances: list[Instance] = []
    lines = generate(spec, header, expected, instances)
    head_text = io.StringIO()
    csv.writer(head_text, lineterminator="\n").writerow(header)
    head = ("\ufeff" + head_text.getvalue()).encode("utf-8")
    csv_bytes = 0
    try:
        for i, name in enumerate(names):
            limit = spec.rows * (i + 1) // len(names) - spec.rows * i // len(names)
            path = plain_dir / name
            with path.open("wb") as out:
                out.write(head)
                batch: list[bytes] = []
                for written, line in enumerate(lines, 1):
                    batch.append(line)
                    if len(batch) == 4096 or written == limit:
                        batch.append(b"")
                        out.write(b"\n".join(batch))
                        batch = []
                    if written == limit:
                        break
            csv_bytes += path.stat().st_size
            zipper.add(path)
            if log:
                log(f"wrote {name} ({path.stat().st_size / 2**20:,.0f} MB)")
        if next(lines, None) is not None:
            raise AssertionError("rows left after the last member")
    finally:
        zipper.add(None)
        zipper.join()
    if zipper.error is not None:
        raise zipper.error
    zipper.zip_path.replace(zip_path)
    grain = expected.grain_rows(spec, instances)
    with (root / "expected_grain.jsonl").open("w", encoding="utf-8") as out:
        for row in grain:
            out.write(json.dumps({k: plain(v) if isinstance(v, Decimal) else v for k, v in row.items()},
                                 ensure_ascii=False) + "\n")
    summary = summarize(grain)
    summary.update(rows=expected.rows, rows_model_studio=expected.rows_model_studio,
                   rows_other_product=expected.rows_other_product, rows_free_quota=expected.rows_free_quota,
                   rows_discounted=expected.rows_discounted, instances=len(instances),
                   other_product_payable=plain(from_units(expected.other_product_payable)))
    seconds = time.perf_counter() - started
    meta = {"fingerprint": fingerprint(spec), "spec": asdict(spec), "csv_bytes": csv_bytes,
            "zip_bytes": zip_path.stat().st_size, "generate_seconds": round(seconds, 2), "expected": summary}
    (root / "dataset.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return Dataset(spec, root, csv_bytes, zip_path.stat().st_size, summary, seconds)


def load_dataset(spec: BillSpec, root: Path) -> Dataset | None:
    """The dataset under ``root`` if it was made from ``spec`` by this generator and is complete."""
    meta_path = root / "dataset.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    dataset = Dataset(spec, root, meta["csv_bytes"], meta["zip_bytes"], meta["expected"], None)
    if meta.get("fingerprint") != fingerprint(spec) or not dataset.zip_path.exists():
        return None
    if sum(p.stat().st_size for p in dataset.csv_paths if p.exists()) != meta["csv_bytes"]:
        return None
    return dataset


def summarize(grain: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals from grain rows (the same roll-up is applied to every contender's output)."""
    def add(table: dict[str, Decimal], key: str, value: Decimal) -> None:
        table[key] = table.get(key, Decimal(0)) + value

    totals: dict[str, dict[str, Decimal]] = {name: {} for name in AMOUNTS}
    by: dict[str, dict[str, Decimal]] = {name: {} for name in
                                         ("account_id", "workspace_id", "api_key_id", "model", "channel",
                                          "fee_type", "billing_date")}
    usage_by_unit: dict[str, Decimal] = {}
    lines = 0
    for row in grain:
        for name in AMOUNTS:
            add(totals[name], row["currency"], row[name])
        for name, table in by.items():
            add(table, row[name], row["billed_cost"])
        add(usage_by_unit, row["usage_unit"], row["usage"])
        lines += row["line_count"]

    def text(table: dict[str, Decimal]) -> dict[str, str]:
        return {k: plain(v) for k, v in sorted(table.items())}

    return {
        "groups": len(grain),
        "line_count": lines,
        **{name: text(table) for name, table in totals.items()},
        "usage_by_unit": text(usage_by_unit),
        **{f"billed_cost_by_{name.removesuffix('_id')}": text(table) for name, table in by.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True, help="folder for the dataset (replaced)")
    parser.add_argument("--member-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    spec = BillSpec(rows=args.rows, member_rows=args.member_rows, seed=args.seed)
    dataset = write_dataset(spec, Path(args.out), log=lambda text: print(text, file=sys.stderr))
    print(json.dumps({"csv_bytes": dataset.csv_bytes, "zip_bytes": dataset.zip_bytes,
                      "seconds": round(dataset.generate_seconds or 0, 2), **dataset.expected},
                     ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
