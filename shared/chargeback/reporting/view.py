"""One statement for one month, as plain values: what the templates receive.

A statement covers a ``Scope``: a cost center, a workspace (every cost center that paid for its use and the
shared pools it produced) or a roll-up of several cost centers' rows (a parent and its children). The view
is built from the scope's allocation rows, so a roll-up is simply a statement over more rows.

``build_statement`` is pure: allocation tables, the manifest, the mapping and the last ledger entry in, a
frozen ``StatementView`` out. Money stays ``Decimal`` and exact; one section per currency, never mixed.
Every amount in a section comes from the scope's rows in that currency, so each breakdown adds up to the
section's total to the last decimal the bill carries. Each breakdown also carries its ``shown`` figures,
rounded together by ``chargeback.display.shown_parts`` so that what people read adds up as well.

The first screen answers "how much, against what, why": the total, the budget with the month-end forecast
(``chargeback.forecast``) when the scope has one, and the change against last month in one sentence
(``chargeback.reporting.change``); corrections explain themselves (``chargeback.reporting.restatement``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Literal

import pandas as pd

from chargeback.bills.normalize import list_price
from chargeback.columns import (
    ALLOCATION_AMOUNTS,
    ALLOCATION_COLUMNS,
    COST_CENTER_PATH,
    LINE_AMOUNTS,
    REPORTING_BILLED_COST,
    REPORTING_CURRENCY,
    UNALLOCATED,
)
from chargeback.config.cost_centers import FixedShares
from chargeback.config.file import ConfigFile as TeamMapping
from chargeback.display import rounded, shares_of, shown_parts
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.forecast import forecast_month
from chargeback.labels import call_source_label, usage_text, usage_type_label
from chargeback.money import ZERO, format_decimal, to_decimal
from chargeback.months import days_of, last_day, previous_month
from chargeback.reporting import i18n, sums
from chargeback.reporting.change import ChangeExplained, completed, explain_change
from chargeback.reporting.ledger import LedgerEntry
from chargeback.reporting.restatement import Restatement, explain_restatement, source_digests
from chargeback.units import THOUSAND, tokens_per_unit
from chargeback.warehouse.manifest import Manifest

# Rules of lines a cost center pays directly; any other rule (e.g. 'console:proportional') is a shared pool.
DIRECT_RULES = frozenset({"api_key", "workspace", "unallocated", ""})
UNIT_COST_STEP = Decimal("0.00000001")
TREND_MONTHS = 6
_AMOUNTS = frozenset(ALLOCATION_AMOUNTS)
# What a statement's content hash covers: every allocation column but those added later that change nothing a
# cost center owes (hashing them would send every statement already sent again, as a correction): the payer's
# account (schema 2, beside the owner's); schema 3's usage-type marks (batch, thinking: they follow from the
# usage type, which is hashed), account names, region, tags, resource group, cost unit and prepaid plans'
# amounts (what a cost center owes is the billed cost, or under `charge_basis: effective` the effective cost,
# which the statement puts in its place); the cost center's path in the hierarchy and the reporting currency's
# amounts.
UNHASHED_COLUMNS = frozenset({"payer_account_id", "batch", "thinking", "account_name", "payer_account_name",
                              "region", "tags", "resource_group", "cost_unit", "commitment_list_cost",
                              "commitment_after_deduction", "commitment_deducted", "commitment_covered_cost",
                              "effective_cost", COST_CENTER_PATH, REPORTING_CURRENCY, REPORTING_BILLED_COST})
HASHED_COLUMNS: tuple[str, ...] = tuple(c for c in ALLOCATION_COLUMNS if c not in UNHASHED_COLUMNS)

ScopeKind = Literal["cost_center", "workspace", "rollup"]
ForecastBasis = Literal["complete", "run_rate", "too_early"]
"""The month's data is complete; or the forecast is a run rate; or too few complete days are known yet."""


# ---------------------------------------------------------------------------------------------- the scope


