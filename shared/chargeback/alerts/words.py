"""The words of alerts in English and Chinese: every title and reason the rules write is a ``Phrase``.

A ``Phrase`` is the English text (a ``str``, so logs, the state, the terminal table and JSON read it as
before) that also knows its key and values, so each channel can say it in the recipient's language:
``phrase.in_locale("zh")``. Values are already formatted by the one display policy (``chargeback.display``),
so amounts read the same in both languages; a value may itself be a Phrase, or a list of them.
"""

from __future__ import annotations

from typing import Any

_EN: dict[str, str] = {
    "coverage.none": "No billing data on or before {day}.",
    "coverage.through": "Data through {newest} (newest billing date; {behind} behind {day})",
    "coverage.no_complete": "Data through {newest} (newest billing date; {behind} behind {day}); no complete day yet.",
    "coverage.final": "Data through {newest} (newest billing date; {behind} behind {day}); its month is final, "
                      "so every day is complete.",
    "coverage.complete": "Data through {newest} (newest billing date; {behind} behind {day}); complete through "
                         "{complete}.",
    "days.one": "1 day",
    "days.many": "{count} days",
    "budget.title": "Budget {threshold}% reached: {name} spent {actual} of {budget} in {month}",
    "budget.reason": "Spend in {month} to date: {actual} = {percent} of the monthly budget {budget} "
                     "(threshold {threshold}%).",
    "forecast.title": "Budget {threshold}% forecast: {name} heads for {forecast} of {budget} in {month}",
    "forecast.reason": "Forecast for the end of {month}: {forecast} = {percent} of the monthly budget {budget} "
                       "(threshold {threshold}%); spent so far {actual}.",
    "forecast.method": "Method: run rate {rate}/day over the {days} complete days {start}..{end}, times "
                       "{left} days left, plus {to_date} spent through {end}.",
    "anomaly.title": "Cost anomaly: {subject} spent {today} on {day} (usual {usual}/day)",
    "anomaly.reason": "{day}: {today} against a median of {usual}/day over the {count} days before (MAD {mad}); "
                      "{ratio}.",
    "anomaly.ratio": "{ratio}x the usual",
    "anomaly.usually_nothing": "usually nothing",
    "anomaly.rule": "Fires above median + {k} x 1.4826 x MAD = {limit}, at least {min_amount} above the median "
                    "and {min_ratio}x it.",
    "anomaly.contributors": "Top contributors: {items}.",
    "anomaly.contributor": "{model} · key {key} · {usage} · {source}: {today} (usual {usual})",
    "new_key.title": "New API key {id} is not in the mapping ({spent} in {month})",
    "new_workspace.title": "New workspace {id} is not in the mapping ({spent} in {month})",
    "new.first_seen": "First seen {first}; {spent} in {month} so far.",
    "new.workspaces": "Workspaces: {workspaces}.",
    "new.workspace": "Workspace: {workspaces}.",
    "new.allocated": "Allocated now: {parts}. Add it to the mapping to decide who pays.",
    "new.part_unallocated": "{amount} in 'unallocated'",
    "new.part_direct": "{amount} to {center} by {rule}",
    "new.part_shared": "{amount} to {center} by the shared-cost rule {rule}",
    "quota.usage": "{used} of {total} {unit} used ({percent}), valid {start} until {end} (from {source}).",
    "quota.used_title": "Free quota of {model} {percent} used (threshold {threshold}%)",
    "quota.used_reason": "Once it is used up, calls are billed (or stop, for keys with the free-quota-only flag).",
    "quota.expiring_title": "Free quota of {model} expires {end} (in {days} days) with {unused} unused",
    "quota.expiring_reason": "{left} {unit} left; unused quota is lost at expiry.",
    "stale.none_title": "No bill file found for {month} or the months before it",
    "stale.none_reason": "No manifest with a newest_source_time among the months read ({searched}).",
    "stale.check": "Check the bill subscription to object storage and the ingest job.",
    "stale.title": "Bills are stale: the newest bill file is {age} hours old (limit {limit})",
    "stale.reason": "Newest bill file time {newest}; checked as of {as_of}.",
    "stale.push": "Alibaba Cloud pushes a month-to-date file daily; check the bill subscription and the ingest job.",
    "restated": "Restated: the bill data changed; the number is now {now} (was {was} when this alert was last "
                "sent).",
    "footer": "chargeback alerts · evaluated for {day} · alert {alert_id}",
    "digest.subject": "[chargeback] {count} alerts for {day}: {first}",
    "digest.title": "Chargeback alerts for {day}",
    "digest.intro": "{count} alerts need attention today, the most severe first.",
    "single.subject": "[chargeback] {title}",
    "single.title": "Chargeback alert",
    "severity.critical": "Critical",
    "severity.warning": "Warning",
    "severity.info": "Info",
    "superseded": "A higher threshold of the same budget went out instead.",
    "list": "; ",
}

