"""Mail delivery: one message type and one port; backends (outbox, SMTP, SES) implement ``Mailer``.

Statements and e-mail alerts both send through here, so the outbox, SMTP and SES paths are shared;
``chargeback.delivery.build.build_mailer`` picks the backend a resolved delivery plan names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chargeback.errors import ChargebackError


class DeliveryError(ChargebackError):
    """A message could not be sent. ``addresses`` names the recipients at fault, when that is known."""

    def __init__(self, message: str, *, addresses: tuple[str, ...] = ()) -> None:
        self.addresses = addresses
        super().__init__(message)


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
    """Sends one message; returns an identifier (message id or outbox path). Raises DeliveryError.

    ``channel`` names what a send means for the delivery ledger: 'mail' (it reached a mail server) or
    'outbox' (a file for preview), so writing previews never counts as having mailed anyone.
    ``needs_recipients`` is False for backends that accept a message with nobody in To or Cc.
    """

    channel: str
    needs_recipients: bool

    def send(self, mail: OutgoingMail) -> str: ...
