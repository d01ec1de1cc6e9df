"""Rendering a DashboardView as one self-contained HTML page, with Jinja2 (autoescape on, strict undefined).

Everything is inline: CSS in a ``<style>``, charts as ``<svg>``; there is no script and nothing to fetch, so
the page reads the same from a bucket, a mail attachment or a laptop. Amounts follow the display policy
(``chargeback.display``); each shown amount also carries its exact value in a ``data-amount`` attribute,
which the tests check against the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from chargeback.dashboard import charts
from chargeback.dashboard.view import DashboardView, Series
from chargeback.display import format_money, format_percent, format_signed_money, percent_of
from chargeback.money import format_decimal


def shown(values: Sequence[Decimal], currency: str) -> list[str]:
    """Amounts shown beside their total (the last value), as the display policy shows parts of a whole."""
    return [format_money(v) for v in values]


def money(value: Decimal, currency: str) -> str:
    """One amount as the display policy shows it."""
    return format_money(value)


def signed(value: Decimal, currency: str) -> str:
    """A change, with its sign."""
    return format_signed_money(value)


def _percent(value: Decimal | None) -> str:
    return format_percent(value)


def _series(series: Sequence[Series]) -> list[tuple[str, Sequence[Decimal], str]]:
    """(name, amounts, colour) of each series; the others (no key) in grey."""
    return [(item.name, item.amounts, charts.OTHERS_COLOUR if not item.key else charts.colour(index))
            for index, item in enumerate(series)]


def _charts(view: DashboardView) -> dict[str, dict[str, Any]]:
    said = view.words
    out: dict[str, dict[str, Any]] = {}
    for c in view.currencies:
        labels = [p.label for p in c.months]
        missing = [p.status == "missing" for p in c.months]
        centers, sources = _series(c.by_cost_center), _series(c.by_source)
        unallocated = [percent_of(u, p.amount) or Decimal(0) for u, p in zip(c.unallocated, c.months, strict=True)]
        out[c.currency] = {
            "months": charts.column_chart(labels, [p.amount for p in c.months], missing=missing,
                                          title=said["by_month_alt"].format(currency=c.currency)),
            "centers": charts.stacked_chart(labels, centers,
                                            title=said["by_cost_center_alt"].format(currency=c.currency)),
            "center_colours": [fill for _, _, fill in centers],
            "sources": charts.stacked_chart(labels, sources, percent=True,
                                            title=said["sources_alt"].format(currency=c.currency)),
            "source_colours": [fill for _, _, fill in sources],
            "unallocated": charts.column_chart(labels, unallocated, percent=True, missing=missing,
                                               title=said["unallocated_alt"].format(currency=c.currency)),
        }
    return out


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("chargeback.dashboard", "templates"),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["exact"] = lambda v: format_decimal(v) if v is not None else ""
    env.filters["pct"] = _percent
    env.globals["money"] = money
    env.globals["signed"] = signed
    env.globals["shown"] = shown
    env.globals["percent_of"] = percent_of
    env.globals["meter"] = charts.meter
    return env


def render_dashboard(view: DashboardView) -> str:
    """The page's HTML (UTF-8 text)."""
    said = view.words

    def tr(key: str, **values: Any) -> str:
        return said[key].format(**values) if values else said[key]  # KeyError: a missing word is a bug

    template = _environment().get_template("dashboard.html.j2")
    return template.render(view=view, tr=tr, charts=_charts(view), hundred=Decimal(100), Markup=Markup)


__all__ = ["money", "render_dashboard", "shown"]
