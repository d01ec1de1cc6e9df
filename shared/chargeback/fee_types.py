"""Fee types: the bill's 费用类型 (v2 ``LineItemType``, legacy ``CostType``) in the warehouse's words.

Model Studio bills carry two (bill-formats.md 2.3): ``云资源按量费用`` (pay-as-you-go) and ``免费额度`` (usage
covered by free quota: list price and payable 0). Every table stores ``pay_as_you_go``, ``free_quota`` or,
for a fee type this table does not know, the bill's own word (never guessed).
"""

from __future__ import annotations

PAY_AS_YOU_GO = "pay_as_you_go"
FREE_QUOTA = "free_quota"
BILL_PAY_AS_YOU_GO = "云资源按量费用"  # what v2 bills write (bill-formats.md 2.3, column 10)
BILL_FREE_QUOTA = "免费额度"

# The bill's spellings, compared without case or surrounding spaces. An empty cell is pay-as-you-go: the
# legacy English header has no fee-type column at all, and only free quota is marked.
FEE_TYPES: dict[str, str] = {
    BILL_PAY_AS_YOU_GO: PAY_AS_YOU_GO,
    "按量付费": PAY_AS_YOU_GO,
    "后付费": PAY_AS_YOU_GO,
    "payasyougo": PAY_AS_YOU_GO,
    "pay-as-you-go": PAY_AS_YOU_GO,
    PAY_AS_YOU_GO: PAY_AS_YOU_GO,
    "": PAY_AS_YOU_GO,
    BILL_FREE_QUOTA: FREE_QUOTA,
    "freequota": FREE_QUOTA,
    "free quota": FREE_QUOTA,
    FREE_QUOTA: FREE_QUOTA,
}


def fee_type(raw: str) -> str:
    """The warehouse's fee type of a bill's 费用类型 cell ('免费额度' -> 'free_quota'); unknown ones stay as written."""
    text = raw.strip()
    return FEE_TYPES.get(text.lower(), text)


__all__ = ["BILL_FREE_QUOTA", "BILL_PAY_AS_YOU_GO", "FEE_TYPES", "FREE_QUOTA", "PAY_AS_YOU_GO", "fee_type"]
