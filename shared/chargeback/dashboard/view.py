"""What the dashboard shows, as numbers: built from the months' cost summaries, manifests and alert state.

``load_dashboard`` reads the warehouse (the last N months up to a month, each checked against its manifest
by ``chargeback.queries.scan``); ``build_dashboard`` is pure and turns what was read into a
:class:`DashboardView` of exact amounts, which ``chargeback.dashboard.render`` shows. Every amount of a
currency adds up: a month's cost-center series, its call-source series and the period's ranked lists (with
their others) each sum to the month's or the period's billed total exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.alerts.data import collect_quotas, with_manifest_usage
from chargeback.alerts.rules.budgets import budget_specs
from chargeback.alerts.state import AlertLedger
from chargeback.billtime import BILL_TIME_ZONE, in_bill_time
from chargeback.columns import UNALLOCATED
from chargeback.config.file import ConfigFile
from chargeback.dashboard.words import words
from chargeback.errors import InputError
from chargeback.labels import call_source_label
from chargeback.money import ZERO
from chargeback.months import check_month, first_day, last_day, month_of, months_between, previous_month
from chargeback.queries.scan import MonthProblem, scan_cost_summaries
from chargeback.reporting.i18n import Locale, short_month
from chargeback.storage import ObjectStore
from chargeback.warehouse.manifest import Manifest, ManifestError, read_manifest

DEFAULT_MONTHS = 12
TOP_N = 8  # ranked lists: the largest N, then the others
STACKED_SERIES = 7  # cost centers drawn by colour; the rest as one "others" series
HUNDRED = Decimal(100)
SHARE_STEP = Decimal("0.1")


@dataclass(frozen=True)
class MonthPoint:
    month: str
    label: str  # for an axis: 'Jun', 'Jan 2026'
    amount: Decimal
    status: str  # open | final | missing


@dataclass(frozen=True)
class Series:
    """One colour of a stacked chart: an amount per month of the window."""

    key: str
    name: str
    amounts: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO)


@dataclass(frozen=True)
class Ranked:
    key: str
    name: str
    amount: Decimal
    share: Decimal | None  # percent of the period's total, to 0.1


@dataclass(frozen=True)
class Ranking:
    title_key: str
    rows: tuple[Ranked, ...]
    others: Ranked | None
    total: Decimal


@dataclass(frozen=True)
class CurrencyView:
    currency: str
    months: tuple[MonthPoint, ...]
    by_cost_center: tuple[Series, ...]
    by_source: tuple[Series, ...]
    unallocated: tuple[Decimal, ...]  # per month of the window
    rankings: tuple[Ranking, ...]
    total: Decimal

    @property
    def latest(self) -> MonthPoint:
        return self.months[-1]

    @property
    def before_latest(self) -> MonthPoint | None:
        return self.months[-2] if len(self.months) > 1 else None


@dataclass(frozen=True)
class BudgetBurn:
    name: str
    currency: str
    budget: Decimal
    spent: Decimal

    @property
    def percent(self) -> Decimal:
        return (self.spent * HUNDRED / self.budget).quantize(SHARE_STEP)


@dataclass(frozen=True)
class QuotaLeft:
    model: str
    unit: str
    total: Decimal
    used: Decimal | None  # None: the bills do not say how much of it was used
    valid_until: str

    @property
    def left(self) -> Decimal | None:
        return None if self.used is None else max(self.total - self.used, ZERO)

    @property
    def percent_used(self) -> Decimal | None:
        if self.used is None or self.total == 0:
            return None
        return (self.used * HUNDRED / self.total).quantize(SHARE_STEP)


@dataclass(frozen=True)
class AnomalyRow:
    day: str
    subject: str
    value: Decimal
    currency: str
    title: str
    status: str  # firing | cleared


@dataclass(frozen=True)
class DashboardView:
    locale: Locale
    window: tuple[str, ...]  # the months shown, oldest first
    latest: str
    latest_status: str
    generated_at: str
    currencies: tuple[CurrencyView, ...]
    budgets: tuple[BudgetBurn, ...]
    budget_notes: tuple[str, ...]
    quotas: tuple[QuotaLeft, ...]
    anomalies: tuple[AnomalyRow, ...]
    elapsed_days: int
    month_days: int
    problems: tuple[MonthProblem, ...] = field(default=())

    @property
    def words(self) -> Mapping[str, str]:
        return words(self.locale)

    @property
    def elapsed(self) -> Decimal | None:
        """How much of the latest month has passed (0 to 1), None when it is not this month."""
        return Decimal(self.elapsed_days) / self.month_days if self.elapsed_days else None


def _sums(table: pa.Table | None, keys: Sequence[str]) -> dict[tuple[str, ...], Decimal]:
    """Billed cost per distinct ``keys``, exact."""
    if table is None or table.num_rows == 0:
        return {}
    grouped = table.group_by(list(keys), use_threads=False).aggregate([("billed_cost", "sum")])
    rows = zip(*(grouped[k].to_pylist() for k in keys), grouped["billed_cost_sum"].to_pylist(), strict=True)
    return {tuple(str(v) for v in row[:-1]): row[-1] for row in rows}


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else (part * HUNDRED / whole).quantize(SHARE_STEP)


def _ranking(title_key: str, totals: dict[str, Decimal], name: Callable[[str], str], others_name: str,
             total: Decimal) -> Ranking:
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    rows = tuple(Ranked(k, name(k), v, _share(v, total)) for k, v in ordered[:TOP_N])
    rest = ordered[TOP_N:]
    others = None
    if rest:
        amount = sum((v for _, v in rest), ZERO)
        others = Ranked("", others_name.format(count=len(rest)), amount, _share(amount, total))
    return Ranking(title_key, rows, others, total)


def _stacked(per_month: list[dict[str, Decimal]], name: Callable[[str], str], others_name: str,
             keep: int) -> tuple[Series, ...]:
    totals: dict[str, Decimal] = {}
    for month in per_month:
        for key, amount in month.items():
            totals[key] = totals.get(key, ZERO) + amount
    ordered = [k for k, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]
    kept, rest = ordered[:keep], ordered[keep:]
    series = [Series(k, name(k), tuple(m.get(k, ZERO) for m in per_month)) for k in kept]
    if rest:
        series.append(Series("", others_name.format(count=len(rest)),
                             tuple(sum((m.get(k, ZERO) for k in rest), ZERO) for m in per_month)))
    return tuple(series)


def _currency_view(currency: str, window: Sequence[str], tables: Mapping[str, pa.Table],
                   statuses: Mapping[str, str], mapping: ConfigFile, locale: Locale) -> CurrencyView:
    said = words(locale)
    mine = {m: t.filter(pc.equal(t["currency"], currency)) for m, t in tables.items()}
    by_month = [_sums(mine.get(m), ["cost_center"]) for m in window]
    months = tuple(MonthPoint(m, short_month(m, locale, with_year=(i == 0 or m.endswith("-01"))),
                              sum(by_month[i].values(), ZERO), statuses.get(m, "missing"))
                   for i, m in enumerate(window))
    total = sum((p.amount for p in months), ZERO)

    def center(key: str) -> str:
        return said["unmapped"] if key == UNALLOCATED else mapping.cost_center_name(key)

    sources = [{k[0]: v for k, v in _sums(mine.get(m), ["call_source"]).items()} for m in window]
    period: dict[str, dict[str, Decimal]] = {"model": {}, "api_key_id": {}, "workspace_id": {}}
    for table in mine.values():
        for column, totals in period.items():
            for (key,), amount in _sums(table, [column]).items():
                totals[key] = totals.get(key, ZERO) + amount
    others = said["others"]
    rankings = (
        _ranking("top_models", period["model"], lambda k: k, others, total),
        _ranking("top_keys", period["api_key_id"], lambda k: k or said["console_key"], others, total),
        _ranking("top_workspaces", period["workspace_id"],
                 lambda k: mapping.workspace_labels.get(k, k) if k else "''", others, total),
    )
    return CurrencyView(
        currency=currency, months=months,
        by_cost_center=_stacked([{k[0]: v for k, v in m.items()} for m in by_month], center, others,
                                STACKED_SERIES),
        by_source=_stacked(sources, lambda k: call_source_label(k, locale), others, 4),
        unallocated=tuple(m.get((UNALLOCATED,), ZERO) for m in by_month),
        rankings=rankings, total=total)


def _budgets(mapping: ConfigFile, table: pa.Table | None, month: str,
             locale: Locale) -> tuple[tuple[BudgetBurn, ...], tuple[str, ...]]:
    """Each budget against the month's spend in its currency; a budget without a currency in a month of
    several currencies cannot be judged, and a note says so."""
    currencies = sorted(set(table["currency"].to_pylist())) if table is not None else []
    burns, notes = [], []
    for spec in budget_specs(mapping, mapping.alerts):
        currency = spec.currency or (currencies[0] if len(currencies) == 1 else None)
        if currency is None:
            if currencies:
                notes.append(words(locale)["budget_currency"].format(
                    name=spec.subject.name, month=month, currencies=", ".join(currencies)))
            continue
        spent = _sums(table, [spec.column, "currency"]).get((spec.subject.id, currency), ZERO)
        burns.append(BudgetBurn(spec.subject.name, currency, spec.monthly, spent))
    return tuple(sorted(burns, key=lambda b: (-(b.spent / b.budget), b.name))), tuple(notes)


def _quotas(manifests: Mapping[str, Manifest], mapping: ConfigFile, latest: str,
            manifest_of: Callable[[str], Manifest | None]) -> tuple[QuotaLeft, ...]:
    start = first_day(latest)
    quotas = []
    for quota in collect_quotas(dict(manifests), mapping.alerts):
        if quota.valid_until.date() < start:
            continue  # expired before the month shown
        quota = with_manifest_usage(quota, manifest_of)
        quotas.append(QuotaLeft(quota.model, quota.unit, quota.total, quota.used,
                                quota.valid_until.date().isoformat()))
    return tuple(quotas)


def _anomalies(records: Mapping[str, Mapping[str, Any]]) -> tuple[AnomalyRow, ...]:
    rows = [AnomalyRow(str(r.get("period", "")), str(r.get("subject_label", "")), Decimal(str(r.get("value", "0"))),
                       str(r.get("currency", "")), str(r.get("title", "")), str(r.get("status", "")))
            for r in records.values() if r.get("rule") == "anomaly"]
    return tuple(sorted(rows, key=lambda a: (a.day, a.value), reverse=True))


def build_dashboard(tables: Mapping[str, pa.Table], manifests: Mapping[str, Manifest], window: Sequence[str],
                    mapping: ConfigFile, alert_records: Mapping[str, Mapping[str, Any]],
                    manifest_of: Callable[[str], Manifest | None], *, locale: Locale, now: datetime,
                    problems: Sequence[MonthProblem] = ()) -> DashboardView:
    """The view of ``window`` (months, oldest first) from each month's cost summary and manifest."""
    latest = window[-1]
    statuses = {m: manifests[m].status for m in manifests}
    currencies = sorted({c for t in tables.values() for c in t["currency"].to_pylist()})
    local = now.astimezone(BILL_TIME_ZONE) if now.tzinfo else in_bill_time(now)
    today = local.date()
    month_days = last_day(latest).day
    elapsed = today.day if month_of(today) == latest else 0  # the burn mark: only while the month runs
    budgets, budget_notes = _budgets(mapping, tables.get(latest), latest, locale)
    return DashboardView(
        locale=locale, window=tuple(window), latest=latest, latest_status=statuses.get(latest, "missing"),
        generated_at=local.isoformat(sep=" ", timespec="minutes"),
        currencies=tuple(_currency_view(c, window, tables, statuses, mapping, locale) for c in currencies),
        budgets=budgets, budget_notes=budget_notes,
        quotas=_quotas(manifests, mapping, latest, manifest_of),
        anomalies=_anomalies(alert_records),
        elapsed_days=elapsed, month_days=month_days, problems=tuple(problems))


