"""Rendering statements: subject, plain text, HTML and the chart images, with Jinja2.

Autoescape is on for HTML templates (a cost center called ``<script>`` arrives as text); the plain-text
template is not HTML and is not escaped. A variable or word the template lacks is an error, never a blank.
Every amount goes through the one display policy (``chargeback.display``): the filters ``money``, ``signed``,
``unit_price`` and ``tokens``. ``breakable`` gives long names from the data break points (``<wbr>``), since
mail clients drop the CSS that would wrap them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from chargeback.delivery import InlineImage
from chargeback.display import (
    format_money,
    format_percent,
    format_quantity,
    format_signed_money,
    format_unit_price,
    money,
)
from chargeback.reporting import i18n
from chargeback.reporting.change import day_label
from chargeback.reporting.chart import DayBar, MonthBar, daily_chart_png, trend_chart_png
from chargeback.reporting.finance import FinanceView
from chargeback.reporting.view import CurrencySection, DayCost, StatementView

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_LONG = 18  # characters without a break opportunity before the HTML gets one
_BREAK_AFTER = re.compile(r"(?<=[-_/.,;:=&@)\]])")


@dataclass(frozen=True)
class RenderedStatement:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...]


def breakable(value: Any) -> Markup:
    """Escaped text in which every long run of characters gets ``<wbr>`` break points (after punctuation, and
    at least every ``_LONG`` characters), so that long IDs and names wrap in a narrow column."""
    pieces: list[str] = []
    for word in re.split(r"(\s+)", str(value)):
        if len(word) <= _LONG:
            pieces.append(str(escape(word)))
            continue
        chunks: list[str] = []
        for part in _BREAK_AFTER.split(word):
            chunks.extend(part[i:i + _LONG] for i in range(0, len(part), _LONG))
        pieces.append("<wbr>".join(str(escape(c)) for c in chunks if c))
    return Markup("".join(pieces))  # noqa: S704 - every piece was escaped above; only <wbr> is added


def _tokens(thousands: Decimal, grouping: bool = True) -> str:
    return format_quantity(thousands * 1000, grouping=grouping)


def _prices(values: Sequence[Decimal]) -> str:
    return "/".join(format_unit_price(v) for v in values)


@cache
def environment(grouping: bool = True) -> Environment:
    """The Jinja2 environment of the statement templates, with the display filters."""
    env = Environment(
        loader=PackageLoader("chargeback.reporting", "templates"),
        # HTML (and anything unknown) escaped; only the plain-text part, which is not HTML, is not.
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), disabled_extensions=("txt.j2",),
                                     default_for_string=True, default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(display_filters(grouping))
    return env


def display_filters(grouping: bool = True) -> dict[str, Callable[..., Any]]:
    """The template filters of the display policy, for every mail template (statements and alerts)."""
    return {
        "money": lambda v, currency="": format_money(v, currency, grouping=grouping),
        "signed": lambda v, currency="": format_signed_money(v, currency, grouping=grouping),
        "unit_price": lambda v: "–" if v is None else format_unit_price(v, grouping=grouping),
        "tokens": lambda v: _tokens(v, grouping),
        "prices": _prices,
        "pct": format_percent,
        "spct": lambda v: format_percent(v, signed=True),
        "breakable": breakable,
    }


def translator(locale: str) -> Callable[..., str]:
    words = i18n.strings(locale)

    def tr(key: str, **values: Any) -> str:
        return words[key].format(**values) if values else words[key]  # KeyError: a missing word is a bug

    return tr


class AltText:
    """The alt texts of a statement's charts, in its language: what the picture says, in words."""

    def __init__(self, view: StatementView) -> None:
        self.view = view
        self.words = i18n.strings(view.locale)

    def days(self, days: Sequence[DayCost]) -> str:
        return self.words["list_separator"].join(day_label(d.day, self.view.locale) for d in days)

    def daily(self, section: CurrencySection) -> str:
        billed = section.billed_days
        if not billed:
            return self.words["chart_alt_empty"].format(currency=section.currency, period=self.view.period)
        peak = max(billed, key=lambda d: (d.amount, d.day))
        return self.words["chart_alt"].format(currency=section.currency, period=self.view.period,
                                              peak_amount=money(peak.amount, section.currency),
                                              peak_day=day_label(peak.day, self.view.locale))

    def trend(self, section: CurrencySection) -> str:
        missing = self.words["trend_not_published"]
        months = self.words["list_separator"].join(
            f"{m.label} {missing if m.amount is None else format_money(m.amount, section.currency)}"
            for m in section.trend)
        return self.words["trend_alt"].format(currency=section.currency, months=months)


def statement_subject(view: StatementView) -> str:
    """The subject line; names from data lose any control characters (a header is one line)."""
    words = i18n.strings(view.locale)
    template = words["subject_corrected"] if view.restatement else words["subject"]
    name = _CONTROL.sub(" ", view.name).strip()
    return template.format(name=name, period=view.period, status=words[f"status_{view.status}"])


def chart_images(view: StatementView) -> tuple[InlineImage, ...]:
    """Per currency section: the cost by day (anomaly days flagged) and the six-month trend."""
    images = []
    for section in view.sections:
        days = [DayBar(d.day, d.amount, d.anomaly) for d in section.days]
        images.append(InlineImage(section.chart_id, daily_chart_png(days, section.currency)))
        months = [MonthBar(m.month, m.amount, m.month == view.month) for m in section.trend]
        images.append(InlineImage(section.trend_chart_id, trend_chart_png(months, section.currency)))
    return tuple(images)


def render_statement(view: StatementView, *, grouping: bool = True) -> RenderedStatement:
    """The statement's subject, text part, HTML part and inline images."""
    env = environment(grouping)
    subject = statement_subject(view)
    context = {"view": view, "subject": subject, "tr": translator(view.locale), "alt": AltText(view)}
    text = env.get_template("statement.txt.j2").render(context)
    html = env.get_template("statement.html.j2").render(context)
    return RenderedStatement(subject, text, html, chart_images(view))


def render_finance(view: FinanceView, *, grouping: bool = True) -> RenderedStatement:
    """The finance statement's subject, text part and HTML part (it has no charts)."""
    env = environment(grouping)
    words = i18n.strings(view.locale)
    template = words["subject_finance_corrected"] if view.restatement else words["subject_finance"]
    subject = template.format(period=view.period, status=words[f"status_{view.status}"])
    context = {"view": view, "subject": subject, "tr": translator(view.locale)}
    text = env.get_template("finance.txt.j2").render(context)
    html = env.get_template("finance.html.j2").render(context)
    return RenderedStatement(subject, text, html, ())
