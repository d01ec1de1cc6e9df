"""Rendering: golden HTML and text in English and Chinese, the same numbers in both, safe HTML, the chart."""

from __future__ import annotations

import re
import struct
import zlib
from decimal import Decimal

import pytest
from jinja2 import UndefinedError

from chargeback.display import format_money, format_number, format_percent, format_signed_money
from chargeback.reporting import i18n
from chargeback.reporting.chart import bar_chart_png
from chargeback.reporting.render import render_statement
from chargeback.reporting.view import StatementView, build_statement
from chargeback.warehouse.read import table_to_frame
from tests.support.allocations import MONTH, allocation_table, april_rows, may_rows, sample_mapping
from tests.support.goldens import assert_golden
from tests.support.mail import decimal_numbers, html_text
from tests.support.warehouse import manifest_for

MANIFEST = manifest_for(MONTH, may_rows(), status="final")


def statement(cost_center: str, locale: str, *, status: str = "final") -> StatementView:
    may, april = table_to_frame(allocation_table(may_rows())), table_to_frame(allocation_table(april_rows()))
    return build_statement(may, april, MANIFEST.replace(status=status), sample_mapping(), cost_center, top_n=3,
                           locale=locale)


@pytest.mark.parametrize(("cost_center", "locale", "name"), [
    ("search", "en", "statement_search_en"),
    ("research", "zh", "statement_research_zh"),
])
def test_goldens(cost_center, locale, name, update_goldens):
    rendered = render_statement(statement(cost_center, locale))
    assert_golden(f"{name}.html", rendered.html, update=update_goldens)
    assert_golden(f"{name}.txt", rendered.text, update=update_goldens)
    assert_golden(f"{name}.subject.txt", rendered.subject + "\n", update=update_goldens)


@pytest.mark.parametrize(("cost_center", "locale"), [("search", "en"), ("research", "zh"), ("ops", "en"),
                                                     ("unallocated", "zh")])
def test_text_and_html_show_the_same_numbers(cost_center, locale):
    rendered = render_statement(statement(cost_center, locale))
    assert decimal_numbers(rendered.text) == decimal_numbers(html_text(rendered.html))
    view = statement(cost_center, locale)
    for section in view.sections:
        shown = f"{section.currency} {format_money(section.total)}"
        assert shown in rendered.text
        assert shown in html_text(rendered.html)


def test_html_is_safe_and_self_contained():
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
    # The plain text part is not HTML and is not escaped.
    assert "<script>alert('x')</script> Research" in rendered.text


def test_ops_names_from_data_arrive_as_text():
    rendered = render_statement(statement("ops", "en"))
    assert rendered.subject.startswith('=HYPERLINK("http://evil.example/","click me"): Model Studio costs')
    assert "=HYPERLINK(&#34;http://evil.example/&#34;,&#34;click me&#34;)" in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    assert "<img src=x" not in rendered.html


def test_provisional_and_empty_statements():
    rendered = render_statement(statement("search", "en", status="open"))
    assert "(provisional)" in rendered.subject
    assert i18n.strings("en")["provisional_note"] in rendered.text
    empty = statement("nobody", "zh")
    assert empty.sections == ()
    assert i18n.strings("zh")["no_costs"] in render_statement(empty).text


def test_both_locales_have_the_same_words():
    assert set(i18n.strings("en")) == set(i18n.strings("zh"))


def test_a_missing_variable_is_an_error():
    from chargeback.reporting.render import _environment

    template = _environment(True).from_string("{{ view.no_such_field }}")
    with pytest.raises(UndefinedError):
        template.render(view=statement("search", "en"))


def test_numbers_are_exact_with_the_bills_decimals():
    assert format_money(Decimal("1234567.1234567")) == "1,234,567.1234567"
    assert format_money(Decimal("1234.5"), grouping=False) == "1234.50"
    assert format_money(Decimal("-0.500000000000")) == "-0.50"
    assert format_money(Decimal("0E-12")) == "0.00"
    assert format_signed_money(Decimal("3")) == "+3.00"
    assert format_number(Decimal("10168.667000")) == "10,168.667"
    assert format_percent(Decimal("47.4"), signed=True) == "+47.4%"
    assert format_percent(None) == "–"


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    idat = b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        if kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    rows = [raw[i * stride + 1:(i + 1) * stride] for i in range(height)]
    assert all(raw[i * stride] == 0 for i in range(height))
    return width, height, rows


def test_chart_is_a_valid_png_with_bars_up_and_down():
    png = bar_chart_png([Decimal(2), Decimal(0), Decimal("-1")], width=60, height=40)
    width, height, rows = read_png(png)
    assert (width, height) == (60, 40)
    colours = {bytes(r[i:i + 3]) for r in rows for i in range(0, len(r), 3)}
    assert bytes((31, 111, 235)) in colours  # a cost bar
    assert bytes((207, 34, 46)) in colours  # a credit bar
    assert bar_chart_png([Decimal(1)]) == bar_chart_png([Decimal(1)])  # deterministic


def test_chart_of_an_empty_month():
    width, height, _ = read_png(bar_chart_png([Decimal(0)] * 31))
    assert (width, height) == (560, 160)
