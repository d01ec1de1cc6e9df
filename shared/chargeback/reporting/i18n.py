"""The words of a statement in English (default) and Chinese (``locale: zh``).

Templates look every heading up here (a missing key is an error, not a blank); the view builder uses the
label tables for models' token types, call sources and sharing rules. Both locales have the same keys.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from chargeback.months import first_day

Locale = Literal["en", "zh"]
LOCALES: tuple[Locale, ...] = ("en", "zh")

_EN: dict[str, str] = {
    "title": "Model Studio statement",
    "subject": "{name}: Model Studio costs for {period} ({status})",
    "subject_corrected": "Corrected: {name}: Model Studio costs for {period} ({status})",
    "intro": "Model Studio (Qwen) costs allocated to {name} for {period}.",
    "status_provisional": "provisional",
    "status_final": "final",
    "provisional_note": "Provisional: the month's final bill has not arrived yet, so these amounts can "
                        "still change.",
    "final_note": "Final: based on the month's final bill.",
    "restated_title": "Corrected statement",
    "restated_intro": "This statement (version {version}) replaces version {previous_version} sent on "
                      "{sent_at}: the bill for this month changed since then.",
    "restated_total": "Total {currency}",
    "restated_model": "{model} ({currency})",
    "no_costs": "No Model Studio costs were allocated to this cost center for this month.",
    "section": "Costs in {currency}",
    "total": "Total",
    "rows": "Allocation rows: {count}",
    "change_title": "Change against {period}",
    "previous_total": "Previous month",
    "change": "Change",
    "volume": "Volume: more or less usage, at last month's average prices",
    "mix": "Model mix: a shift between cheaper and dearer models and token types",
    "price": "Price: unit prices, discounts and free quota for the same usage",
    "no_previous": "No published data for {period}, so there is no comparison.",
    "chart_title": "Cost by day",
    "chart_alt": "Bar chart of the cost by day in {currency}",
    "day": "Day",
    "amount": "Amount",
    "share": "Share",
    "by_model": "By model",
    "model": "Model",
    "by_io_type": "By token type",
    "io_type": "Type",
    "by_api_key": "By API key (top {top_n})",
    "api_key": "API key",
    "by_call_source": "API or console",
    "call_source": "Source",
    "by_workspace": "By workspace",
    "workspace": "Workspace",
    "unit_costs": "Effective cost per 1,000 tokens",
    "tokens_k": "Tokens (thousands)",
    "per_1k": "Per 1,000 tokens",
    "free_quota": "Free quota",
    "free_used": "Free usage",
    "saved": "Saved at list price",
    "saved_total": "Saved in total",
    "saved_unknown": "unknown (no list price this month)",
    "saved_partial": "not counted: {count} without a list price",
    "no_free_quota": "No free quota was used.",
    "discounts": "Discounts",
    "list_cost": "At list price",
    "discount": "Discounts",
    "coupon": "Coupons",
    "reconciled": "Reconciled: list price less discounts and coupons equals the billed amount exactly.",
    "unreconciled": "Not explained by discounts and coupons",
    "billed": "Payable",
    "shared_costs": "Shared costs received",
    "rule": "Rule",
    "no_shared_costs": "No shared costs were allocated to this cost center.",
    "attachment": "The attached CSV holds the allocation rows behind these figures ({count}).",
    "footer": "Statement {cost_center}, {month}, version {version}. "
              "Mapping {mapping_version}, content {content_hash}.",
    "recipients": "Sent to the owners of {name}.",
    "others": "Others ({count})",
    "console_key": "Console (no API key)",
    "none": "(none)",
}

_ZH: dict[str, str] = {
    "title": "百炼模型费用账单",
    "subject": "{name}：{period} 百炼模型费用（{status}）",
    "subject_corrected": "更正：{name}：{period} 百炼模型费用（{status}）",
    "intro": "{period} 分摊给 {name} 的百炼（通义千问）模型费用。",
    "status_provisional": "暂估",
    "status_final": "最终",
    "provisional_note": "暂估：本月最终账单尚未到达，金额仍可能变化。",
    "final_note": "最终：依据本月最终账单。",
    "restated_title": "更正账单",
    "restated_intro": "本账单（第 {version} 版）取代 {sent_at} 发送的第 {previous_version} 版："
                      "此后本月账单发生了变化。",
    "restated_total": "合计 {currency}",
    "restated_model": "{model}（{currency}）",
    "no_costs": "本月没有分摊给该成本中心的百炼费用。",
    "section": "{currency} 费用",
    "total": "合计",
    "rows": "{count} 条分摊记录",
    "change_title": "与 {period} 相比",
    "previous_total": "上月",
    "change": "变化",
    "volume": "用量影响：按上月平均单价计算的用量增减",
    "mix": "模型结构影响：在较便宜与较贵的模型及 token 类型之间的转移",
    "price": "价格影响：相同用量下单价、优惠和免费额度的变化",
    "no_previous": "{period} 没有已发布的数据，无法比较。",
    "chart_title": "每日费用",
    "chart_alt": "每日费用柱状图（{currency}）",
    "day": "日期",
    "amount": "金额",
    "share": "占比",
    "by_model": "按模型",
    "model": "模型",
    "by_io_type": "按 token 类型",
    "io_type": "类型",
    "by_api_key": "按 API Key（前 {top_n} 个）",
    "api_key": "API Key",
    "by_call_source": "API 与控制台",
    "call_source": "来源",
    "by_workspace": "按业务空间",
    "workspace": "业务空间",
    "unit_costs": "每千 tokens 实际成本",
    "tokens_k": "Tokens（千）",
    "per_1k": "每千 tokens",
    "free_quota": "免费额度",
    "free_used": "免费用量",
    "saved": "按目录价节省",
    "saved_total": "共节省",
    "saved_unknown": "未知（本月无目录价）",
    "saved_partial": "未计入：{count} 项没有目录价",
    "no_free_quota": "本月未使用免费额度。",
    "discounts": "优惠",
    "list_cost": "目录价总额",
    "discount": "优惠金额",
    "coupon": "优惠券抵扣",
    "reconciled": "已核对：目录价减去优惠和优惠券正好等于应付金额。",
    "unreconciled": "优惠和优惠券无法解释的差额",
    "billed": "应付金额",
    "shared_costs": "分摊的共享费用",
    "rule": "分摊规则",
    "no_shared_costs": "没有共享费用分摊给该成本中心。",
    "attachment": "附件 CSV 包含这些数字背后的 {count} 条分摊记录。",
    "footer": "账单 {cost_center}，{month}，第 {version} 版。映射 {mapping_version}，内容 {content_hash}。",
    "recipients": "发送给 {name} 的负责人。",
    "others": "其他（{count} 个）",
    "console_key": "控制台（无 API Key）",
    "none": "（无）",
}

_IO_TYPES = {
    "en": {"input": "Input tokens", "output": "Output tokens", "cached_input": "Cached input tokens",
           "cache_write": "Cache write tokens", "unit": "Other units (images, seconds)", "other": "Other"},
    "zh": {"input": "输入 tokens", "output": "输出 tokens", "cached_input": "缓存命中输入 tokens",
           "cache_write": "缓存写入 tokens", "unit": "其他计量（图片、秒）", "other": "其他"},
}

_CALL_SOURCES = {
    "en": {"api": "API", "console": "Console", "assistant_api": "Assistant API"},
    "zh": {"api": "API", "console": "控制台", "assistant_api": "Assistant API"},
}

_POOLS = {
    "en": {"console": "Console calls (no API key)", "unmapped": "Unmapped API keys and workspaces"},
    "zh": {"console": "控制台调用（无 API Key）", "unmapped": "未映射的 API Key 和业务空间"},
}

_METHODS = {
    "en": {"keep": "kept by the workspace's cost center", "even": "split evenly between cost centers",
           "proportional": "split in proportion to each cost center's own spend",
           "fixed": "split by fixed shares"},
    "zh": {"keep": "由业务空间所属成本中心承担", "even": "在成本中心之间平均分摊",
           "proportional": "按各成本中心自身费用比例分摊", "fixed": "按固定比例分摊"},
}

_FIXED_SHARE = {"en": "{percent}% to this cost center", "zh": "本成本中心承担 {percent}%"}

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")

STRINGS = MappingProxyType({"en": MappingProxyType(_EN), "zh": MappingProxyType(_ZH)})


def strings(locale: str) -> MappingProxyType[str, str]:
    """The words for ``locale``; anything but 'zh' is English."""
    return STRINGS["zh" if locale == "zh" else "en"]


def period_label(month: str, locale: str) -> str:
    """'2026-05' -> 'May 2026' or '2026年5月'."""
    first = first_day(month)
    return f"{first.year}年{first.month}月" if locale == "zh" else f"{_MONTHS_EN[first.month - 1]} {first.year}"


def io_type_label(io_type: str, locale: str) -> str:
    return _IO_TYPES["zh" if locale == "zh" else "en"].get(io_type, io_type or strings(locale)["none"])


def call_source_label(call_source: str, locale: str) -> str:
    table = _CALL_SOURCES["zh" if locale == "zh" else "en"]
    return table.get(call_source, call_source or strings(locale)["none"])


def sharing_rule_label(rule: str, locale: str, fixed_percent: str | None = None) -> str:
    """'console:proportional' -> 'Console calls (no API key): split in proportion to ...'.

    Unknown rules are shown as they are, so a new rule in the pipeline never hides a cost.
    """
    lang = "zh" if locale == "zh" else "en"
    pool, _, method = rule.partition(":")
    if pool not in _POOLS[lang] or method not in _METHODS[lang]:
        return rule
    text = f"{_POOLS[lang][pool]}{'：' if lang == 'zh' else ': '}{_METHODS[lang][method]}"
    if method == "fixed" and fixed_percent is not None:
        text += ("，" if lang == "zh" else ", ") + _FIXED_SHARE[lang].format(percent=fixed_percent)
    return text
