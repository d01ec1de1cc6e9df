"""Bill header dialects: which provider column holds each field we read (the only place they are named).

Four dialects: v2 (consumeDetailBillV2) with Chinese ``分组/字段`` or English ``Group/Field`` headers, and the
legacy BillingItemDetail file with Chinese headers or English API field names. Headers are matched by name
after normalisation (BOM, spaces, case, full-width parentheses), never by position; extra columns are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# canonical field -> (required?, candidate header names)
_V2: dict[str, tuple[bool, tuple[str, ...]]] = {
    "line_id": (False, ("标识信息/账单明细ID", "LineItemDetails/BillLineItemId", "LineItemDetails/LineItemId",
                        "LineItemDetails/BillDetailId", "LineItemDetails/BillingItemDetailId")),
    "billing_month": (True, ("账单信息/账单月份", "BillingDetails/BillingMonth")),
    "billing_date": (True, ("账单信息/账单日期", "BillingDetails/BillingDate")),
    "fee_type": (False, ("账单信息/费用类型", "BillingDetails/LineItemType")),
    # who uses the resource (a member account of a consolidated bill), and who bought it: the payer
    "account_id": (False, ("身份信息/资源归属账号ID", "IdentityDetails/ResourceOwnerAccountId")),
    "payer_account_id": (False, ("身份信息/资源购买账号ID", "IdentityDetails/ResourcePurchaseAccountId")),
    # their names (login names): the display names of the accounts
    "account_name": (False, ("身份信息/资源归属账号", "IdentityDetails/ResourceOwnerAccount",
                             "IdentityDetails/ResourceOwnerAccountName")),
    "payer_account_name": (False, ("身份信息/资源购买账号", "IdentityDetails/ResourcePurchaseAccount",
                                   "IdentityDetails/ResourcePurchaseAccountName")),
    "product_code": (True, ("产品信息/产品Code", "ProductDetails/ProductCode")),
    "commodity_code": (False, ("产品信息/商品Code", "ProductDetails/CommodityCode")),
    "billing_item": (False, ("产品信息/计费项Code", "ProductDetails/BillingItemCode")),
    "instance_id": (True, ("资源信息/实例ID（出账粒度）", "资源信息/实例ID", "ResourceDetails/InstanceId")),
    "region": (False, ("资源信息/地域Code", "ResourceDetails/RegionCode")),
    "usage_detail": (False, ("用量信息/用量详情", "UsageDetails/UsageDetail", "UsageDetails/UsageDetails")),
    "usage_before_deduction": (False, ("用量信息/抵扣前用量", "UsageDetails/UsageBeforeDeduction",
                                       "UsageDetails/PreDeductionUsage")),
    "deducted_usage": (False, ("用量信息/抵扣用量", "UsageDetails/DeductedUsage", "UsageDetails/DeductionUsage")),
    "usage": (False, ("用量信息/用量", "UsageDetails/Usage")),
    "usage_unit": (False, ("用量信息/用量单位", "UsageDetails/UsageUnit")),
    "list_unit_price": (False, ("定价信息/官网目录价", "PricingDetails/ListPrice", "PricingDetails/UnitPrice")),
    "price_unit": (False, ("定价信息/价格单位", "PricingDetails/ListPriceUnit", "PricingDetails/PriceUnit")),
    "currency": (False, ("定价信息/定价币种", "PricingDetails/Currency", "BillingDetails/Currency")),
    "list_cost": (False, ("费用信息/目录总价", "FeeDetails/GrossAmount", "FeeDetails/ListPriceAmount")),
    "discount": (False, ("优惠信息/优惠金额", "DiscountDetails/DiscountAmount")),
    "coupon": (False, ("优惠券抵扣信息/优惠券抵扣金额", "CouponDeductionDetails/CouponDeductionAmount",
                       "CouponDetails/DeductedByCoupons")),
    "billed_cost": (True, ("应付信息/应付金额（含税）", "PayableDetails/PayableAmount",
                           "PayableDetails/TaxInclusivePayableAmount", "PayableDetails/TaxExclusivePayableAmount")),
}

_LEGACY: dict[str, tuple[bool, tuple[str, ...]]] = {
    "billing_month": (True, ("账期", "BillingCycle")),
    "billing_date": (True, ("账单开始时间", "消费时间", "UsageStartTime", "PaymentTime", "BillingDate")),
    "fee_type": (False, ("费用类型", "LineItemType", "CostType")),
    # the account the bill belongs to (the payer), and the resource's owner (OwnerID; a UID, or in some exports
    # the owner's login name, which the reader cannot use as an account ID)
    "account_id": (False, ("Owner账号", "OwnerID", "OwnerId")),
    "payer_account_id": (False, ("账号ID", "AccountID", "AccountId")),
    "payer_account_name": (False, ("账号", "AccountName")),
    "product_code": (True, ("产品Code", "ProductCode")),
    "commodity_code": (False, ("产品明细Code", "ProductType", "CommodityCode")),
    "billing_item": (False, ("计费项", "BillingItem", "BillingItemCode")),
    "instance_id": (True, ("实例ID", "InstanceID", "InstanceId")),
    "region": (False, ("地域", "Region")),
    "usage": (False, ("用量", "Usage")),
    "usage_unit": (False, ("用量单位", "UsageUnit")),
    "list_unit_price": (False, ("单价", "ListPrice")),
    "price_unit": (False, ("单价单位", "ListPriceUnit")),
    "currency": (False, ("币种", "Currency")),
    "list_cost": (False, ("原价", "PretaxGrossAmount")),
    "discount": (False, ("优惠金额", "InvoiceDiscount")),
    "coupon": (False, ("优惠券抵扣", "DeductedByCoupons")),
    "billed_cost": (True, ("应付金额", "PretaxAmount")),
}

AMOUNT_FIELDS = ("usage", "usage_before_deduction", "deducted_usage", "list_cost", "discount", "coupon",
                 "billed_cost")


def normalise_header(name: str) -> str:
    """Comparable form of a header cell: no BOM or spaces, ASCII parentheses, lower case."""
    name = name.replace("\ufeff", "").replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", name).lower()


@dataclass(frozen=True)
class HeaderMap:
    """Which column of a file holds each canonical field."""

    dialect: str  # v2 | legacy
    language: str  # zh | en
    columns: dict[str, str]  # canonical field -> the file's own header cell

    def column(self, field: str) -> str | None:
        return self.columns.get(field)


def map_header(header: list[str]) -> tuple[HeaderMap | None, list[str]]:
    """Map a header row; returns (map, missing required fields) or (None, []) if no dialect fits at all.

    Both dialects are tried; the one that finds more of its columns wins.
    """
    normalised = {normalise_header(h): h for h in header}
    best: tuple[int, HeaderMap, list[str]] | None = None
    for dialect, table in (("v2", _V2), ("legacy", _LEGACY)):
        columns: dict[str, str] = {}
        missing: list[str] = []
        for field, (required, candidates) in table.items():
            for candidate in candidates:
                actual = normalised.get(normalise_header(candidate))
                if actual is not None:
                    columns[field] = actual
                    break
            else:
                if required:
                    missing.append(f"{field} ({' or '.join(candidates[:2])})")
        language = "zh" if any(re.search(r"[\u4e00-\u9fff]", h) for h in columns.values()) else "en"
        score = len(columns) - 2 * len(missing)
        if columns and (best is None or score > best[0]):
            best = (score, HeaderMap(dialect, language, columns), missing)
    if best is None:
        return None, []
    return best[1], best[2]
