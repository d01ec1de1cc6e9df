"""The dashboard's words in English and Chinese: every heading, label and note the page shows.

Both locales have the same keys (a test says so); the template looks each up and a missing key is an error.
Labels of what the bill counts (call sources) come from the statements' label table
(``chargeback.reporting.i18n``), so both say the same thing.
"""

from __future__ import annotations

from types import MappingProxyType

from chargeback.reporting.i18n import LOCALES

_EN: dict[str, str] = {
    "title": "Model Studio costs",
    "subtitle": "{first} to {last}, every cost center, in the bills' currencies",
    "generated": "Built {at} from the warehouse's published months; amounts are billed (payable) costs.",
    "status_open": "open (the month's bill can still change)",
    "status_final": "final",
    "latest": "Latest month {month}: {status}.",
    "currency_section": "Costs in {currency}",
    "period_total": "Total over the period",
    "latest_total": "Latest month",
    "change": "Change against the month before",
    "by_month": "Total by month",
    "by_month_alt": "Bar chart: billed cost per month in {currency}",
    "by_cost_center": "By cost center",
    "by_cost_center_alt": "Stacked bar chart: billed cost per month and cost center in {currency}",
    "top_models": "Top models",
    "top_keys": "Top API keys",
    "top_workspaces": "Top workspaces",
    "top_alt": "Bar: share of the period's billed cost",
    "sources": "API versus console",
    "sources_alt": "Stacked bar chart: share of billed cost per month by call source in {currency}",
    "unallocated": "Unallocated share",
    "unallocated_alt": "Bar chart: the share of each month's billed cost no cost center pays, in {currency}",
    "unallocated_none": "Every month's cost is allocated to a cost center.",
    "month": "Month",
    "amount": "Billed",
    "share": "Share",
    "name": "Name",
    "cost_center": "Cost center",
    "others": "Others ({count})",
    "total": "Total",
    "console_key": "(console)",
    "unmapped": "unallocated",
    "budgets": "Budgets' burn, {month}",
    "budgets_none": "No budgets are configured (cost_centers.*.budget, alerts.budgets in the mapping).",
    "budget": "Budget",
    "spent": "Spent",
    "used": "Used",
    "budget_currency": "The budget of {name} is not shown: {month} has costs in {currencies}; give the budget a "
                       "currency.",
    "budget_alt": "Bar: the share of the monthly budget spent; the mark is the share of the month that has passed",
    "month_elapsed": "The mark on each bar is how much of the month has passed ({days} of {total} days).",
    "free_quota": "Free quota left",
    "free_quota_none": "No free quota appears in these months' bills.",
    "quota_model": "Model",
    "quota_total": "Granted",
    "quota_left": "Left",
    "quota_until": "Valid until",
    "quota_alt": "Bar: the share of the free quota used",
    "anomalies": "Anomalies, {month}",
    "anomalies_none": "No anomaly alert fired this month.",
    "anomaly_day": "Day",
    "anomaly_subject": "What",
    "anomaly_value": "Cost that day",
    "anomaly_status": "Status",
    "status_firing": "firing",
    "status_cleared": "cleared",
    "missing": "Not shown: {problems}",
    "no_data": "No published month in the warehouse yet: run the pipeline first.",
    "footer": "Amounts are shown as statements show them; `chargeback costs --format json` and the exported tables "
              "carry them exactly. Currencies are never added together.",
}

_ZH: dict[str, str] = {
    "title": "百炼（Model Studio）费用",
    "subtitle": "{first} 至 {last}，全部成本中心，按账单币种",
    "generated": "生成于 {at}，数据来自仓库中已发布的月份；金额为应付金额。",
    "status_open": "未出账（本月账单仍可能变化）",
    "status_final": "已出账",
    "latest": "最新月份 {month}：{status}。",
    "currency_section": "{currency} 费用",
    "period_total": "期间合计",
    "latest_total": "最新月份",
    "change": "较上月变化",
    "by_month": "按月合计",
    "by_month_alt": "柱状图：每月应付金额（{currency}）",
    "by_cost_center": "按成本中心",
    "by_cost_center_alt": "堆叠柱状图：每月各成本中心的应付金额（{currency}）",
    "top_models": "模型排行",
    "top_keys": "API Key 排行",
    "top_workspaces": "业务空间排行",
    "top_alt": "条形：占期间应付金额的比例",
    "sources": "API 与控制台",
    "sources_alt": "堆叠柱状图：每月按调用来源划分的应付金额占比（{currency}）",
    "unallocated": "未分摊占比",
    "unallocated_alt": "柱状图：每月没有成本中心承担的费用占比（{currency}）",
    "unallocated_none": "每个月的费用都已分摊到成本中心。",
    "month": "月份",
    "amount": "应付金额",
    "share": "占比",
    "name": "名称",
    "cost_center": "成本中心",
    "others": "其他（{count}）",
    "total": "合计",
    "console_key": "（控制台）",
    "unmapped": "未分摊",
    "budgets": "预算消耗，{month}",
    "budgets_none": "未配置预算（映射文件中的 cost_centers.*.budget、alerts.budgets）。",
    "budget": "预算",
    "spent": "已花费",
    "used": "已用",
    "budget_currency": "{name} 的预算未显示：{month} 的费用有多种币种（{currencies}）；请为该预算指定币种。",
    "budget_alt": "条形：已花费占月度预算的比例；刻度线为本月已过去的比例",
    "month_elapsed": "每个条形上的刻度线表示本月已过去的比例（{total} 天中的 {days} 天）。",
    "free_quota": "剩余免费额度",
    "free_quota_none": "这些月份的账单中没有免费额度。",
    "quota_model": "模型",
    "quota_total": "总额度",
    "quota_left": "剩余",
    "quota_until": "有效期至",
    "quota_alt": "条形：免费额度已使用的比例",
    "anomalies": "异常，{month}",
    "anomalies_none": "本月没有触发异常告警。",
    "anomaly_day": "日期",
    "anomaly_subject": "对象",
    "anomaly_value": "当日费用",
    "anomaly_status": "状态",
    "status_firing": "告警中",
    "status_cleared": "已解除",
    "missing": "未显示：{problems}",
    "no_data": "仓库中还没有已发布的月份：请先运行流水线。",
    "footer": "金额的显示方式与对账单相同；`chargeback costs --format json` 与导出的表格保留精确金额。"
              "不同币种从不相加。",
}

WORDS = MappingProxyType({"en": MappingProxyType(_EN), "zh": MappingProxyType(_ZH)})


def words(locale: str) -> MappingProxyType[str, str]:
    """The dashboard's words in ``locale`` (en or zh)."""
    if locale not in LOCALES:
        raise ValueError(f"locale {locale!r} is not one of {', '.join(LOCALES)}")
    return WORDS[locale]


__all__ = ["WORDS", "words"]
