"""The words of statements in English (default) and Chinese (``locale: zh``).

Templates look every heading up here (a missing key is an error, not a blank); the view builders use the
sentences (the change, the reasons of a correction) and the sharing-rule labels. Both locales have the same
keys. Labels of what the bill counts (usage types, units, call sources) live in ``chargeback.labels``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from chargeback.months import first_day

Locale = Literal["en", "zh"]
LOCALES: tuple[Locale, ...] = ("en", "zh")

_EN: dict[str, str] = {
    "title": "Model Studio statement",
    "title_workspace": "Model Studio statement of a workspace",
    "title_rollup": "Model Studio statement, rolled up",
    "title_finance": "Model Studio costs for finance",
    "subject": "{name}: Model Studio costs for {period} ({status})",
    "subject_corrected": "Corrected: {name}: Model Studio costs for {period} ({status})",
    "subject_finance": "Model Studio costs of all cost centers for {period} ({status})",
    "subject_finance_corrected": "Corrected: Model Studio costs of all cost centers for {period} ({status})",
    "intro": "Model Studio (Qwen) costs allocated to {name} for {period}.",
    "intro_workspace": "Model Studio (Qwen) costs of the workspace {name} for {period}, whoever paid for them.",
    "intro_rollup": "Model Studio (Qwen) costs of {name} and the cost centers under it for {period}.",
    "status_provisional": "provisional",
    "status_final": "final",
    "provisional_note": "Provisional: the month's final bill has not arrived yet, so these amounts can "
                        "still change.",
    "final_note": "Final: based on the month's final bill.",
    "restated_title": "Corrected statement",
    "restated_intro": "This statement (version {version}) replaces version {previous_version} sent on "
                      "{sent_at}.",
    "restated_total": "Total {currency}",
    "restated_model": "{model} ({currency})",
    "restated_lines": "Changed bill lines",
    "restated_more_lines": "and {count} more changed lines (the attached CSV has every row)",
    "restated_moves": "Moved with the mapping",
    "restated_prices": "Changed list prices",
    "reason_bill": "The bill was restated: {files} bill file(s) differ from those of version {version}.",
    "reason_final": "The month's final bill arrived (the previous version was provisional).",
    "reason_lines": "{count} bill line(s) changed, listed below.",
    "reason_mapping": "The mapping changed: {moves}.",
    "reason_mapping_version": "The mapping changed (version {old} to {new}).",
    "reason_mapping_nothing_moved": "The mapping changed (version {old} to {new}); no API key or workspace of "
                                    "this statement moved, but shared costs were split again.",
    "reason_prices": "List prices changed: {prices}.",
    "reason_rows_only": "{count} allocation row(s) changed although the bill files and the mapping are the "
                        "same (a newer version of chargeback allocated them).",
    "reason_untraced": "The previous version predates change tracking, so only its totals can be compared.",
    "moved_out_api_key": "API key {id} now goes to {to}",
    "moved_out_workspace": "workspace {id} now goes to {to}",
    "moved_in_api_key": "API key {id} now comes to this statement",
    "moved_between_api_key": "API key {id} moved from {from} to {to}",
    "moved_between_workspace": "workspace {id} moved from {from} to {to}",
    "moved_in_workspace": "workspace {id} now comes to this statement",
    "no_costs": "No Model Studio costs were allocated to this cost center for this month.",
    "section": "Costs in {currency}",
    "summary": "At a glance",
    "total": "Total",
    "total_for": "Total {currency}",
    "budget": "Budget",
    "budget_line": "Budget {budget}: spent {actual} ({percent} of it).",
    "budget_over": "Over budget by {amount}.",
    "budget_left": "{amount} of the budget left.",
    "forecast_complete": "The month is complete: the forecast is the actual spend.",
    "forecast_run_rate": "Forecast for the month: {forecast} ({percent} of the budget), at the current run rate.",
    "forecast_too_early": "Too few complete days yet for a forecast.",
    "bar_alt": "Spent {percent} of the budget",
    "bar_legend": "# spent, + forecast to the month's end, | the budget",
    "bar_budget_mark": "budget",
    "change_title": "Change against {period}",
    "change_up": "Up",
    "change_down": "Down",
    "change_percent": " ({percent})",
    "change_sentence": "{direction} {amount}{percent} against {period}{because}",
    "change_none": "Unchanged against {period}",
    "because_volume_up": ", mostly from more usage",
    "because_volume_down": ", mostly from less usage",
    "because_mix_up": ", mostly from a shift to dearer models",
    "because_mix_down": ", mostly from a shift to cheaper models",
    "because_price_up": ", mostly from higher prices",
    "because_price_down": ", mostly from lower prices",
    "change_drivers": "; main drivers: {drivers}",
    "driver_item": "{label} ({amount})",
    "driver_key": "API key {key}",
    "driver_console": "console calls",
    "driver_model": "model {model}",
    "change_peak": "; {day} alone cost {amount} (median day {median})",
    "change_peak_behind": ", mostly {what}",
    "and": " and ",
    "list_separator": ", ",
    "sentence_end": ".",
    "previous_total": "Previous month",
    "change": "Change",
    "volume": "Volume: more or less usage, at last month's average prices",
    "mix": "Model mix: a shift between cheaper and dearer models and token types",
    "price": "Price: unit prices, discounts and free quota for the same usage",
    "no_previous": "No published data for {period}, so there is no comparison.",
    "chart_title": "Cost by day",
    "chart_alt": "Bar chart of the cost by day in {currency}, {period}: highest {peak_amount} on {peak_day}",
    "chart_alt_empty": "Bar chart of the cost by day in {currency}, {period}: nothing billed",
    "trend_title": "The last {count} months",
    "trend_alt": "Bar chart of the monthly cost in {currency}: {months}",
    "trend_not_published": "not published",
    "anomaly_note": "Marked on the chart: days an anomaly alert flagged ({days}).",
    "day": "Day",
    "amount": "Amount",
    "share": "Share",
    "by_model": "By model",
    "model": "Model",
    "by_io_type": "By usage type",
    "io_type": "Usage type",
    "by_api_key": "By API key (top {top_n})",
    "api_key": "API key",
    "by_call_source": "API or console",
    "call_source": "Source",
    "by_workspace": "By workspace",
    "workspace": "Workspace",
    "by_cost_center": "Paid by cost center",
    "cost_center": "Cost center",
    "pools": "Shared pools this workspace produced",
    "pool_received": "Received by",
    "unit_costs": "Effective cost per 1,000 tokens",
    "tokens": "Tokens",
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
    "contact": "Questions?",
    "contact_owners": "This statement goes to {owners}.",
    "contact_nobody": "This statement has no owners in the mapping.",
    "footnote": "Amounts are rounded to the cent (amounts under a cent to four significant digits), so that "
                "the parts add up to the totals shown; the attached CSV carries the exact amounts of the "
                "{count} allocation rows behind them.",
    "footer": "Statement {cost_center}, {month}, version {version}. "
              "Mapping {mapping_version}, content {content_hash}.",
    "others": "Others ({count})",
    "console_key": "Console (no API key)",
    "unallocated": "Unallocated",
    "none": "(none)",
    # the finance statement
    "finance_intro": "Every cost center's Model Studio costs for {period}, how the shared pools were split, "
                     "what is unallocated, and how it all adds up to the bill.",
    "finance_centers": "By cost center",
    "finance_pools": "Shared pools and how they were split",
    "finance_pool": "Pool",
    "finance_unallocated": "Unallocated: {amount}",
    "finance_unallocated_none": "Nothing is unallocated.",
    "finance_top_keys": "Top API keys",
    "finance_top_workspaces": "Top workspaces",
    "finance_reconciliation": "Reconciliation with the bill",
    "finance_account": "Account",
    "finance_all_accounts": "All accounts (the month's bill names none)",
    "finance_no_pools": "No shared pools were split this month.",
    "finance_bill": "Bill (payable)",
    "finance_allocated": "Allocated",
    "finance_match": "Equal to the bill to the last decimal.",
    "finance_mismatch": "Differs from the bill by {amount}.",
    "finance_excluded": "Other products in the bill (not allocated)",
    "finance_no_excluded": "The bill holds no other products.",
    "finance_product": "Product",
    "finance_rows": "Rows",
    "finance_rows_count": "{count} rows",
    "finance_bill_total": "The bill's total with other products",
}

_ZH: dict[str, str] = {
    "title": "百炼模型费用账单",
    "title_workspace": "业务空间百炼模型费用账单",
    "title_rollup": "百炼模型费用汇总账单",
    "title_finance": "百炼模型费用（财务）",
    "subject": "{name}：{period} 百炼模型费用（{status}）",
    "subject_corrected": "更正：{name}：{period} 百炼模型费用（{status}）",
    "subject_finance": "{period} 全部成本中心的百炼模型费用（{status}）",
    "subject_finance_corrected": "更正：{period} 全部成本中心的百炼模型费用（{status}）",
    "intro": "{period} 分摊给 {name} 的百炼（通义千问）模型费用。",
    "intro_workspace": "{period} 业务空间 {name} 的百炼（通义千问）模型费用，无论由谁承担。",
    "intro_rollup": "{period} {name} 及其下属成本中心的百炼（通义千问）模型费用。",
    "status_provisional": "暂估",
    "status_final": "最终",
    "provisional_note": "暂估：本月最终账单尚未到达，金额仍可能变化。",
    "final_note": "最终：依据本月最终账单。",
    "restated_title": "更正账单",
    "restated_intro": "本账单（第 {version} 版）取代 {sent_at} 发送的第 {previous_version} 版。",
    "restated_total": "合计 {currency}",
    "restated_model": "{model}（{currency}）",
    "restated_lines": "变化的账单明细",
    "restated_more_lines": "另有 {count} 条明细变化（附件 CSV 含全部记录）",
    "restated_moves": "随映射变化而转移",
    "restated_prices": "变化的目录价",
    "reason_bill": "账单已重述：{files} 个账单文件与第 {version} 版所依据的不同。",
    "reason_final": "本月最终账单已到达（上一版为暂估）。",
    "reason_lines": "{count} 条账单明细发生变化，见下表。",
    "reason_mapping": "映射已变更：{moves}。",
    "reason_mapping_version": "映射已变更（版本 {old} 改为 {new}）。",
    "reason_mapping_nothing_moved": "映射已变更（版本 {old} 改为 {new}）；本账单的 API Key 和业务空间没有转移，"
                                    "但共享费用重新分摊。",
    "reason_prices": "目录价变化：{prices}。",
    "reason_rows_only": "账单文件和映射均未变化，但有 {count} 条分摊记录变化（由新版 chargeback 分摊）。",
    "reason_untraced": "上一版早于变更记录功能，只能比较合计。",
    "moved_out_api_key": "API Key {id} 现由 {to} 承担",
    "moved_out_workspace": "业务空间 {id} 现由 {to} 承担",
    "moved_in_api_key": "API Key {id} 现计入本账单",
    "moved_between_api_key": "API Key {id} 由 {from} 转至 {to}",
    "moved_between_workspace": "业务空间 {id} 由 {from} 转至 {to}",
    "moved_in_workspace": "业务空间 {id} 现计入本账单",
    "no_costs": "本月没有分摊给该成本中心的百炼费用。",
    "section": "{currency} 费用",
    "summary": "概览",
    "total": "合计",
    "total_for": "{currency} 合计",
    "budget": "预算",
    "budget_line": "预算 {budget}：已花费 {actual}（占 {percent}）。",
    "budget_over": "超出预算 {amount}。",
    "budget_left": "预算剩余 {amount}。",
    "forecast_complete": "本月数据已完整：预测即实际花费。",
    "forecast_run_rate": "按当前日均花费预测本月合计 {forecast}（占预算 {percent}）。",
    "forecast_too_early": "完整天数尚少，暂无预测。",
    "bar_alt": "已花费预算的 {percent}",
    "bar_legend": "# 已花费，+ 预测至月底，| 预算",
    "bar_budget_mark": "预算",
    "change_title": "与 {period} 相比",
    "change_up": "增加",
    "change_down": "减少",
    "change_percent": "（{percent}）",
    "change_sentence": "较{period}{direction} {amount}{percent}{because}",
    "change_none": "与{period}持平",
    "because_volume_up": "，主要因为用量增加",
    "because_volume_down": "，主要因为用量减少",
    "because_mix_up": "，主要因为转向较贵的模型",
    "because_mix_down": "，主要因为转向较便宜的模型",
    "because_price_up": "，主要因为价格上涨",
    "because_price_down": "，主要因为价格下降",
    "change_drivers": "；主要来源：{drivers}",
    "driver_item": "{label}（{amount}）",
    "driver_key": "API Key {key}",
    "driver_console": "控制台调用",
    "driver_model": "模型 {model}",
    "change_peak": "；{day}单日花费 {amount}（日中位数 {median}）",
    "change_peak_behind": "，主要来自{what}",
    "and": "和",
    "list_separator": "、",
    "sentence_end": "。",
    "previous_total": "上月",
    "change": "变化",
    "volume": "用量影响：按上月平均单价计算的用量增减",
    "mix": "模型结构影响：在较便宜与较贵的模型及 Token 类型之间的转移",
    "price": "价格影响：相同用量下单价、优惠和免费额度的变化",
    "no_previous": "{period} 没有已发布的数据，无法比较。",
    "chart_title": "每日费用",
    "chart_alt": "{period} 每日费用柱状图（{currency}）：最高 {peak_amount}，在 {peak_day}",
    "chart_alt_empty": "{period} 每日费用柱状图（{currency}）：无费用",
    "trend_title": "最近 {count} 个月",
    "trend_alt": "每月费用柱状图（{currency}）：{months}",
    "trend_not_published": "未发布",
    "anomaly_note": "图中标出的是异常告警标记的日期（{days}）。",
    "day": "日期",
    "amount": "金额",
    "share": "占比",
    "by_model": "按模型",
    "model": "模型",
    "by_io_type": "按用量类型",
    "io_type": "用量类型",
    "by_api_key": "按 API Key（前 {top_n} 个）",
    "api_key": "API Key",
    "by_call_source": "API 与控制台",
    "call_source": "来源",
    "by_workspace": "按业务空间",
    "workspace": "业务空间",
    "by_cost_center": "按承担的成本中心",
    "cost_center": "成本中心",
    "pools": "本业务空间产生的共享费用",
    "pool_received": "承担方",
    "unit_costs": "每千 Token 实际成本",
    "tokens": "Token 数",
    "per_1k": "每千 Token",
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
    "contact": "有疑问？",
    "contact_owners": "本账单发送给 {owners}。",
    "contact_nobody": "映射中没有本账单的负责人。",
    "footnote": "金额四舍五入到分（不足一分的金额保留四位有效数字），各项之和等于所示合计；附件 CSV 含这些数字背后 "
                "{count} 条分摊记录的精确金额。",
    "footer": "账单 {cost_center}，{month}，第 {version} 版。映射 {mapping_version}，内容 {content_hash}。",
    "others": "其他（{count} 个）",
    "console_key": "控制台（无 API Key）",
    "unallocated": "未分摊",
    "none": "（无）",
    "finance_intro": "{period} 各成本中心的百炼模型费用、共享费用的分摊方式、未分摊部分，以及与账单的核对。",
    "finance_centers": "按成本中心",
    "finance_pools": "共享费用及其分摊",
    "finance_pool": "共享费用",
    "finance_unallocated": "未分摊：{amount}",
    "finance_unallocated_none": "没有未分摊的费用。",
    "finance_top_keys": "主要 API Key",
    "finance_top_workspaces": "主要业务空间",
    "finance_reconciliation": "与账单核对",
    "finance_account": "账号",
    "finance_all_accounts": "全部账号（本月账单未注明账号）",
    "finance_no_pools": "本月没有需要分摊的共享费用。",
    "finance_bill": "账单应付",
    "finance_allocated": "已分摊",
    "finance_match": "与账单完全一致（精确到最后一位小数）。",
    "finance_mismatch": "与账单相差 {amount}。",
    "finance_excluded": "账单中的其他产品（未分摊）",
    "finance_no_excluded": "账单中没有其他产品。",
    "finance_product": "产品",
    "finance_rows": "行数",
    "finance_rows_count": "{count} 行",
    "finance_bill_total": "含其他产品的账单合计",
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


def month_name(number: int) -> str:
    """1 -> 'January'."""
    return _MONTHS_EN[number - 1]


def short_month(month: str, locale: str, *, with_year: bool) -> str:
    """An axis label: 'Jun' or 'Jun 2025'; '6月' or '2025年6月'."""
    first = first_day(month)
    if locale == "zh":
        return f"{first.year}年{first.month}月" if with_year else f"{first.month}月"
    name = _MONTHS_EN[first.month - 1][:3]
    return f"{name} {first.year}" if with_year else name


def short_month_label(month: str, locale: str) -> str:
    """'2026-05' -> 'May 2026' or '2026年5月' (as ``period_label``; its own name where space is short)."""
    return period_label(month, locale)


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