@dataclass(frozen=True)
class Scope:
    """What one statement covers, who reads it and in which language.

    ``cost_centers`` select the rows of a cost center or a roll-up; ``workspace`` those of a workspace.
    """

    kind: ScopeKind
    id: str
    name: str
    owners: tuple[str, ...] = ()
    locale: str = "en"
    cost_centers: frozenset[str] = frozenset()
    workspace: str = ""

    @property
    def key(self) -> str:
        """The statement's name in the ledger and the outbox: the cost center, or 'workspace:<id>'."""
        return self.id if self.kind == "cost_center" else f"{self.kind}:{self.id}"

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        if self.kind == "workspace":
            return frame["workspace_id"].astype(str) == self.workspace
        return frame["cost_center"].astype(str).isin(self.cost_centers)


def cost_center_scope(mapping: TeamMapping, center_id: str, locale: str = "en") -> Scope:
    """A cost center's own statement; its ``locale`` wins over ``locale``."""
    center = mapping.cost_centers.get(center_id)
    return Scope("cost_center", center_id, mapping.cost_center_name(center_id),
                 tuple(center.owners) if center else (), (center.locale if center and center.locale else locale),
                 frozenset({center_id}))


def workspace_scope(mapping: TeamMapping, workspace_id: str, locale: str = "en") -> Scope:
    """A workspace's statement, to the workspace's owners (``workspace_owners``)."""
    return Scope("workspace", workspace_id, mapping.workspace_labels.get(workspace_id, workspace_id),
                 tuple(mapping.workspace_owners.get(workspace_id, ())), locale, workspace=workspace_id)


def rollup_scope(parent_id: str, name: str, children: Iterable[str], *, owners: Sequence[str] = (),
                 locale: str = "en") -> Scope:
    """A parent's statement: the rows of all its ``children`` (and its own), rolled up."""
    return Scope("rollup", parent_id, name, tuple(owners), locale, frozenset({parent_id, *children}))


