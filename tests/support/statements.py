"""Checks shared by the statement integration tests: one received message against the allocation rows."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from chargeback.columns import ALLOCATION_AMOUNTS
from chargeback.display import format_money
from tests.support.allocations import may_rows
from tests.support.mail import (
    csv_rows,
    csv_total,
    html_numbers_are_in_the_text,
    html_text,
    parse_message,
    part,
    text_of,
)


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
    assert html_numbers_are_in_the_text(text, html)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    for image in (p for p in message.walk() if p.get_content_type() == "image/png"):
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    for row in csv_rows(csv_bytes):
        for column, cell in row.items():
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                assert column in ALLOCATION_AMOUNTS and Decimal(cell) < 0, (column, cell)


_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*\.(\d+)(?![\d%])")


def amounts_follow_the_policy(body: str) -> bool:
    """No number in ``body`` shows more than two decimals, unless it is below one cent and shows at most four
    significant digits (``0.0017``); percentages (one decimal) are not amounts. A unit price of a cent or more
    with three decimals would be flagged: the test data has none."""
    for match in _NUMBER.finditer(body):
        if len(match.group(1)) <= 2:
            continue
        value = Decimal(match.group(0).replace(",", ""))
        digits = match.group(0).replace(",", "").lstrip("+-").replace(".", "").lstrip("0")
        if abs(value) >= Decimal("0.01") or len(digits) > 4:
            return False
    return True


def counted(shown: Decimal) -> Decimal:
    """A shown part as it counts towards the shown total: a part below one cent keeps its own small figure
    (``0.0017``) but is the rounding's remainder, worth nothing in the sum."""
    return Decimal(0) if abs(shown) < Decimal("0.01") else shown
