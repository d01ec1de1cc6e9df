"""Checks shared by the statement integration tests: one received message against the allocation rows."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from chargeback.columns import ALLOCATION_AMOUNTS
from chargeback.display import format_money
from tests.support.allocations import may_rows
from tests.support.mail import csv_rows, csv_total, decimal_numbers, html_text, parse_message, part, text_of


def expected_totals(rows: list[dict] | None = None) -> dict[str, dict[str, Decimal]]:
    """cost center -> currency -> the exact sum of its allocation rows."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in may_rows() if rows is None else rows:
        totals[row["cost_center"]][row["currency"]] += row["billed_cost"]
    return {center: dict(by_currency) for center, by_currency in totals.items()}


def check_statement(data: bytes, cost_center: str, totals: dict[str, Decimal]) -> None:
    """The message's text, HTML and CSV all carry the cost center's exact totals, and nothing unsafe."""
    message = parse_message(data)
    assert message["X-Chargeback-Statement"].startswith(f"{cost_center}/2026-05/v")
    text = text_of(message, "text/plain")
    html = text_of(message, "text/html")
    csv_bytes = part(message, "text/csv").get_payload(decode=True)
    assert isinstance(csv_bytes, bytes)
    for currency, total in totals.items():
        shown = f"{currency} {format_money(total)}"
        assert shown in text
        assert shown in html_text(html)
        assert csv_total(csv_bytes, currency) == total
    assert decimal_numbers(text) == decimal_numbers(html_text(html))
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    for image in (p for p in message.walk() if p.get_content_type() == "image/png"):
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    for row in csv_rows(csv_bytes):
        for column, cell in row.items():
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                assert column in ALLOCATION_AMOUNTS and Decimal(cell) < 0, (column, cell)