_ZH: dict[str, str] = {
    "coverage.none": "{day} 及之前没有账单数据。",
    "coverage.through": "数据截至 {newest}（最新账单日期；比 {day} 晚 {behind}）",
    "coverage.no_complete": "数据截至 {newest}（最新账单日期；比 {day} 晚 {behind}）；尚无完整的一天。",
    "coverage.final": "数据截至 {newest}（最新账单日期；比 {day} 晚 {behind}）；该月账单已最终确定，每天的数据均完整。",
    "coverage.complete": "数据截至 {newest}（最新账单日期；比 {day} 晚 {behind}）；{complete} 及之前的数据完整。",
    "days.one": "1 天",
    "days.many": "{count} 天",
    "budget.title": "预算已达 {threshold}%：{name} 在 {month} 已花费 {actual}，预算 {budget}",
    "budget.reason": "{month} 截至目前花费 {actual}，占月预算 {budget} 的 {percent}（阈值 {threshold}%）。",
    "forecast.title": "预计超出预算 {threshold}%：{name} 在 {month} 预计花费 {forecast}，预算 {budget}",
    "forecast.reason": "{month} 月底预测 {forecast}，占月预算 {budget} 的 {percent}（阈值 {threshold}%）；"
                       "目前已花费 {actual}。",
    "forecast.method": "方法：{start}..{end} 共 {days} 个完整日的日均花费 {rate}，乘以剩余 {left} 天，"
                       "加上截至 {end} 已花费的 {to_date}。",
    "anomaly.title": "费用异常：{subject} 在 {day} 花费 {today}（通常每天 {usual}）",
    "anomaly.reason": "{day}：{today}，此前 {count} 天的中位数为每天 {usual}（MAD {mad}）；{ratio}。",
    "anomaly.ratio": "是通常的 {ratio} 倍",
    "anomaly.usually_nothing": "通常没有花费",
    "anomaly.rule": "触发条件：高于中位数 + {k} x 1.4826 x MAD = {limit}，比中位数至少高 {min_amount}，"
                    "且至少是中位数的 {min_ratio} 倍。",
    "anomaly.contributors": "主要来源：{items}。",
    "anomaly.contributor": "{model} · Key {key} · {usage} · {source}：{today}（通常 {usual}）",
    "new_key.title": "新的 API Key {id} 不在映射中（{month} 花费 {spent}）",
    "new_workspace.title": "新的业务空间 {id} 不在映射中（{month} 花费 {spent}）",
    "new.first_seen": "首次出现于 {first}；{month} 至今花费 {spent}。",
    "new.workspaces": "业务空间：{workspaces}。",
    "new.workspace": "业务空间：{workspaces}。",
    "new.allocated": "目前的分摊：{parts}。请将其加入映射以确定由谁承担。",
    "new.part_unallocated": "{amount} 计入未分摊",
    "new.part_direct": "{amount} 由 {center} 按 {rule} 承担",
    "new.part_shared": "{amount} 由 {center} 按共享费用规则 {rule} 承担",
    "quota.usage": "已使用 {total} {unit} 中的 {used}（{percent}），有效期 {start} 至 {end}（来自 {source}）。",
    "quota.used_title": "{model} 的免费额度已使用 {percent}（阈值 {threshold}%）",
    "quota.used_reason": "额度用完后将开始计费（设置了仅用免费额度的 Key 将停止调用）。",
    "quota.expiring_title": "{model} 的免费额度将于 {end} 到期（{days} 天后），仍有 {unused} 未使用",
    "quota.expiring_reason": "剩余 {left} {unit}；到期未用的额度将失效。",
    "stale.none_title": "没有找到 {month} 或之前月份的账单文件",
    "stale.none_reason": "读取的月份中没有带 newest_source_time 的清单（{searched}）。",
    "stale.check": "请检查账单订阅到对象存储的设置和导入任务。",
    "stale.title": "账单数据过旧：最新账单文件已有 {age} 小时（上限 {limit}）",
    "stale.reason": "最新账单文件时间 {newest}；检查时间 {as_of}。",
    "stale.push": "阿里云每天推送当月截至当日的账单文件；请检查账单订阅和导入任务。",
    "restated": "数据已重述：账单数据发生变化，目前数值为 {now}（上次发送此告警时为 {was}）。",
    "footer": "chargeback 告警 · 评估日期 {day} · 告警 {alert_id}",
    "digest.subject": "[chargeback] {day} 共 {count} 条告警：{first}",
    "digest.title": "{day} 的 chargeback 告警",
    "digest.intro": "今天有 {count} 条告警需要关注，按严重程度排列。",
    "single.subject": "[chargeback] {title}",
    "single.title": "chargeback 告警",
    "severity.critical": "严重",
    "severity.warning": "警告",
    "severity.info": "提示",
    "superseded": "同一预算的更高阈值告警已代替此告警发送。",
    "list": "；",
}

WORDS = {"en": _EN, "zh": _ZH}


class Phrase(str):
    """English text that can be said again in another language (``in_locale``)."""

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, /, **values: Any) -> Phrase:
        text = str.__new__(cls, _render(key, values, "en"))
        text.key = key
        text.values = values
        return text

    def in_locale(self, locale: str) -> str:
        return _render(self.key, self.values, locale)

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles keep the key and values
        return (_rebuild, (self.key, self.values))


def _rebuild(key: str, values: dict[str, Any]) -> Phrase:
    return Phrase(key, **values)


def _value(value: Any, locale: str) -> str:
    if isinstance(value, Phrase):
        return value.in_locale(locale)
    if isinstance(value, list | tuple):
        return WORDS[locale]["list"].join(_value(v, locale) for v in value)
    return str(value)


def _render(key: str, values: dict[str, Any], locale: str) -> str:
    words = WORDS["zh" if locale == "zh" else "en"]
    lang = "zh" if locale == "zh" else "en"
    return words[key].format(**{k: _value(v, lang) for k, v in values.items()})


def phrase(key: str, /, **values: Any) -> Phrase:
    """The phrase ``key`` with ``values``; a KeyError for a key the tables lack (a bug, never a blank)."""
    return Phrase(key, **values)


def localized(text: str, locale: str) -> str:
    """``text`` in ``locale`` when it is a Phrase; other text (from older state) as it is."""
    return text.in_locale(locale) if isinstance(text, Phrase) else text


def word(key: str, locale: str, /, **values: Any) -> str:
    return _render(key, values, locale)


def days_text(count: int) -> Phrase:
    return phrase("days.one") if count == 1 else phrase("days.many", count=count)
