"""Mail delivery: one message type and one port; backends (outbox, SMTP, SES) implement ``Mailer``.

Statements and e-mail alerts both send through here, so the outbox, SMTP and SES paths are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str  # e.g. "text/csv"


@dataclass(frozen=True)
class InlineImage:
    content_id: str  # referenced from the HTML as cid:<content_id>
    content: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True)
class OutgoingMail:
    """A rendered message, independent of how it is sent."""

    subject: str
    sender: str
    to: tuple[str, ...]
    text: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    inline_images: tuple[InlineImage, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # e.g. X-Chargeback-Statement: search/2026-05/v1
    name: str = "message"  # a safe base name for files (outbox), e.g. "2026-05_search_v1"


class Mailer(Protocol):
    """Sends one message; returns an identifier (message id or outbox path). Raises DeliveryError."""

    def send(self, mail: OutgoingMail) -> str: ...
