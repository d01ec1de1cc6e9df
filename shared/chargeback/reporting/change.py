"""This month against the previous one: three effects that add up to the change, its drivers and one sentence.

The change is split into three effects that add up exactly to it:

- volume: how much more or less was used, valued at last month's average price per usage unit;
- model mix: the shift between cheaper and dearer models and token types at last month's prices
  (a model new this month is valued at its own price);
- price: what the same usage cost more or less than last month (list prices, discounts, free quota).

Volume and mix are rounded to the bill's finest decimal; the price effect is the exact remainder. The drivers
are the API keys and models whose own change contributes most to the change (each one's change this month
against last, which add up to the change over all keys, and over all models), and the day that stands out
most above the month's median day. ``change_sentence`` says all of it in one sentence, in English or Chinese.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

from chargeback.display import format_money, money, percent_of, rounded, shown_parts
from chargeback.money import ZERO, quantum_of
from chargeback.months import previous_month
from chargeback.reporting import i18n, sums
from chargeback.reporting.sums import Row

DriverKind = Literal["api_key", "model"]
Effect = Literal["volume", "mix", "price"]
TOP_DRIVERS = 2
DRIVER_SHARE = Decimal("0.25")
"""A key or model is named only if it makes up at least this share of the change (the first one always)."""
PEAK_SHARE = Decimal("0.1")
"""The peak day is named when its excess over the median day is at least this share of the month's total."""


@dataclass(frozen=True)
class Driver:
    """An API key or model and its own change this month against last (same currency)."""

    kind: DriverKind
    key: str
    label: str
    change: Decimal


@dataclass(frozen=True)
class PeakDay:
    """The day that stands out most above the month's median day."""

    day: str  # YYYY-MM-DD
    amount: Decimal
    median: Decimal
    api_key: str | None = None  # the API key that rose most that day against its own usual day ('' console)
    model: str | None = None  # the model that rose most that day


@dataclass(frozen=True)
class ChangeExplained:
    """This month against the previous one; ``volume + mix + price == change`` exactly."""

    previous_month: str
    previous_period: str
    previous_total: Decimal
    change: Decimal
    percent: Decimal | None
    volume: Decimal
    mix: Decimal
    price: Decimal
    drivers: tuple[Driver, ...] = ()
    peak: PeakDay | None = None
    sentence: str = ""
    shown_change: Decimal = ZERO  # the shown total less the shown previous total
    shown_effects: tuple[Decimal, Decimal, Decimal] = (ZERO, ZERO, ZERO)  # add up to shown_change

    @property
    def main_effect(self) -> Effect | None:
        """The effect that moved the total most in the direction of the change."""
        if self.change == 0:
            return None
        sign = 1 if self.change > 0 else -1
        effects: list[tuple[Decimal, Effect]] = [(self.volume * sign, "volume"), (self.mix * sign, "mix"),
                                                 (self.price * sign, "price")]
        best = max(effects, key=lambda item: item[0])
        return best[1] if best[0] > 0 else None


def explain_change(current: Sequence[Row], previous: Sequence[Row], month: str,
                   locale: str = "en") -> ChangeExplained:
    """The change from ``previous`` to ``current`` rows (one currency) as volume, mix and price effects."""
    quantum = min(quantum_of([r["billed_cost"] for r in (*current, *previous)]), Decimal("0.01"))

    def item(row: Row) -> tuple[str, str, str]:
        return (row["model"], row["usage_type"], row["usage_unit"])

    q0: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    c0: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    q1: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    c1: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    with localcontext() as ctx:
        ctx.prec = 60
        for row in previous:
            q0[item(row)] += row["usage"]
            c0[item(row)] += row["billed_cost"]
        for row in current:
            q1[item(row)] += row["usage"]
            c1[item(row)] += row["billed_cost"]
        # Current usage valued at last month's price per item.
        at_old_prices: dict[tuple[str, str, str], Decimal] = {}
        for key in set(q0) | set(q1):
            if q0[key] != 0:
                at_old_prices[key] = (c0[key] * q1[key] / q0[key]).quantize(quantum, rounding=ROUND_HALF_EVEN)
            elif q1[key] != 0:
                at_old_prices[key] = c1[key]  # new this month: its own price, so no price effect
            else:
                at_old_prices[key] = c0[key]  # no usage either month: any change is price
        volume = mix = ZERO
        for unit in sorted({k[2] for k in at_old_prices}):
            keys = [k for k in at_old_prices if k[2] == unit]
            used_before = sum((q0[k] for k in keys), ZERO)
            used_now = sum((q1[k] for k in keys), ZERO)
            cost_before = sum((c0[k] for k in keys), ZERO)
            valued_now = sum((at_old_prices[k] for k in keys), ZERO)
            if used_before != 0:
                unit_volume = (cost_before * used_now / used_before - cost_before).quantize(
                    quantum, rounding=ROUND_HALF_EVEN)
            else:
                unit_volume = valued_now - cost_before  # a unit not used last month: all of it is volume
            volume += unit_volume
            mix += valued_now - cost_before - unit_volume
        total_before = sums.total(previous)
        total_now = sums.total(current)
        price = total_now - sum(at_old_prices.values(), ZERO)
    previous_month_ = previous_month(month)
    return ChangeExplained(
        previous_month=previous_month_,
        previous_period=i18n.period_label(previous_month_, locale),
        previous_total=total_before,
        change=total_now - total_before,
        percent=percent_of(total_now - total_before, total_before),
        volume=volume,
        mix=mix,
        price=price,
    )