# ---------------------------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: what (``key``, shown as ``label``), how much, and its share of the total.

    ``shown`` is the amount as printed: rounded together with the other lines of its breakdown so that the
    printed lines add up to the printed total; ``percent`` likewise adds up to 100.0%.
    """

    key: str
    label: str
    amount: Decimal
    percent: Decimal | None
    shown: Decimal = ZERO
    note: str = ""


@dataclass(frozen=True)
class DayCost:
    day: str  # YYYY-MM-DD
    amount: Decimal
    shown: Decimal = ZERO
    anomaly: bool = False  # an anomaly alert fired for this day


@dataclass(frozen=True)
class MonthCost:
    """One month of the trend; ``amount`` is None when the month was not published."""

    month: str
    label: str
    amount: Decimal | None


@dataclass(frozen=True)
class BudgetStatus:
    """A monthly budget against the actual spend and the month-end forecast (one currency)."""

    monthly: Decimal
    actual: Decimal
    forecast: Decimal
    forecast_basis: ForecastBasis
    source: str  # where the budget is configured, for the reader

    @property
    def percent(self) -> Decimal:
        return (self.actual * 100 / self.monthly).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    @property
    def forecast_percent(self) -> Decimal:
        return (self.forecast * 100 / self.monthly).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    @property
    def over(self) -> bool:
        return self.actual > self.monthly

    @property
    def heading_over(self) -> bool:
        return self.forecast > self.monthly

    @property
    def scale(self) -> Decimal:
        return max(self.monthly, self.actual, self.forecast)

    def width(self, amount: Decimal) -> int:
        """``amount`` as whole percent of the bar (the largest of budget, actual and forecast)."""
        if self.scale <= 0:
            return 0
        return max(0, min(100, int((amount * 100 / self.scale).to_integral_value(rounding=ROUND_HALF_EVEN))))

    @property
    def bar_actual(self) -> int:
        return self.width(self.actual)

    @property
    def bar_forecast(self) -> int:
        return max(self.width(self.forecast) - self.bar_actual, 0)

    @property
    def bar_budget(self) -> int:
        return self.width(self.monthly)

    def text_bar(self, length: int = 40) -> str:
        """The bar in characters: '#' spent, '+' forecast to month end, '|' the budget, '.' the rest."""
        cells = []
        for i in range(length):
            middle = self.scale * (Decimal(i) + Decimal("0.5")) / length
            cells.append("#" if middle <= self.actual else "+" if middle <= self.forecast else ".")
        mark = min(length - 1, int(self.monthly * length / self.scale)) if self.scale > 0 else 0
        cells.insert(mark + 1 if mark < length - 1 else length, "|")
        return "[" + "".join(cells) + "]"


@dataclass(frozen=True)
class FreeQuotaLine:
    model: str
    usage_type: str
    usage_unit: str
    used: Decimal  # usage before the free quota was deducted
    deducted: Decimal  # usage the free quota covered
    list_price: Decimal | None  # per usage unit, from the month's paid rows of the same model and usage type
    saved: Decimal | None  # deducted x list price; None when no single list price is known
    label: str = ""  # the usage type in words
    deducted_text: str = ""  # '467,502 tokens'
    shown_saved: Decimal | None = None


@dataclass(frozen=True)
class SharedCostLine:
    rule: str  # the allocation_rule, e.g. 'console:proportional'
    description: str
    amount: Decimal
    rows: int
    shown: Decimal = ZERO


@dataclass(frozen=True)
class PoolLine:
    """A shared pool a workspace produced and who received which part of it."""

    rule: str
    description: str
    cost_center: str
    name: str
    amount: Decimal


@dataclass(frozen=True)
class UnitCostLine:
    model: str
    tokens_k: Decimal  # thousands of tokens used, free quota included
    amount: Decimal  # payable for those tokens
    per_1k: Decimal | None  # amount / tokens_k, to 8 decimals; None without tokens
    shown: Decimal = ZERO  # the amount as printed: the model's line of "by model" when it is the same amount


@dataclass(frozen=True)
class Discounts:
    """List price less discounts and coupons is the payable total; ``shown`` parts add up the same way."""

    list_cost: Decimal
    discount: Decimal
    coupon: Decimal
    unexplained: Decimal  # list cost - discounts - coupons - billed: 0 when the bill reconciles
    shown_list_cost: Decimal
    shown_discount: Decimal
    shown_coupon: Decimal
    shown_unexplained: Decimal


@dataclass(frozen=True)
class CurrencySection:
    """Everything about the scope's costs in one currency."""

    currency: str
    total: Decimal
    list_cost: Decimal
    discount: Decimal
    coupon: Decimal
    rows: int
    unexplained: Decimal  # list cost - discounts - coupons - billed: 0 when the bill reconciles
    change: ChangeExplained | None  # None when the previous month was never published
    by_model: tuple[Line, ...]
    by_io_type: tuple[Line, ...]  # by usage type, in words ("Input tokens, 0–256K context")
    by_api_key: tuple[Line, ...]  # top N, then one 'others' line
    by_call_source: tuple[Line, ...]
    by_workspace: tuple[Line, ...]
    days: tuple[DayCost, ...]  # every day of the month, zero where nothing was billed
    free_quota: tuple[FreeQuotaLine, ...]
    free_quota_saved: Decimal  # the sum of the known savings
    free_quota_unpriced: int  # free-quota lines whose saving is unknown
    shared: tuple[SharedCostLine, ...]
    unit_costs: tuple[UnitCostLine, ...]
    chart_id: str  # content id of the daily chart image
    trend_chart_id: str = ""
    budget: BudgetStatus | None = None
    trend: tuple[MonthCost, ...] = ()  # the last TREND_MONTHS months, oldest first, this month last
    by_cost_center: tuple[Line, ...] = ()  # who paid (workspace and roll-up statements)
    pools: tuple[PoolLine, ...] = ()  # shared pools the workspace produced (workspace statements)
    discounts: Discounts | None = None

    @property
    def billed_days(self) -> tuple[DayCost, ...]:
        return tuple(d for d in self.days if d.amount != 0)

    @property
    def anomaly_days(self) -> tuple[DayCost, ...]:
        return tuple(d for d in self.days if d.anomaly)

    @property
    def shared_total(self) -> Decimal:
        return sum((s.amount for s in self.shared), ZERO)

    @property
    def shown_total(self) -> Decimal:
        return rounded(self.total, self.currency)


@dataclass(frozen=True)
class StatementView:
    """One statement, ready to render."""

    month: str
    period: str  # 'May 2026' / '2026年5月'
    previous_period: str
    cost_center: str  # the scope's key: a cost center id, or 'workspace:<id>' / 'rollup:<id>'
    name: str
    owners: tuple[str, ...]
    locale: str
    status: str  # provisional | final
    version: int
    content_hash: str
    mapping_version: str
    rows: int
    top_n: int
    sections: tuple[CurrencySection, ...]
    restatement: Restatement | None
    kind: ScopeKind = "cost_center"
    help_line: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # bill key -> SHA-256, as the ledger records them

    @property
    def totals(self) -> dict[str, Decimal]:
        return {s.currency: s.total for s in self.sections}


