"""Rendering: golden HTML and text in English and Chinese, the money policy in every body, safe and
Outlook-safe HTML, charts that read without colour."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from jinja2 import UndefinedError

from chargeback.display import format_money
from chargeback.reporting import i18n
from chargeback.reporting.chart import DayBar, MonthBar, daily_chart_png, png_size, trend_chart_png
from chargeback.reporting.finance import build_finance_statement
from chargeback.reporting.render import breakable, environment, render_finance, render_statement
from chargeback.reporting.view import AnomalyMark, Context, StatementView, build_statement, workspace_scope
from chargeback.warehouse.read import table_to_frame
from tests.support.allocations import MONTH, allocation_table, april_rows, may_rows, sample_mapping
from tests.support.goldens import assert_golden
from tests.support.mail import decimal_numbers, html_numbers_are_in_the_text, html_text
from tests.support.statements import amounts_follow_the_policy
from tests.support.warehouse import manifest_for

MANIFEST = manifest_for(MONTH, may_rows(), status="final")
MARKS = (AnomalyMark("cost_center:search", "2026-05-10", "CNY"),)


def statement(cost_center: str, locale: str, *, status: str = "final") -> StatementView:
    may, april = table_to_frame(allocation_table(may_rows())), table_to_frame(allocation_table(april_rows()))
    context = Context(top_n=3, anomalies=MARKS, help_line="Questions: #finops or finops@example.com")
    return build_statement(may, april, MANIFEST.replace(status=status), sample_mapping(), cost_center,
                           locale=locale, context=context)


@pytest.mark.parametrize(("cost_center", "locale", "name"), [
    ("search", "en", "statement_search_en"),
    ("search", "zh", "statement_search_zh"),
    ("research", "zh", "statement_research_zh"),
    ("research", "en", "statement_research_en"),
])
def test_goldens(cost_center, locale, name, update_goldens):
    rendered = render_statement(statement(cost_center, locale))
    assert_golden(f"{name}.html", rendered.html, update=update_goldens)
    assert_golden(f"{name}.txt", rendered.text, update=update_goldens)
    assert_golden(f"{name}.subject.txt", rendered.subject + "\n", update=update_goldens)


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_finance_goldens(locale, update_goldens):
    may = table_to_frame(allocation_table(may_rows()))
    rendered = render_finance(build_finance_statement(may, MANIFEST, sample_mapping(), locale=locale))
    assert_golden(f"statement_finance_{locale}.html", rendered.html, update=update_goldens)
    assert_golden(f"statement_finance_{locale}.txt", rendered.text, update=update_goldens)


@pytest.mark.parametrize(("cost_center", "locale"), [("search", "en"), ("research", "zh"), ("ops", "en"),
                                                     ("unallocated", "zh")])
def test_the_html_shows_the_texts_numbers_and_both_follow_the_money_policy(cost_center, locale):
    view = statement(cost_center, locale)
    rendered = render_statement(view)
    assert html_numbers_are_in_the_text(rendered.text, rendered.html)
    for body in (rendered.text, html_text(rendered.html)):
        assert amounts_follow_the_policy(body), body
        for section in view.sections:
            assert f"{section.currency} {format_money(section.total, section.currency)}" in body


def test_the_first_screen_says_how_much_against_what_and_why():
    text = render_statement(statement("search", "en")).text
    first_screen = text.split("== Costs in")[0]
    assert "Total: CNY 17.40" in first_screen
    assert "Up CNY 5.60 (+47.4%) against April 2026" in first_screen
    assert "API key 2100002 (+4.62)" in first_screen


def test_html_is_safe_self_contained_and_outlook_safe():
    rendered = render_statement(statement("research", "zh"))
    html = rendered.html
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Research" in html
    assert "onerror" not in re.sub(r"&lt;.*?&gt;", "", html)  # only as escaped text, never an attribute
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, re.I)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "<style" not in html  # inline CSS only: many clients drop <style>
    srcs = re.findall(r'src="([^"]+)"', html)
    assert srcs == [f"cid:{image.content_id}" for image in rendered.images]
    # Outlook: a fixed-width table around the column; no CSS that Gmail or Outlook drop is needed to read it
    assert '<!--[if mso]><table role="presentation" width="600"' in html
    assert "<![endif]-->" in html
    assert "overflow-wrap" not in html and "word-break" not in html
    # data tables keep their semantics: header cells, no role="presentation"
    for table in re.findall(r"<table[^>]*>.*?</table>", html, re.S):
        if "<th" in table:
            assert 'role="presentation"' not in table.split(">", 1)[0]
    assert 'alt=""' not in html and html.count(" alt=") == len(rendered.images)
    # the plain text part is not HTML and is not escaped
    assert "<script>alert('x')</script> Research" in rendered.text


def test_ops_names_from_data_arrive_as_text():
    rendered = render_statement(statement("ops", "en"))
    assert rendered.subject.startswith('=HYPERLINK("http://evil.example/","click me"): Model Studio costs')
    assert '=HYPERLINK("http://evil.example/","click me")' in html_text(rendered.html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    assert "<img src=x" not in rendered.html


def test_long_names_get_break_points_and_stay_escaped():
    text = "qwen-" + "x" * 40 + "<b>"
    marked = str(breakable(text))
    assert "<wbr>" in marked and "<b>" not in marked and "&lt;b&gt;" in marked
    assert marked.replace("<wbr>", "") == "qwen-" + "x" * 40 + "&lt;b&gt;"
    assert str(breakable("short words stay as they are")) == "short words stay as they are"


def test_provisional_and_empty_statements():
    rendered = render_statement(statement("search", "en", status="open"))
    assert "(provisional)" in rendered.subject
    assert i18n.strings("en")["provisional_note"] in rendered.text
    empty = statement("nobody", "zh")
    assert empty.sections == ()
    assert i18n.strings("zh")["no_costs"] in render_statement(empty).text


def test_anomaly_days_are_marked_and_the_contacts_named():
    text = render_statement(statement("search", "en")).text
    assert "05-10: 6.40  <- anomaly" in text
    assert "Marked on the chart: days an anomaly alert flagged (10 May)." in text
    assert "This statement goes to lead@search.example.com." in text
    assert "Questions: #finops or finops@example.com" in text
    assert "the attached CSV carries the exact amounts of the 16 allocation rows" in text


def test_a_workspace_statement_names_who_paid_and_the_pools_it_produced():
    may = table_to_frame(allocation_table(may_rows()))
    scope = workspace_scope(sample_mapping(), "llm-research")
    view = build_statement(may, None, MANIFEST, sample_mapping(), scope)
    text = render_statement(view).text
    assert "Paid by cost center" in text and "<script>alert('x')</script> Research: 15.79 (100.0%)" in text
    assert "Shared pools this workspace produced" in text
    assert "Console calls (no API key): split in proportion to each cost center's own spend → " in text


def test_both_locales_have_the_same_words():
    assert set(i18n.strings("en")) == set(i18n.strings("zh"))


def test_a_missing_variable_is_an_error():
    template = environment(True).from_string("{{ view.no_such_field }}")
    with pytest.raises(UndefinedError):
        template.render(view=statement("search", "en"))


def grey(png: bytes):
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png))
    return pixels[:, :, :3] @ [0.299, 0.587, 0.114]  # luminance: what a grayscale print shows


def test_the_daily_chart_reads_in_grayscale_and_flags_anomaly_days():
    days = [DayBar(f"2026-05-{d:02d}", Decimal(10 if d != 20 else 30), flagged=d == 20) for d in range(1, 32)]
    png = daily_chart_png(days, "CNY")
    assert png_size(png) == (1120, 440)  # shown at 560 px, drawn at twice that
    assert png == daily_chart_png(days, "CNY")  # deterministic
    light = grey(png)
    normal = light[330:360, 150:400]  # low on the chart, inside the bars of ordinary days
    flagged = light[150:330, :]
    # the flagged bar is drawn apart without colour: hatching gives it both dark and light pixels
    assert (normal < 0.5).mean() > 0.2
    assert flagged.min() < 0.3 and (flagged > 0.8).mean() > 0.5
    unflagged = daily_chart_png([DayBar(d.day, d.amount) for d in days], "CNY")
    assert unflagged != png


def test_the_trend_chart_labels_every_month_and_survives_missing_months():
    months = [MonthBar("2026-04", None), MonthBar("2026-05", Decimal("9983.11"), current=True)]
    png = trend_chart_png(months, "CNY")
    assert png_size(png) == (1120, 340)
    assert trend_chart_png([MonthBar("2026-05", Decimal(0), current=True)], "USD")  # an empty month draws


def test_numbers_in_a_text_are_found_for_the_checks():
    assert decimal_numbers("a 1,234.50 b -0.0017 c +3.00") == [Decimal("1234.50"), Decimal("-0.0017"),
                                                                 Decimal("3.00")]
