"""Bill header dialects: which provider column holds each field we read (the only place they are named).

Four dialects: v2 (consumeDetailBillV2) with Chinese ``分组/字段`` or English ``Group/Field`` headers, and the
legacy BillingItemDetail file with Chinese headers or English API field names. Headers are matched by name
after normalisation (BOM, spaces, case, full-width parentheses), never by position; extra columns are ignored.

Each field lists its candidate names in tiers: the names of one tier are synonyms (a Chinese name and its
English one), an earlier tier is preferred over a later one (the billing-grain instance ID over the plain
one, the payable with tax over the payable without). A header that holds two names of one tier for a field,
or one read column twice (``应付金额（含税）`` and ``应付金额(含税)`` are one column), is ambiguous: an error naming
the columns, never a silent choice. The map records every field's column position, so the readers address
columns by position and a duplicated column that nothing reads does no harm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chargeback.errors import InputError

Tiers = tuple[tuple[str, ...], ...]

# canonical field -> (required?, candidate names by tier)
_V2: dict[str, tuple[bool, Tiers]] = {
    "line_id": (False, (("标识信息/账单明细ID", "LineItemDetails/BillLineItemId"), ("LineItemDetails/LineItemId",),
                        ("LineItemDetails/BillDetailId",), ("LineItemDetails/BillingItemDetailId",))),
    "billing_month": (True, (("账单信息/账单月份", "BillingDetails/BillingMonth"),)),
    "billing_date": (True, (("账单信息/账单日期", "BillingDetails/BillingDate"),)),
    "fee_type": (False, (("账单信息/费用类型", "BillingDetails/LineItemType"),)),
    # who uses the resource (a member account of a consolidated bill), and who bought it: the payer
    "account_id": (False, (("身份信息/资源归属账号ID", "IdentityDetails/ResourceOwnerAccountId"),)),
    "payer_account_id": (False, (("身份信息/资源购买账号ID", "IdentityDetails/ResourcePurchaseAccountId"),)),
    # their names (login names): the display names of the accounts
    "account_name": (False, (("身份信息/资源归属账号", "IdentityDetails/ResourceOwnerAccount"),
                             ("IdentityDetails/ResourceOwnerAccountName",))),
    "payer_account_name": (False, (("身份信息/资源购买账号", "IdentityDetails/ResourcePurchaseAccount"),
                                   ("IdentityDetails/ResourcePurchaseAccountName",))),
    "cost_unit": (False, (("身份信息/财务单元", "IdentityDetails/CostUnit"),
                          ("资源信息/财务单元", "ResourceDetails/CostUnit"),
                          ("分账信息/财务单元", "SplitDetails/CostUnit"))),
    "product_code": (True, (("产品信息/产品Code", "ProductDetails/ProductCode"),)),
    "commodity_code": (False, (("产品信息/商品Code", "ProductDetails/CommodityCode"),)),
    "billing_item": (False, (("产品信息/计费项Code", "ProductDetails/BillingItemCode"),)),
    "instance_id": (True, (("资源信息/实例ID（出账粒度）", "ResourceDetails/InstanceId"), ("资源信息/实例ID",))),
    "region": (False, (("资源信息/地域Code", "ResourceDetails/RegionCode"),)),
    "resource_group": (False, (("资源信息/资源组", "ResourceDetails/ResourceGroup"),)),
    "tags": (False, (("资源信息/资源标签", "ResourceDetails/ResourceTag"), ("资源信息/实例标签", "ResourceDetails/Tag"),
                     ("资源信息/标签",))),
    "usage_detail": (False, (("用量信息/用量详情", "UsageDetails/UsageDetail"), ("UsageDetails/UsageDetails",))),
    "usage_before_deduction": (False, (("用量信息/抵扣前用量", "UsageDetails/UsageBeforeDeduction"),
                                       ("UsageDetails/PreDeductionUsage",))),
    "deducted_usage": (False, (("用量信息/抵扣用量", "UsageDetails/DeductedUsage"), ("UsageDetails/DeductionUsage",))),
    "usage": (False, (("用量信息/用量", "UsageDetails/Usage"),)),
    "usage_unit": (False, (("用量信息/用量单位", "UsageDetails/UsageUnit"),)),
    "list_unit_price": (False, (("定价信息/官网目录价", "PricingDetails/ListPrice"), ("PricingDetails/UnitPrice",))),
    "price_unit": (False, (("定价信息/价格单位", "PricingDetails/ListPriceUnit"), ("PricingDetails/PriceUnit",))),
    "currency": (False, (("定价信息/定价币种", "PricingDetails/Currency"), ("BillingDetails/Currency",))),
    "list_cost": (False, (("费用信息/目录总价", "FeeDetails/GrossAmount"), ("FeeDetails/ListPriceAmount",))),
    # subscription deduction (savings plans, resource packs): bill-formats.md 2.3 and 3.5; English names inferred
    "commitment_list_cost": (False, (("订阅抵扣信息/订阅抵扣目录总价",
                                      "SubscriptionDeductionDetails/SubscriptionDeductionListPriceAmount"),)),
    "commitment_after_deduction": (False, (("订阅抵扣信息/订阅抵扣后金额",
                                            "SubscriptionDeductionDetails/AfterSubscriptionDeductionAmount"),)),
    "commitment_deducted": (False, (("订阅抵扣信息/订阅抵扣金额",
                                     "SubscriptionDeductionDetails/SubscriptionDeductionAmount"),)),
    "discount": (False, (("优惠信息/优惠金额", "DiscountDetails/DiscountAmount"),)),
    "coupon": (False, (("优惠券抵扣信息/优惠券抵扣金额", "CouponDeductionDetails/CouponDeductionAmount"),
                       ("CouponDetails/DeductedByCoupons",))),
    "billed_cost": (True, (("应付信息/应付金额（含税）", "PayableDetails/PayableAmount"),
                           ("PayableDetails/TaxInclusivePayableAmount",),
                           ("PayableDetails/TaxExclusivePayableAmount",))),
}

_LEGACY: dict[str, tuple[bool, Tiers]] = {
    "billing_month": (True, (("账期", "BillingCycle"),)),
    "billing_date": (True, (("账单开始时间", "UsageStartTime"), ("消费时间", "PaymentTime"), ("BillingDate",))),
    "fee_type": (False, (("费用类型", "LineItemType"), ("CostType",))),
    # the account the bill belongs to (the payer), and the resource's owner (OwnerID; a UID, or in some exports
    # the owner's login name, which the reader cannot use as an account ID)
    "account_id": (False, (("Owner账号", "OwnerID"), ("OwnerId",))),
    "payer_account_id": (False, (("账号ID", "AccountID"), ("AccountId",))),
    "payer_account_name": (False, (("账号", "AccountName"),)),
    "cost_unit": (False, (("财务单元", "CostUnit"),)),
    "product_code": (True, (("产品Code", "ProductCode"),)),
    "commodity_code": (False, (("产品明细Code", "CommodityCode"), ("ProductType",))),
    "billing_item": (False, (("计费项", "BillingItem"), ("BillingItemCode",))),
    "instance_id": (True, (("实例ID", "InstanceID"), ("InstanceId",))),
    "region": (False, (("地域", "Region"),)),
    "resource_group": (False, (("资源组", "ResourceGroup"),)),
    "tags": (False, (("实例标签", "Tag"), ("Tags",))),
    "usage": (False, (("用量", "Usage"),)),
    "usage_unit": (False, (("用量单位", "UsageUnit"),)),
    "list_unit_price": (False, (("单价", "ListPrice"),)),
    "price_unit": (False, (("单价单位", "ListPriceUnit"),)),
    "currency": (False, (("币种", "Currency"),)),
    "list_cost": (False, (("原价", "PretaxGrossAmount"),)),
    "commitment_deducted": (False, (("资源包抵扣", "DeductedByResourcePackage"),)),
    "discount": (False, (("优惠金额", "InvoiceDiscount"),)),
    "coupon": (False, (("优惠券抵扣", "DeductedByCoupons"),)),
    "billed_cost": (True, (("应付金额", "PretaxAmount"),)),
}

AMOUNT_FIELDS = ("usage", "usage_before_deduction", "deducted_usage", "list_cost", "discount", "coupon",
                 "billed_cost", "commitment_list_cost", "commitment_after_deduction", "commitment_deducted")
"""The exact amounts of a line (summed); every other field read is text."""

TEXT_FIELDS = ("billing_month", "billing_date", "fee_type", "account_id", "account_name", "payer_account_id",
               "payer_account_name", "cost_unit", "product_code", "commodity_code", "billing_item", "instance_id",
               "region", "resource_group", "tags", "usage_unit", "list_unit_price", "price_unit", "currency")
"""The text fields of a line the readers group by, raw as the bill writes them ('' where a bill has none)."""


def normalise_header(name: str) -> str:
    """Comparable form of a header cell: no BOM or spaces, ASCII parentheses, lower case."""
    name = name.replace("\ufeff", "").replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", name).lower()


@dataclass(frozen=True)
class HeaderMap:
    """Which column of a file holds each canonical field, by header cell and by position."""

    dialect: str  # v2 | legacy
    language: str  # zh | en
    columns: dict[str, str]  # canonical field -> the file's own header cell
    positions: dict[str, int]  # canonical field -> 0-based column position
    width: int  # how many columns the header has

    def column(self, field: str) -> str | None:
        return self.columns.get(field)


def _match(header: list[str], table: dict[str, tuple[bool, Tiers]]
           ) -> tuple[dict[str, int], list[str], list[str]]:
    """(field -> position, missing required fields, ambiguities) of one dialect."""
    where: dict[str, list[int]] = {}
    for position, cell in enumerate(header):
        where.setdefault(normalise_header(cell), []).append(position)
    positions: dict[str, int] = {}
    missing: list[str] = []
    ambiguous: list[str] = []
    for field, (required, tiers) in table.items():
        for tier in tiers:
            found = sorted({p for name in tier for p in where.get(normalise_header(name), [])})
            if len(found) > 1:
                cells = " and ".join(f"'{header[p]}' (column {p + 1})" for p in found)
                ambiguous.append(f"{field}: {cells}")
            if found:
                positions[field] = found[0]
                break
        else:
            if required:
                missing.append(f"{field} ({' or '.join(tiers[0][:2])})")
    return positions, missing, ambiguous


def map_header(header: list[str]) -> tuple[HeaderMap | None, list[str]]:
    """Map a header row; returns (map, missing required fields) or (None, []) if no dialect fits at all.

    Both dialects are tried; the one that finds more of its columns wins. InputError (no source: the caller
    adds it) when the winning dialect finds a field in two columns.
    """
    best: tuple[int, HeaderMap, list[str], list[str]] | None = None
    for dialect, table in (("v2", _V2), ("legacy", _LEGACY)):
        positions, missing, ambiguous = _match(header, table)
        columns = {field: header[p] for field, p in positions.items()}
        language = "zh" if any(re.search(r"[\u4e00-\u9fff]", h) for h in columns.values()) else "en"
        score = len(columns) - 2 * len(missing)
        if columns and (best is None or score > best[0]):
            best = (score, HeaderMap(dialect, language, columns, positions, len(header)), missing, ambiguous)
    if best is None:
        return None, []
    if best[3]:
        raise InputError(f"ambiguous header: {'; '.join(best[3])}: keep one column of each", line=1)
    return best[1], best[2]


__all__ = ["AMOUNT_FIELDS", "TEXT_FIELDS", "HeaderMap", "map_header", "normalise_header"]