def drivers(current: Sequence[Row], previous: Sequence[Row], change: Decimal, locale: str) -> tuple[Driver, ...]:
    """The API keys and models whose own change makes up most of ``change`` (top two of each)."""
    if change == 0:
        return ()
    words = i18n.strings(locale)
    found: list[Driver] = []
    columns: tuple[tuple[DriverKind, str], ...] = (("api_key", "api_key_id"), ("model", "model"))
    for kind, column in columns:
        now = sums.grouped_by(current, column)
        before = sums.grouped_by(previous, column)
        contributions = {k[0]: now.get(k, ZERO) - before.get(k, ZERO) for k in set(now) | set(before)}
        ranked = sorted(contributions.items(), key=lambda kv: (-kv[1] * (1 if change > 0 else -1), kv[0]))
        for index, (key, amount) in enumerate(ranked[:TOP_DRIVERS]):
            same_direction = (amount > 0) == (change > 0) and amount != 0
            if not same_direction or (index > 0 and abs(amount) < abs(change) * DRIVER_SHARE):
                break
            if kind == "api_key":
                label = words["driver_key"].format(key=key) if key else words["driver_console"]
            else:
                label = words["driver_model"].format(model=key or words["none"])
            found.append(Driver(kind, key, label, amount))
    return tuple(found)


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _riser(rows: Sequence[Row], column: str, day: str) -> str | None:
    """The value of ``column`` whose cost on ``day`` is furthest above its median billed day."""
    series: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in rows:
        series[str(row[column])][str(row["billing_date"])] += row["billed_cost"]
    best: tuple[Decimal, str] | None = None
    for value, by_day in series.items():
        others = [v for d, v in by_day.items() if d != day and v != 0]
        rise = by_day.get(day, ZERO) - (_median(others) if others else ZERO)
        if rise > 0 and (best is None or (rise, value) > best):
            best = (rise, value)
    return None if best is None else best[1]


def peak_day(days: Sequence[tuple[str, Decimal]], total: Decimal, rows: Sequence[Row] = ()) -> PeakDay | None:
    """The day furthest above the median of the month's billed days, if it stands out, with the API key and
    model that rose most that day."""
    values = [amount for _, amount in days if amount != 0]
    if not values or total <= 0:
        return None
    median = _median(values)
    day, amount = max(days, key=lambda d: (d[1], d[0]))
    if amount - median < total * PEAK_SHARE or amount < median * 2:
        return None
    return PeakDay(day, amount, median, _riser(rows, "api_key_id", day), _riser(rows, "model", day))


def day_label(day: str, locale: str) -> str:
    """'2026-05-20' -> '20 May' / '5月20日'."""
    when = date.fromisoformat(day)
    if locale == "zh":
        return f"{when.month}月{when.day}日"
    return f"{when.day} {i18n.month_name(when.month)}"


def change_sentence(change: ChangeExplained, currency: str, locale: str, *, grouping: bool = True) -> str:
    """The change in one sentence: how much, against what, mostly why, the keys and models behind it and the
    day that stands out."""
    words = i18n.strings(locale)
    if change.change == 0:
        return words["change_none"].format(period=change.previous_period)
    direction = words["change_up"] if change.change > 0 else words["change_down"]
    amount = money(abs(change.shown_change or change.change), currency, grouping=grouping)
    percent = "" if change.percent is None else words["change_percent"].format(
        percent=f"{'+' if change.percent > 0 else ''}{change.percent:.1f}%")
    effect = change.main_effect
    because = ""
    if effect is not None:
        because = words[f"because_{effect}_{'up' if change.change > 0 else 'down'}"]
    parts = [words["driver_item"].format(label=d.label, amount=format_money(d.change, currency, grouping=grouping,
                                                                            signed=True))
             for d in change.drivers]
    sentence = words["change_sentence"].format(direction=direction, amount=amount, percent=percent,
                                               period=change.previous_period, because=because)
    if parts:
        sentence += words["change_drivers"].format(drivers=words["list_separator"].join(parts))
    peak = change.peak
    if peak is not None:
        sentence += words["change_peak"].format(
            day=day_label(peak.day, locale), amount=money(peak.amount, currency, grouping=grouping),
            median=money(peak.median, currency, grouping=grouping))
        behind = []
        if peak.api_key is not None:
            behind.append(words["driver_key"].format(key=peak.api_key) if peak.api_key else words["driver_console"])
        if peak.model:
            behind.append(words["driver_model"].format(model=peak.model))
        if behind:
            sentence += words["change_peak_behind"].format(what=words["and"].join(behind))
    return sentence + words["sentence_end"]


def completed(change: ChangeExplained, current: Sequence[Row], previous: Sequence[Row],
              days: Sequence[tuple[str, Decimal]], currency: str, locale: str, *,
              grouping: bool = True) -> ChangeExplained:
    """``change`` with its drivers, peak day, shown figures and sentence filled in."""
    total_now = sums.total(current)
    shown_change = rounded(total_now, currency) - rounded(change.previous_total, currency)
    effects = shown_parts([change.volume, change.mix, change.price], currency, total=shown_change)
    filled = ChangeExplained(
        previous_month=change.previous_month, previous_period=change.previous_period,
        previous_total=change.previous_total, change=change.change, percent=change.percent,
        volume=change.volume, mix=change.mix, price=change.price,
        drivers=drivers(current, previous, change.change, locale),
        peak=peak_day(days, total_now, current),
        shown_change=shown_change, shown_effects=(effects[0], effects[1], effects[2]),
    )
    return ChangeExplained(**{**filled.__dict__, "sentence": change_sentence(filled, currency, locale,
                                                                             grouping=grouping)})