# ---------------------------------------------------------------------------------------------- rows


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def frame_rows(frame: pd.DataFrame | None, mask: pd.Series | None = None) -> list[dict[str, Any]]:
    """Allocation rows as dicts (strings for dimensions, Decimal for amounts), in a stable order.

    InputError when the table lacks a column of ``ALLOCATION_COLUMNS``.
    """
    if frame is None or frame.empty:
        return []
    missing = [c for c in ALLOCATION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"the allocation table lacks the columns {missing}", source="allocations")
    selected = frame if mask is None else frame[mask]
    columns: list[list[Any]] = []
    for column in ALLOCATION_COLUMNS:  # column by column: a row-by-row conversion is many times slower
        values = selected[column].tolist()
        if column in _AMOUNTS:
            columns.append([v if isinstance(v, Decimal) else to_decimal(None if _text(v) == "" else v)
                            for v in values])
        elif column == "share":
            columns.append([float(v) if _text(v) != "" else 0.0 for v in values])
        elif column == "line_count":
            columns.append([int(v) if _text(v) != "" else 0 for v in values])
        else:
            columns.append([v if type(v) is str else _text(v) for v in values])
    rows = [dict(zip(ALLOCATION_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True)]
    rows.sort(key=_row_order)
    return rows


def scope_rows(frame: pd.DataFrame | None, scope: Scope) -> list[dict[str, Any]]:
    """The rows a scope covers."""
    if frame is None or frame.empty:
        return []
    if "cost_center" not in frame.columns or "workspace_id" not in frame.columns:
        return frame_rows(frame)  # names the missing columns
    return frame_rows(frame, scope.mask(frame))


def cost_center_rows(frame: pd.DataFrame | None, cost_center: str) -> list[dict[str, Any]]:
    """One cost center's rows (see ``frame_rows``)."""
    return scope_rows(frame, Scope("cost_center", cost_center, cost_center, cost_centers=frozenset({cost_center})))


_TEXT_COLUMNS = tuple(c for c in ALLOCATION_COLUMNS if c not in _AMOUNTS and c not in ("share", "line_count"))


def _row_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A stable order: the text columns, then the amounts (what the CSV attachment is sorted by)."""
    return (*(row[c] for c in _TEXT_COLUMNS), *(row[c] for c in LINE_AMOUNTS), row["share"], row["line_count"])


def allocation_hash(rows: Iterable[Mapping[str, Any]]) -> str:
    """A content hash of allocation rows, independent of their order and of how decimals are padded."""
    digest = hashlib.sha256()
    canonical = sorted(
        json.dumps([format_decimal(r[c]) if c in _AMOUNTS else repr(r[c]) if c == "share" else str(r[c])
                    for c in HASHED_COLUMNS], ensure_ascii=False)
        for r in rows
    )
    for line in canonical:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class AnomalyMark:
    """A day an anomaly alert fired for a subject ('cost_center:search', 'api_key:2100001')."""

    subject: str
    day: str
    currency: str


@dataclass(frozen=True)
class Context:
    """What a statement is built from beyond the month's rows; every field has a harmless default."""

    top_n: int = 5
    ledger_entry: LedgerEntry | None = None
    previous_rows: Sequence[Mapping[str, Any]] | None = None  # what the last version showed
    history: Mapping[str, pd.DataFrame | None] = field(default_factory=dict)  # earlier months' sums
    anomalies: Sequence[AnomalyMark] = ()
    help_line: str = ""
    grouping: bool = True


# ---------------------------------------------------------------------------------------------- building


def build_statement(
    allocations_month: pd.DataFrame | None,
    allocations_prev_month: pd.DataFrame | None,
    manifest: Manifest,
    mapping: TeamMapping,
    subject: str | Scope,
    *,
    top_n: int = 5,
    locale: str | None = None,
    ledger_entry: LedgerEntry | None = None,
    context: Context | None = None,
) -> StatementView:
    """The statement of ``subject`` (a cost center id or a ``Scope``) for the manifest's month.

    ``allocations_prev_month`` is None when the previous month was never published (no comparison then).
    ``ledger_entry`` is what was last sent for this statement: when its content hash differs from the rows
    now, the statement is the next version and explains what changed (with ``context.previous_rows``, the
    rows that version showed). ``locale`` overrides the scope's language.
    """
    context = context or Context(top_n=top_n, ledger_entry=ledger_entry)
    if ledger_entry is not None and context.ledger_entry is None:
        context = Context(**{**context.__dict__, "ledger_entry": ledger_entry})
    scope = subject if isinstance(subject, Scope) else cost_center_scope(mapping, subject, locale or "en")
    if locale is not None:
        scope = Scope(scope.kind, scope.id, scope.name, scope.owners, locale, scope.cost_centers, scope.workspace)
    lang = "zh" if scope.locale == "zh" else "en"
    month = manifest.month
    rows = scope_rows(allocations_month, scope)
    previous = None if allocations_prev_month is None else scope_rows(allocations_prev_month, scope)
    content_hash = allocation_hash(rows)
    prices = list_prices(allocations_month)
    sections = []
    with localcontext() as ctx:
        ctx.prec = 60  # sums and products of 12-decimal amounts stay exact
        for currency in sorted({r["currency"] for r in rows}):
            current = [r for r in rows if r["currency"] == currency]
            earlier = None if previous is None else [r for r in previous if r["currency"] == currency]
            sections.append(_section(currency, current, earlier, month, mapping, scope, lang, prices, manifest,
                                     context))
    version = 1
    restatement = None
    entry = context.ledger_entry
    if entry is not None:
        if entry.content_hash == content_hash:
            version = entry.version
        else:
            version = entry.version + 1
            restatement = explain_restatement(entry, context.previous_rows, rows,
                                              frame_rows(allocations_month), manifest, mapping, lang)
    return StatementView(
        month=month,
        period=i18n.period_label(month, lang),
        previous_period=i18n.period_label(previous_month(month), lang),
        cost_center=scope.key,
        name=scope.name,
        owners=scope.owners,
        locale=lang,
        status="final" if manifest.is_final else "provisional",
        version=version,
        content_hash=content_hash,
        mapping_version=manifest.mapping_version or mapping.version,
        rows=len(rows),
        top_n=context.top_n,
        sections=tuple(sections),
        restatement=restatement,
        kind=scope.kind,
        help_line=context.help_line,
        sources=source_digests(manifest),
    )


def with_shown(lines: Sequence[Line], currency: str) -> tuple[Line, ...]:
    """The lines with their shown amounts and shares, rounded together."""
    amounts = [line.amount for line in lines]
    shown = shown_parts(amounts, currency)
    shares = shares_of(amounts)
    return tuple(Line(line.key, line.label, line.amount, share, value, line.note)
                 for line, value, share in zip(lines, shown, shares, strict=True))


def _lines(amounts: Mapping[str, Decimal], currency: str, label: Callable[[str], str],
           order: Callable[[tuple[str, Decimal]], Any] | None = None) -> tuple[Line, ...]:
    items = sorted(amounts.items(), key=order or (lambda kv: (-kv[1], kv[0])))
    return with_shown([Line(k, label(k), v, None) for k, v in items], currency)


def _top(lines: tuple[Line, ...], top_n: int, words: Mapping[str, str], currency: str) -> tuple[Line, ...]:
    if len(lines) <= top_n:
        return lines
    rest = lines[top_n:]
    rest_amount = sum((line.amount for line in rest), ZERO)
    others = Line("", words["others"].format(count=len(rest)), rest_amount, None)
    return with_shown([*lines[:top_n], others], currency)


def _section(currency: str, rows: list[dict[str, Any]], previous: list[dict[str, Any]] | None, month: str,
             mapping: TeamMapping, scope: Scope, locale: str, prices: Mapping[PriceKey, frozenset[Decimal]],
             manifest: Manifest, context: Context) -> CurrencySection:
    words = i18n.strings(locale)
    total = sums.total(rows)
    top_n = context.top_n
    by_key = _top(_lines(sums.grouped(rows, lambda r: r["api_key_id"]), currency,
                         lambda k: k or words["console_key"]), top_n, words, currency)
    usage_labels: dict[str, str] = {}
    for row in rows:
        usage_labels.setdefault(row["usage_type"] + "\0" + row["billing_item"],
                                usage_type_label(row["usage_type"], locale, billing_item=row["billing_item"]))
    days = _days(rows, month, currency, {m.day for m in _marks(context.anomalies, scope, rows, currency)})
    change = None
    if previous is not None:
        change = completed(explain_change(rows, previous, month, locale), rows, previous,
                           [(d.day, d.amount) for d in days], currency, locale, grouping=context.grouping)
    list_cost, discount, coupon = (sums.total(rows, column) for column in ("list_cost", "discount", "coupon"))
    unexplained = list_cost - discount - coupon - total
    shown_list, shown_discount, shown_coupon, shown_unexplained = shown_parts(
        [list_cost, -discount, -coupon, -unexplained], currency)
    by_model = _lines(sums.grouped(rows, lambda r: r["model"]), currency, lambda k: k or words["none"])
    return CurrencySection(
        currency=currency,
        total=total,
        list_cost=list_cost,
        discount=discount,
        coupon=coupon,
        rows=len(rows),
        unexplained=unexplained,
        change=change,
        by_model=by_model,
        by_io_type=_lines(sums.grouped(rows, lambda r: usage_labels[r["usage_type"] + "\0" + r["billing_item"]]),
                          currency, lambda k: k),
        by_api_key=by_key,
        by_call_source=_lines(sums.grouped(rows, lambda r: r["call_source"]), currency,
                              lambda k: call_source_label(k, locale)),
        by_workspace=_lines(sums.grouped(rows, lambda r: r["workspace_id"]), currency,
                            lambda k: mapping.workspace_labels.get(k, k) or words["none"]),
        days=days,
        **_free_quota(rows, prices, locale, currency),
        shared=_shared(rows, mapping, scope, locale, currency),
        unit_costs=_unit_costs(rows, by_model, currency),
        chart_id=f"cost-by-day-{currency.lower() or 'none'}@chargeback",
        trend_chart_id=f"trend-{currency.lower() or 'none'}@chargeback",
        budget=_budget(rows, currency, month, manifest, mapping, scope),
        trend=_trend(month, total, None if previous is None else sums.total(previous), currency, scope, context.history,
                     locale),
        by_cost_center=(() if scope.kind == "cost_center" else
                        _lines(sums.grouped(rows, lambda r: r["cost_center"]), currency,
                               lambda k: mapping.cost_center_name(k) if k != UNALLOCATED else words["unallocated"])),
        pools=_pools(rows, mapping, scope, locale),
        discounts=Discounts(list_cost, discount, coupon, unexplained, shown_list, -shown_discount, -shown_coupon,
                            -shown_unexplained),
    )


def _marks(anomalies: Sequence[AnomalyMark], scope: Scope, rows: Sequence[Mapping[str, Any]],
           currency: str) -> list[AnomalyMark]:
    """The anomaly alerts about this scope: its cost centers, its workspace, or an API key it pays for."""
    subjects = {f"cost_center:{c}" for c in scope.cost_centers}
    if scope.kind == "workspace":
        subjects.add(f"workspace:{scope.workspace}")
    subjects |= {f"api_key:{r['api_key_id']}" for r in rows if r["api_key_id"]}
    return [m for m in anomalies if m.subject in subjects and m.currency in ("", currency)]


def _days(rows: list[dict[str, Any]], month: str, currency: str, anomalies: set[str]) -> tuple[DayCost, ...]:
    amounts = {day.isoformat(): ZERO for day in days_of(month)}
    for day, amount in sums.grouped(rows, lambda r: r["billing_date"]).items():
        amounts[day] = amounts.get(day, ZERO) + amount  # a date outside the month is kept, never dropped
    ordered = sorted(amounts.items())
    shown = shown_parts([amount for _, amount in ordered], currency)
    return tuple(DayCost(day, amount, value, day in anomalies)
                 for (day, amount), value in zip(ordered, shown, strict=True))


def _budget(rows: list[dict[str, Any]], currency: str, month: str, manifest: Manifest, mapping: TeamMapping,
            scope: Scope) -> BudgetStatus | None:
    """The scope's monthly budget in this currency, with the month-end forecast; None without a budget."""
    found: list[tuple[Decimal, str | None, str]] = []
    if scope.kind == "cost_center":
        center = mapping.cost_centers.get(scope.id)
        if center is not None and center.budget is not None:
            found.append((center.budget.monthly, center.budget.currency, f"cost_centers.{scope.id}.budget"))
    for index, extra in enumerate(mapping.alerts.budgets):
        kind, subject_id = extra.subject
        if (kind, subject_id) == (scope.kind, scope.id) or (kind == "workspace" and scope.workspace == subject_id):
            found.append((extra.monthly, extra.currency, f"alerts.budgets[{index}]"))
    currencies = {r["currency"] for r in rows}
    for monthly, budget_currency, source in found:
        if budget_currency == currency or (budget_currency is None and currencies == {currency}):
            return BudgetStatus(monthly, sums.total(rows), *_forecast(rows, month, manifest, mapping), source)
    return None


def _forecast(rows: list[dict[str, Any]], month: str, manifest: Manifest,
              mapping: TeamMapping) -> tuple[Decimal, ForecastBasis]:
    """The month-end spend: the actual when the month's data is complete, else the alerts' run-rate forecast
    (the actual, marked 'too_early', while too few complete days are known)."""
    actual = sums.total(rows)
    series: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        series[date.fromisoformat(row["billing_date"])] += row["billed_cost"]
    if manifest.is_final or not series:
        return actual, "complete"
    newest = max(series)
    settings = mapping.alerts.forecast
    projected = forecast_month(dict(series), month, newest - timedelta(days=1), min(series),
                               settings.window_days, settings.min_complete_days)
    if projected is None:
        return actual, "complete" if newest >= last_day(month) else "too_early"
    return max(projected.value, actual), "run_rate"


def _trend(month: str, total: Decimal, previous_total: Decimal | None, currency: str, scope: Scope,
           history: Mapping[str, pd.DataFrame | None], locale: str) -> tuple[MonthCost, ...]:
    """The scope's total in this currency for the last TREND_MONTHS months (None where none was published);
    ``history`` holds the sums of the months before the previous one (``read_allocation_sums``)."""
    months = [month]
    while len(months) < TREND_MONTHS:
        months.insert(0, previous_month(months[0]))
    trend = []
    for each in months:
        amount: Decimal | None
        if each == month:
            amount = total
        elif each == previous_month(month) and previous_total is not None:
            amount = previous_total
        else:
            sums = history.get(each)
            if sums is None:
                amount = None
            else:
                selected = sums[scope.mask(sums) & (sums["currency"].astype(str) == currency)]
                amount = sum(selected["billed_cost"].tolist(), ZERO)
        trend.append(MonthCost(each, i18n.short_month_label(each, locale), amount))
    return tuple(trend)


PriceKey = tuple[str, str, str, str]  # currency, model, usage type, usage unit


def list_prices(frame: pd.DataFrame | None) -> dict[PriceKey, frozenset[Decimal]]:
    """The list prices that paid rows of the whole month (every cost center) carry, per priced item.

    A price belongs to the model and usage type, not to who paid: a cost center that used only free quota
    still learns what that usage would have cost from the others' paid rows.
    """
    if frame is None or frame.empty:
        return {}
    columns = ["currency", "model", "usage_type", "usage_unit", "list_unit_price"]
    paid = frame.loc[frame["fee_type"] != FREE_QUOTA, columns].drop_duplicates()
    found: dict[PriceKey, set[Decimal]] = defaultdict(set)
    for currency, model, usage_type, unit, text in paid.itertuples(index=False):
        price = list_price(_text(text), source="allocations")
        if price:
            found[(_text(currency), _text(model), _text(usage_type), _text(unit))].add(price)
    return {key: frozenset(values) for key, values in found.items()}


def _free_quota(rows: list[dict[str, Any]], prices: Mapping[PriceKey, frozenset[Decimal]], locale: str,
                currency: str) -> dict[str, Any]:
    used: dict[tuple[str, str, str], list[Decimal]] = {}
    items: dict[tuple[str, str, str], str] = {}
    for row in rows:
        if row["fee_type"] == FREE_QUOTA:
            key = (row["model"], row["usage_type"], row["usage_unit"])
            totals = used.setdefault(key, [ZERO, ZERO])
            totals[0] += row["usage_before_deduction"]
            totals[1] += row["deducted_usage"]
            items.setdefault(key, row["billing_item"])
    lines = []
    for key in sorted(used):
        model, usage_type, unit = key
        before, deducted = used[key]
        found = prices.get((currency, *key), frozenset())
        price = next(iter(found)) if len(found) == 1 else None  # tiers or nobody paid for it: unknown
        lines.append(FreeQuotaLine(model, usage_type, unit, before, deducted, price,
                                   None if price is None else deducted * price,
                                   usage_type_label(usage_type, locale, billing_item=items[key]),
                                   usage_text(deducted, unit, locale)))
    saved = [ln.saved for ln in lines if ln.saved is not None]
    shown = iter(shown_parts(saved, currency))
    lines = [FreeQuotaLine(**{**ln.__dict__, "shown_saved": None if ln.saved is None else next(shown)})
             for ln in lines]
    return {
        "free_quota": tuple(lines),
        "free_quota_saved": sum(saved, ZERO),
        "free_quota_unpriced": sum(1 for ln in lines if ln.saved is None),
    }


def _rule_label(rule: str, mapping: TeamMapping, cost_center: str, locale: str) -> str:
    pool = rule.partition(":")[0]
    fixed = getattr(mapping.shared_costs, pool, None) if pool in ("console", "unmapped") else None
    percent = None
    if isinstance(fixed, FixedShares) and cost_center in fixed.fixed:
        percent = format_decimal(fixed.fixed[cost_center])
    return i18n.sharing_rule_label(rule, locale, percent)


def _shared(rows: list[dict[str, Any]], mapping: TeamMapping, scope: Scope, locale: str,
            currency: str) -> tuple[SharedCostLine, ...]:
    amounts = sums.grouped((r for r in rows if r["allocation_rule"] not in DIRECT_RULES),
                       lambda r: r["allocation_rule"])
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["allocation_rule"]] += 1
    center = scope.id if scope.kind == "cost_center" else ""
    rules = sorted(amounts)
    shown = shown_parts([amounts[r] for r in rules], currency)
    return tuple(SharedCostLine(rule, _rule_label(rule, mapping, center, locale), amounts[rule], counts[rule], value)
                 for rule, value in zip(rules, shown, strict=True))


