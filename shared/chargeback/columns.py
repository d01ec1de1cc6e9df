"""The one column vocabulary of the warehouse (lower_snake_case, FOCUS names where one fits).

Provider column names appear only in ``chargeback.bills.headers``; everything after the reader speaks these.
"""

from __future__ import annotations

# Dimensions of a normalized bill line, in output order. All strings; '' where the bill has nothing.
LINE_DIMENSIONS: tuple[str, ...] = (
    "billing_month",  # YYYY-MM
    "billing_date",  # YYYY-MM-DD
    "account_id",  # the UID that owns (uses) the resource: a member account of a consolidated bill
    "payer_account_id",  # the UID that pays: the bill's purchase account, else the UID in the file name
    "product_code",  # 'sfm' for Model Studio
    "commodity_code",  # e.g. sfm_inference_public_cn
    "billing_item",  # e.g. token_number, image_number, video_duration
    "instance_id",  # the raw Model Studio instance ID
    "workspace_id",
    "api_key_id",  # '' for console calls
    "model",
    "usage_type",  # the raw 4th segment, e.g. context_0-256k_input_token
    "io_type",  # input | output | cached_input | unit (images, seconds, ...) | other
    "context_tier",  # e.g. 0-256k, '' when untiered
    "channel",  # the raw 5th segment: '', bmp, app, assistant-api, ...
    "call_source",  # console | api | assistant_api | the raw channel when unknown
    "free_quota_stop",  # the 6th segment ('' when the ID has five)
    "fee_type",  # pay_as_you_go | free_quota | the raw value when unknown
    "currency",
    "usage_unit",
    "list_unit_price",  # the bill's list price per usage unit, as text
    "price_unit",
    "region",
)

# Exact amounts, decimal128(38, 12) in Arrow, Decimal in Python.
LINE_AMOUNTS: tuple[str, ...] = (
    "usage",  # billed usage after free quota / packs
    "usage_before_deduction",
    "deducted_usage",  # covered by free quota or resource packs
    "list_cost",  # list price x usage (before discounts)
    "discount",
    "coupon",
    "billed_cost",  # payable: the money allocated
)

LINE_COUNT = "line_count"  # how many source bill lines make up the normalized line

LINE_COLUMNS: tuple[str, ...] = (*LINE_DIMENSIONS, *LINE_AMOUNTS, LINE_COUNT)

# Allocation adds who pays and why.
ALLOCATION_EXTRA: tuple[str, ...] = ("cost_center", "allocation_rule", "share")

ALLOCATION_COLUMNS: tuple[str, ...] = (
    "billing_month",
    "billing_date",
    "account_id",
    "payer_account_id",
    "workspace_id",
    "api_key_id",
    "model",
    "usage_type",
    "io_type",
    "context_tier",
    "channel",
    "call_source",
    "billing_item",
    "commodity_code",
    "fee_type",
    "currency",
    "usage",
    "usage_before_deduction",
    "deducted_usage",
    "usage_unit",
    "list_unit_price",
    "list_cost",
    "discount",
    "coupon",
    "billed_cost",
    "cost_center",
    "allocation_rule",
    "share",
    "line_count",
)

# The month's cost summary (costs/): allocation rows summed over the month's days, what `chargeback costs` and
# the dashboard read. Its grain: every dimension a cost question groups or filters by, except the day.
COST_DIMENSIONS: tuple[str, ...] = (
    "billing_month",
    "account_id",
    "workspace_id",
    "api_key_id",
    "model",
    "usage_type",
    "io_type",
    "call_source",
    "channel",
    "fee_type",
    "commodity_code",
    "billing_item",
    "currency",
    "cost_center",
    "usage_unit",
)
COST_AMOUNTS: tuple[str, ...] = (
    "billed_cost",
    "list_cost",
    "discount",
    "coupon",
    "free_quota_covered",  # free-quota usage valued at list price (the bill's, else the price catalog's)
    "usage",
    "deducted_usage",
)
COST_COUNTS: tuple[str, ...] = (
    "tokens",  # tokens used, free quota included (token units only; others count 0)
    "free_quota_unvalued_lines",  # free-quota bill lines without a list price, not in free_quota_covered
    "line_count",
)
COST_COLUMNS: tuple[str, ...] = (*COST_DIMENSIONS, *COST_AMOUNTS, *COST_COUNTS)

# What `chargeback costs --by` and `--where` name: every allocation dimension (commodity_code tells model
# inference, sfm_inference..., from Model Studio's other services). cost_center_path is the cost
# center's place in a hierarchy ('company/platform/search'); a table without it reads it as the cost center.
QUERY_DIMENSIONS: tuple[str, ...] = (
    "cost_center",
    "cost_center_path",
    "account_id",
    "workspace_id",
    "api_key_id",
    "model",
    "usage_type",
    "io_type",
    "call_source",
    "channel",
    "fee_type",
    "commodity_code",
    "billing_item",
    "billing_date",
    "billing_month",
    "currency",
)

UNALLOCATED = "unallocated"
MODEL_STUDIO_PRODUCT = "sfm"
