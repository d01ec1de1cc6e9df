"""The statement's charts as PNG images (mail clients show PNGs, Gmail drops inline SVG), drawn with matplotlib.

Two charts per currency: the cost by day of the month, and the last six months. Both have axes with amounts,
dates or months under the bars and value labels where they matter (the highest day, the days an anomaly alert
flagged, every month of the trend); they read in grayscale (flagged days and the month shown are hatched or
darker, never told apart by colour alone) and at the 600 px of a mail column (drawn at twice that for sharp
screens). Labels are digits and Latin letters only, so no CJK font is needed in the image; the statement's
text around it is localised. matplotlib is imported only here, when a statement is rendered.

The output is deterministic: the same values give the same bytes (no timestamp or software tag in the PNG).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from chargeback.display import format_money

WIDTH_PX = 560  # as shown in the mail's 600 px column (with its padding)
SCALE = 2  # drawn at twice the shown size
DPI = 100
BAR = "#2f4b7c"
BAR_LIGHT = "#a3b3cc"
FLAGGED = "#d95f02"
INK = "#1f2328"
GRID = "#d0d7de"


@dataclass(frozen=True)
class DayBar:
    day: str  # YYYY-MM-DD
    amount: Decimal
    flagged: bool = False  # an anomaly alert fired for this day


@dataclass(frozen=True)
class MonthBar:
    month: str  # YYYY-MM
    amount: Decimal | None  # None: the month was not published
    current: bool = False


def _figure(height_px: int) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # the statement path only: the alert and run paths never load it

    figure = Figure(figsize=(WIDTH_PX * SCALE / DPI, height_px * SCALE / DPI), dpi=DPI)
    axes = figure.add_subplot()
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color(GRID)
    axes.spines["bottom"].set_color(INK)
    axes.tick_params(colors=INK, labelsize=18, length=6)
    axes.yaxis.grid(True, color=GRID, linewidth=1.2)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _axis_amounts(axes: Any, currency: str, top: float) -> None:
    """Amounts on the y axis: whole numbers when the chart reaches 10 or more, else two decimals (all alike)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    places = 0 if top >= 10 else 2
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else f"{v:,.{places}f}"))
    axes.set_ylabel(currency, fontsize=18, color=INK)


def _label(value: Decimal, currency: str) -> str:
    return format_money(value, currency)


def daily_chart_png(days: Sequence[DayBar], currency: str, *, height_px: int = 220) -> bytes:
    """A bar per day with the dates under it, the highest day and the flagged days labelled with their cost."""
    return _daily(tuple(days), currency, height_px)


def trend_chart_png(months: Sequence[MonthBar], currency: str, *, height_px: int = 170) -> bytes:
    """A bar per month (the statement's month darker and hatched), each labelled with its cost."""
    return _trend(tuple(months), currency, height_px)


@lru_cache(maxsize=128)  # the same figures draw the same bytes: a rerun or a preview does not draw twice
def _daily(days: tuple[DayBar, ...], currency: str, height_px: int) -> bytes:
    figure, axes = _figure(height_px)
    xs = list(range(1, len(days) + 1))
    values = [float(d.amount) for d in days]
    colours = [FLAGGED if d.flagged else (BAR_LIGHT if d.amount < 0 else BAR) for d in days]
    hatches = ["///" if d.flagged else ("\\\\\\" if d.amount < 0 else "") for d in days]
    bars = axes.bar(xs, values, width=0.75, color=colours, edgecolor=INK, linewidth=0.6)
    for bar, hatch in zip(bars, hatches, strict=True):
        if hatch:
            bar.set_hatch(hatch)
    ticks = [i for i in xs if i == 1 or i % 5 == 0]
    if ticks and len(days) - ticks[-1] >= 3:
        ticks.append(len(days))
    axes.set_xticks(ticks, [days[i - 1].day[5:] for i in ticks])
    axes.set_xlim(0.3, len(days) + 0.7)
    top = max(values, default=0.0)
    _axis_amounts(axes, currency, top)
    axes.set_ylim(min(0.0, min(values, default=0.0)) * 1.15, (top if top > 0 else 1.0) * 1.25)
    labelled = {i for i, d in enumerate(days) if d.flagged}
    if top > 0:
        labelled.add(max(range(len(days)), key=lambda i: (values[i], -i)))
    for i in sorted(labelled):
        axes.annotate(_label(days[i].amount, currency), (xs[i], max(values[i], 0.0)), xytext=(0, 6),
                      textcoords="offset points", ha="center", va="bottom", fontsize=17, color=INK,
                      fontweight="bold")
    figure.subplots_adjust(left=0.13, right=0.98, top=0.95, bottom=0.15)
    return _png(figure)


@lru_cache(maxsize=128)
def _trend(months: tuple[MonthBar, ...], currency: str, height_px: int) -> bytes:
    figure, axes = _figure(height_px)
    xs = list(range(len(months)))
    values = [float(m.amount) if m.amount is not None else 0.0 for m in months]
    bars = axes.bar(xs, values, width=0.6, color=[BAR if m.current else BAR_LIGHT for m in months],
                    edgecolor=INK, linewidth=0.6)
    for bar, month in zip(bars, months, strict=True):
        if month.current:
            bar.set_hatch("//")
    axes.set_xticks(xs, [m.month for m in months])
    top = max(values, default=0.0)
    _axis_amounts(axes, currency, top)
    axes.set_ylim(min(0.0, min(values, default=0.0)) * 1.2, (top if top > 0 else 1.0) * 1.35)
    for x, month, value in zip(xs, months, values, strict=True):
        text = "n/a" if month.amount is None else _label(month.amount, currency)
        axes.annotate(text, (x, max(value, 0.0)), xytext=(0, 6), textcoords="offset points", ha="center",
                      va="bottom", fontsize=16, color=INK, fontweight="bold" if month.current else "normal")
    figure.subplots_adjust(left=0.13, right=0.98, top=0.93, bottom=0.2)
    return _png(figure)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, from its header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