def _pools(rows: list[dict[str, Any]], mapping: TeamMapping, scope: Scope, locale: str) -> tuple[PoolLine, ...]:
    """For a workspace: each shared pool it produced, per cost center that received a part."""
    if scope.kind != "workspace":
        return ()
    amounts = sums.grouped((r for r in rows if r["allocation_rule"] not in DIRECT_RULES),
                       lambda r: r["allocation_rule"] + "\0" + r["cost_center"])
    lines = []
    for key in sorted(amounts):
        rule, _, center = key.partition("\0")
        lines.append(PoolLine(rule, _rule_label(rule, mapping, center, locale), center,
                              mapping.cost_center_name(center), amounts[key]))
    return tuple(lines)


def _unit_costs(rows: list[dict[str, Any]], by_model: Sequence[Line], currency: str) -> tuple[UnitCostLine, ...]:
    tokens: dict[str, Decimal] = defaultdict(lambda: ZERO)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        per_unit = tokens_per_unit(row["usage_unit"])
        if per_unit is None:
            continue
        tokens[row["model"]] += (row["usage"] + row["deducted_usage"]) * per_unit / THOUSAND
        amounts[row["model"]] += row["billed_cost"]
    lines = []
    for model in sorted(tokens):
        per_1k = None
        if tokens[model] != 0:
            per_1k = (amounts[model] / tokens[model]).quantize(UNIT_COST_STEP, rounding=ROUND_HALF_EVEN)
        same = next((line.shown for line in by_model if line.key == model and line.amount == amounts[model]), None)
        lines.append(UnitCostLine(model, tokens[model], amounts[model], per_1k,
                                  rounded(amounts[model], currency) if same is None else same))
    return tuple(lines)


def model_totals(view: StatementView) -> dict[str, dict[str, str]]:
    """currency -> model -> exact amount text, as the ledger keeps them."""
    return {s.currency: {line.key: format_decimal(line.amount) for line in s.by_model} for s in view.sections}


__all__ = ["AnomalyMark", "BudgetStatus", "ChangeExplained", "Context", "CurrencySection", "DayCost", "Line",
           "MonthCost", "Restatement", "Scope", "StatementView", "allocation_hash", "build_statement",
           "cost_center_rows", "cost_center_scope", "explain_change", "frame_rows", "model_totals",
           "rollup_scope", "scope_rows", "workspace_scope"]
