"""Rendering a StatementView: subject, plain text, HTML and the chart images, with Jinja2.

Autoescape is on for HTML templates (a cost center called ``<script>`` arrives as text); the plain-text
template is not HTML and is not escaped. A variable or word the template lacks is an error, never a blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from chargeback.delivery import InlineImage
from chargeback.display import format_money, format_number, format_percent, format_signed_money
from chargeback.reporting import i18n
from chargeback.reporting.chart import bar_chart_png
from chargeback.reporting.view import StatementView

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class RenderedStatement:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...]


@cache
def _environment(grouping: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("chargeback.reporting", "templates"),
        # HTML (and anything unknown) escaped; only the plain-text part, which is not HTML, is not.
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), disabled_extensions=("txt.j2",),
                                     default_for_string=True, default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["money"] = lambda v: format_money(v, grouping=grouping)
    env.filters["signed"] = lambda v: format_signed_money(v, grouping=grouping)
    env.filters["qty"] = lambda v: format_number(v, grouping=grouping)
    env.filters["pct"] = format_percent
    env.filters["spct"] = lambda v: format_percent(v, signed=True)
    env.filters["money_or_dash"] = lambda v: "–" if v is None else format_money(v, grouping=grouping)
    return env


def _translator(locale: str) -> Any:
    words = i18n.strings(locale)

    def tr(key: str, **values: Any) -> str:
        return words[key].format(**values) if values else words[key]  # KeyError: a missing word is a bug

    return tr


def statement_subject(view: StatementView) -> str:
    """The subject line; names from data lose any control characters (a header is one line)."""
    words = i18n.strings(view.locale)
    template = words["subject_corrected"] if view.restatement else words["subject"]
    name = _CONTROL.sub(" ", view.name).strip()
    return template.format(name=name, period=view.period, status=words[f"status_{view.status}"])


def chart_images(view: StatementView) -> tuple[InlineImage, ...]:
    """One cost-by-day chart per currency section."""
    return tuple(
        InlineImage(section.chart_id, bar_chart_png([d.amount for d in section.days]))
        for section in view.sections
    )


def render_statement(view: StatementView, *, grouping: bool = True) -> RenderedStatement:
    """The statement's subject, text part, HTML part and inline images."""
    env = _environment(grouping)
    subject = statement_subject(view)
    context = {"view": view, "subject": subject, "tr": _translator(view.locale)}
    text = env.get_template("statement.txt.j2").render(context)
    html = env.get_template("statement.html.j2").render(context)
    return RenderedStatement(subject, text, html, chart_images(view))

