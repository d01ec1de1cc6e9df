"""The one column vocabulary of the warehouse (lower_snake_case, FOCUS names where one fits).

Provider column names appear only in ``chargeback.bills.headers``; everything after the reader speaks these.
"""

from __future__ import annotations

# Dimensions of a normalized bill line, in output order. All strings; '' where the bill has nothing.
LINE_DIMENSIONS: tuple[str, ...] = (
    "billing_month",  # YYYY-MM
    "billing_date",  # YYYY-MM-DD
    "account_id",  # the UID that owns (uses) the resource: a member account of a consolidated bill
    "account_name",  # its name (login name), '' when the bill names none
    "payer_account_id",  # the UID that pays: the bill's purchase account, else the UID in the file name
    "payer_account_name",  # its name (v2 资源购买账号, legacy 账号), '' when the bill names none
    "product_code",  # 'sfm' for Model Studio
    "commodity_code",  # e.g. sfm_inference_public_cn
    "billing_item",  # e.g. token_number, image_number, video_duration
    "instance_id",  # the raw Model Studio instance ID
    "workspace_id",
    "api_key_id",  # '' for console calls
    "model",
    "usage_type",  # the raw 4th segment, e.g. context_0-256k_input_token
    "io_type",  # input | output | cached_input | cache_write | unit (images, seconds, ...) | other (unknown)
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
    "tags",  # the resource's tags, 'key=value' pairs sorted and joined by ';' ('' when none)
    "resource_group",  # 资源组 / ResourceGroup
    "cost_unit",  # 财务单元 / CostUnit: the bill's own cost allocation unit
)

# Marks of the usage type, booleans (``chargeback.bills.instance_id.classify_usage_type``).
LINE_FLAGS: tuple[str, ...] = (
    "batch",  # a batch call (input_token_batch, output_token_batch)
    "thinking",  # output in thinking mode (thinking_output_token)
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
    # the subscription deduction (savings plans, resource packs, Token Plan credits; bill-formats.md 3.5)
    "commitment_list_cost",  # v2 订阅抵扣目录总价: the list value of the usage a plan covered
    "commitment_after_deduction",  # v2 订阅抵扣后金额: the amount left after the plan's deduction
    "commitment_deducted",  # v2 订阅抵扣金额, legacy 资源包抵扣: the amount the plan deducted
)

LINE_COUNT = "line_count"  # how many source bill lines make up the normalized line

LINE_COLUMNS: tuple[str, ...] = (*LINE_DIMENSIONS, *LINE_FLAGS, *LINE_AMOUNTS, LINE_COUNT)

# Allocation adds who pays and why.
ALLOCATION_EXTRA: tuple[str, ...] = ("cost_center", "allocation_rule", "share")

COST_CENTER_PATH = "cost_center_path"  # the cost center under its parents: 'company/platform/search'
REPORTING_CURRENCY = "reporting_currency"  # the configured reporting currency, else the bill's currency
REPORTING_BILLED_COST = "reporting_billed_cost"  # billed_cost in the reporting currency (exact, 12 decimals)

# Every exact amount of an allocation row: the line's, what prepaid plans covered and cost, and the billed cost in
# the reporting currency.
ALLOCATION_AMOUNTS: tuple[str, ...] = (*LINE_AMOUNTS, "commitment_covered_cost", "effective_cost",
                                       REPORTING_BILLED_COST)

ALLOCATION_COLUMNS: tuple[str, ...] = (
    "billing_month",
    "billing_date",
    "account_id",
    "account_name",
    "payer_account_id",
    "payer_account_name",
    "workspace_id",
    "api_key_id",
    "model",
    "usage_type",
    "io_type",
    "context_tier",
    "batch",
    "thinking",
    "channel",
    "call_source",
    "billing_item",
    "commodity_code",
    "region",
    "fee_type",
    "tags",
    "resource_group",
    "cost_unit",
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
    "commitment_list_cost",
    "commitment_after_deduction",
    "commitment_deducted",
    "commitment_covered_cost",  # the list value a prepaid plan covered (chargeback.allocation.prepaid)
    "effective_cost",  # billed plus the plan's amortized cost of the row
    "cost_center",
    "cost_center_path",
    "allocation_rule",
    "share",
    "line_count",
    "reporting_currency",
    "reporting_billed_cost",
)

# What the published tables (lines/, allocations/) add beside ``usage_unit``, so a query sums usage without
# knowing the bill's units: the quantity used, free quota included (``usage`` plus ``deducted_usage``, as
# ``chargeback costs`` counts it), as whole tokens for token units and in a normalized unit for the rest.
TOKENS = "tokens"  # bigint: whole tokens (千tokens x 1,000, half to even); null where the unit counts no tokens
USAGE_QUANTITY = "usage_quantity"  # decimal: images, seconds, characters...; null for tokens and unknown units
USAGE_UNIT_NORMALIZED = "usage_unit_normalized"  # image | second | character; null where usage_quantity is
USAGE_MEASURES: tuple[str, ...] = (TOKENS, USAGE_QUANTITY, USAGE_UNIT_NORMALIZED)
BILLING_DATE = "billing_date"  # text (YYYY-MM-DD) inside the pipeline, a DATE in the published tables


def published(columns: tuple[str, ...]) -> tuple[str, ...]:
    """A table's columns as published: ``USAGE_MEASURES`` right after ``usage_unit``."""
    at = columns.index("usage_unit") + 1
    return (*columns[:at], *USAGE_MEASURES, *columns[at:])


PUBLISHED_LINE_COLUMNS: tuple[str, ...] = published(LINE_COLUMNS)
PUBLISHED_ALLOCATION_COLUMNS: tuple[str, ...] = published(ALLOCATION_COLUMNS)

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

# What ``allocation_rule`` says decided who pays for a row (chargeback.allocation.allocate):
RULE_USAGE_SPLIT = "usage_split"  # a consumer's share of a shared key, by the key's usage file
RULE_USAGE_SPLIT_UNKNOWN = "usage_split:unknown"  # the share of consumers that map to no cost center: the key's own
RULE_PREFIX = "rule:"  # rule:<position> (1-based) or rule:<name>: the first rule that matched
RULE_API_KEY = "api_key"  # the API key's cost center (api_keys, api_keys_file)
RULE_WORKSPACE = "workspace"  # the workspace's cost center
RULE_UNALLOCATED = UNALLOCATED  # nobody
POOLS = ("console", "unmapped")  # <pool>:<even|proportional|fixed>: a share of a pool split by shared_costs


def is_attributed(rule: str) -> bool:
    """Whether ``allocation_rule`` says the mapping named who pays for the row itself: a usage split, a rule or
    the API key (not a workspace's fallback, a pool or nobody)."""
    return rule == RULE_API_KEY or rule.startswith((RULE_PREFIX, RULE_USAGE_SPLIT))


def is_pool_share(rule: str) -> bool:
    """Whether ``allocation_rule`` names a share of a pool (``console:proportional``, ``unmapped:fixed``)."""
    return rule.partition(":")[0] in POOLS