def newest_month(store: ObjectStore) -> str | None:
    """The newest month with a manifest in ``store``, or None."""
    months = [info.key.split("/")[1].removeprefix("billing_month=") for info in store.list("manifests/")
              if info.key.endswith("/manifest.json")]
    months = [m for m in months if m and len(m) == 7]
    return max(months) if months else None


def load_dashboard(store: ObjectStore, mapping: ConfigFile, *, month: str | None = None,
                   months: int = DEFAULT_MONTHS, locale: Locale = "en", now: datetime) -> DashboardView | None:
    """The dashboard of the ``months`` months up to ``month`` (default: the newest published), read from
    ``store``; None when the warehouse holds no month. Months before the first published one are left out."""
    if months < 1:
        raise InputError(f"--months must be at least 1, not {months}", field="--months")
    last = check_month(month) if month else newest_month(store)
    if last is None:
        return None
    first = last
    for _ in range(months - 1):
        first = previous_month(first)
    scan = scan_cost_summaries(store, months_between(first, last))
    read = sorted(scan.tables)
    if not read:
        problems = [p for p in scan.problems if p.reason != "missing"]
        window = [last]
    else:
        window = months_between(read[0], last)  # no empty months before the first published one
        problems = [p for p in scan.problems if p.month >= read[0]]

    def manifest_of(wanted: str) -> Manifest | None:
        if wanted in scan.manifests:
            return scan.manifests[wanted]
        try:
            return read_manifest(store, wanted)
        except ManifestError:
            return None

    records = AlertLedger.load(store, [last]).records()
    return build_dashboard(scan.tables, scan.manifests, window, mapping, records, manifest_of, locale=locale,
                           now=now, problems=problems)


__all__ = ["AnomalyRow", "BudgetBurn", "CurrencyView", "DashboardView", "MonthPoint", "QuotaLeft", "Ranked",
           "Ranking", "Series", "build_dashboard", "load_dashboard", "newest_month"]
