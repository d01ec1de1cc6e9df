"""Reading messages back in tests: parts of a MIME message, numbers in a text, CSV totals."""

from __future__ import annotations

import csv
import email
import html
import io
import re
from collections import Counter
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default


def parse_message(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, f"expected one {content_type} part, found {len(found)}"
    return found[0]  # type: ignore[return-value]


def text_of(message: EmailMessage, content_type: str) -> str:
    content = part(message, content_type).get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # the wire form has CRLF line ends


def html_text(markup: str) -> str:
    """The visible text of HTML: tags dropped, entities decoded."""
    without_head = re.sub(r"<head>.*?</head>", " ", markup, flags=re.S).replace("<wbr>", "")
    return html.unescape(re.sub(r"<[^>]+>", " ", without_head))


def decimal_numbers(text: str) -> list[Decimal]:
    """Every number with a decimal point (thousands separators dropped), in order."""
    return [Decimal(m.replace(",", "")) for m in re.findall(r"[-+]?\d[\d,]*\.\d+", text)]


def html_numbers_are_in_the_text(text: str, html: str) -> bool:
    """Every decimal number the HTML part shows is in the text part too (which adds the day-by-day costs and
    the months of the trend that the HTML part shows as charts)."""
    return not Counter(decimal_numbers(html_text(html))) - Counter(decimal_numbers(text))


def csv_rows(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def csv_total(data: bytes, currency: str, column: str = "billed_cost") -> Decimal:
    return sum((Decimal(r[column]) for r in csv_rows(data) if r["currency"] == currency), Decimal(0))
