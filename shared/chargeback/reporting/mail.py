"""A rendered statement as an OutgoingMail: parts, chart, CSV attachment and identifying headers."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime

from chargeback.delivery import Attachment, OutgoingMail
from chargeback.delivery.mime import address_of
from chargeback.reporting.finance import FinanceView
from chargeback.reporting.render import RenderedStatement
from chargeback.reporting.view import StatementView

AnyStatement = StatementView | FinanceView

_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(text: str) -> str:
    return _ID_SAFE.sub("_", text).strip("._") or "x"


def statement_name(view: AnyStatement) -> str:
    """A file-safe base name: 'statement_2026-05_search_v1'."""
    return f"statement_{view.month}_{_safe(view.cost_center)}_v{view.version}"


def message_id(view: AnyStatement, sender: str) -> str:
    """A Message-ID that is the same each time this version of this statement is built."""
    domain = address_of(sender).rpartition("@")[2] or "chargeback.invalid"
    local = f"statement.{view.month}.{_safe(view.cost_center)}.v{view.version}.{view.content_hash[:12]}"
    return f"<{local}@{domain}>"


def statement_mail(
    view: AnyStatement,
    rendered: RenderedStatement,
    csv_bytes: bytes,
    *,
    sender: str,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    now: datetime,
) -> OutgoingMail:
    """The message for ``view``; ``now`` (timezone-aware) becomes its Date header."""
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    name = statement_name(view)
    return OutgoingMail(
        subject=rendered.subject,
        sender=sender,
        to=to,
        cc=cc,
        text=rendered.text,
        html=rendered.html,
        attachments=(Attachment(f"{name}.csv", csv_bytes, "text/csv"),),
        inline_images=rendered.images,
        headers={
            "Message-ID": message_id(view, sender),
            "Date": format_datetime(now),
            "Content-Language": "zh-CN" if view.locale == "zh" else "en",
            "X-Chargeback-Statement": f"{view.cost_center}/{view.month}/v{view.version}",
        },
        name=name,
    )
