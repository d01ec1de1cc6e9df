"""The dashboard's charts as inline SVG: columns per month, stacked columns, and small bars for tables.

Each chart scales to its container (a ``viewBox`` and ``width: 100%``), carries a ``<title>`` and an
``aria-label`` for screen readers, and escapes every text it takes from data. Colours are the Okabe-Ito set,
which stays apart for colour-blind readers; the figures themselves are in the tables beside each chart.
The output is deterministic: the same numbers give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup

PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                            "#999999")
AXIS = "#8c959f"
GRID = "#eaeef2"
TEXT = "#24292f"
WIDTH, HEIGHT = 520, 280
LEFT, RIGHT, TOP, BOTTOM = 62, 8, 14, 40


def colour(index: int) -> str:
    """The colour of the ``index``-th series; the last colour (grey) is kept for 'others'."""
    return PALETTE[index % (len(PALETTE) - 1)]


OTHERS_COLOUR = PALETTE[-1]


def compact(value: Decimal) -> str:
    """An axis tick: 950, 1.2K, 3.4M (the tables beside the chart carry the amounts)."""
    magnitude = abs(value)
    for step, suffix in ((Decimal(10) ** 9, "G"), (Decimal(10) ** 6, "M"), (Decimal(1000), "K")):
        if magnitude >= step:
            shown = (value / step).quantize(Decimal("0.1"))
            return f"{shown.normalize():f}{suffix}"
    if magnitude >= 10 or magnitude == 0:
        return f"{value.quantize(Decimal(1)):f}"
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def _nice_top(value: Decimal) -> Decimal:
    """A round axis maximum at or above ``value``: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        top = factor * Decimal(10) ** exponent
        if top >= value:
            return top
    return Decimal(10) ** (exponent + 1)  # pragma: no cover - 10 x 10^e always holds


def _frame(title: str, body: list[Markup], *, kind: str) -> Markup:
    head = Markup('<svg class="chart chart-{}" viewBox="0 0 {} {}" role="img" aria-label="{}" '
                  'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"><title>{}</title>')
    return head.format(kind, WIDTH, HEIGHT, title, title) + Markup("").join(body) + Markup("</svg>")


def _axes(top: Decimal, labels: Sequence[str], *, percent: bool) -> list[Markup]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        tick = f"{value.normalize():f}%" if percent else compact(value)
        parts.append(Markup('<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="{}"/>').format(
            LEFT, y, WIDTH - RIGHT, y, GRID))
        parts.append(Markup('<text x="{}" y="{:.1f}" font-size="15" text-anchor="end" fill="{}">{}</text>').format(
            LEFT - 6, y + 5, TEXT, tick))
    parts.append(Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
        LEFT, TOP + plot_h, WIDTH - RIGHT, TOP + plot_h, AXIS))
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    every = 1 if len(labels) <= 6 else 2 if len(labels) <= 12 else 3  # fewer month labels when there are many
    for i, label in enumerate(labels):
        if i % every and i != len(labels) - 1:
            continue
        parts.append(Markup('<text x="{:.1f}" y="{}" font-size="16" text-anchor="middle" fill="{}">{}</text>').format(
            LEFT + step * (i + 0.5), HEIGHT - BOTTOM + 22, TEXT, label))
    return parts


_BAR = Markup('<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">'
              '<title>{}</title></rect>')
_GAP = Markup('<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="none" stroke="{}" stroke-dasharray="4 3"/>')


def column_chart(labels: Sequence[str], values: Sequence[Decimal], *, title: str, percent: bool = False,
                 missing: Sequence[bool] = ()) -> Markup:
    """One column per label (a month); ``missing`` months get a dashed outline instead of a column."""
    highest = max([v for v in values if v > 0], default=Decimal(0))
    top = min(_nice_top(max(highest, Decimal(1))), Decimal(100)) if percent else _nice_top(highest)
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body = _axes(top, labels, percent=percent)
    for i, value in enumerate(values):
        x, width = LEFT + step * i + step * 0.15, step * 0.7
        if missing and missing[i]:
            body.append(_GAP.format(x, TOP, width, plot_h, AXIS))
            continue
        height = plot_h * float(max(value, Decimal(0)) / top)
        body.append(_BAR.format(x, TOP + plot_h - height, width, height, PALETTE[0],
                                f"{labels[i]}: {compact(value)}{'%' if percent else ''}"))
    return _frame(title, body, kind="columns")


def stacked_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal], str]], *, title: str,
                  percent: bool = False) -> Markup:
    """Stacked columns, one per label; ``series`` is (name, values per label, colour). With ``percent`` each
    column is scaled to its own total (shares of 100%)."""
    columns = [sum((s[1][i] for s in series), Decimal(0)) for i in range(len(labels))]
    top = Decimal(100) if percent else _nice_top(max(columns, default=Decimal(0)))
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body = _axes(top, labels, percent=percent)
    for i, column_total in enumerate(columns):
        x, width = LEFT + step * i + step * 0.15, step * 0.7
        base = float(TOP + plot_h)
        for name, values, fill in series:
            value = max(values[i], Decimal(0))
            if value == 0 or (percent and column_total <= 0):
                continue
            height = plot_h * float(value / column_total if percent else value / top)
            base -= height
            body.append(_BAR.format(x, base, width, height, fill, f"{labels[i]}, {name}"))
    return _frame(title, body, kind="stacked")


def meter(fraction: Decimal | None, *, title: str, mark: Decimal | None = None, fill: str = PALETTE[0]) -> Markup:
    """A small horizontal bar for a table cell: ``fraction`` of it filled (capped at 1; red beyond 1), with
    an optional ``mark`` (a fraction) drawn as a tick."""
    shown = min(max(fraction or Decimal(0), Decimal(0)), Decimal(1))
    over = fraction is not None and fraction > 1
    parts = [Markup('<rect x="0" y="2" width="100" height="8" fill="{}"/>').format(GRID),
             Markup('<rect x="0" y="2" width="{:.2f}" height="8" fill="{}"/>').format(
                 float(shown) * 100, "#cf222e" if over else fill)]
    if mark is not None:
        x = float(min(max(mark, Decimal(0)), Decimal(1))) * 100
        parts.append(Markup('<rect x="{:.2f}" y="0" width="1.2" height="12" fill="{}"/>').format(max(x - 0.6, 0), TEXT))
    head = Markup('<svg class="meter" viewBox="0 0 100 12" preserveAspectRatio="none" role="img" aria-label="{}" '
                  'xmlns="http://www.w3.org/2000/svg"><title>{}</title>').format(title, title)
    return head + Markup("").join(parts) + Markup("</svg>")


__all__ = ["OTHERS_COLOUR", "PALETTE", "colour", "column_chart", "compact", "meter", "stacked_chart"]
