"""One rendered message as MIME, shared by every backend, so the outbox file is what SMTP and SES send.

Layout: multipart/mixed [ multipart/alternative [ text/plain, multipart/related [ text/html, image/png... ] ],
attachments... ]. Mail clients show the text or the HTML part; the HTML finds its chart by ``cid:``.
"""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses

from chargeback.config.fields import address_of, is_email_address
from chargeback.delivery import DeliveryError, OutgoingMail

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_addresses(mail: OutgoingMail, *, need_recipients: bool = True) -> None:
    """DeliveryError naming every bad recipient address (and a bad sender) of ``mail``."""
    bad = tuple(a for a in (*mail.to, *mail.cc) if not is_email_address(a))
    if bad:
        raise DeliveryError(f"{mail.name}: not a valid recipient address: {', '.join(repr(a) for a in bad)}",
                            addresses=bad)
    if not is_email_address(address_of(mail.sender)):
        raise DeliveryError(f"{mail.name}: not a valid sender address: {mail.sender!r}",
                            addresses=(mail.sender,))
    if need_recipients and not (mail.to or mail.cc):
        raise DeliveryError(f"{mail.name}: the message has no recipients")


def recipients_of(mail: OutgoingMail) -> list[str]:
    """Every envelope recipient, To then Cc, each once."""
    seen: dict[str, None] = {}
    for address in (*mail.to, *mail.cc):
        seen.setdefault(address, None)
    return list(seen)


def _header_text(value: str) -> str:
    # A header value must stay on one line: a newline from data would start a new header.
    return _CONTROL.sub(" ", value).strip()


def build_mime(mail: OutgoingMail) -> EmailMessage:
    """The message as an ``EmailMessage`` (RFC 5322, CRLF line ends)."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = _header_text(mail.subject)
    message["From"] = _header_text(mail.sender)
    if mail.to:
        message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message.set_content(mail.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
        if mail.inline_images:
            html_part = next(part for part in message.iter_parts() if part.get_content_type() == "text/html")
            for image in mail.inline_images:
                maintype, _, subtype = image.mime_type.partition("/")
                html_part.add_related(image.content, maintype=maintype, subtype=subtype,
                                      cid=f"<{image.content_id}>", disposition="inline",
                                      filename=f"{image.content_id.split('@')[0]}.{subtype}")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        params = {"charset": "utf-8"} if maintype == "text" else None
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename, params=params)
    # Last: setting the content drops every Content-* header set before it (Content-Language too).
    for name, value in mail.headers.items():
        message[name] = _header_text(value)
    return message


def mime_bytes(mail: OutgoingMail) -> bytes:
    """The message serialised for the wire or an .eml file."""
    return build_mime(mail).as_bytes()


def preview_html(mail: OutgoingMail) -> str:
    """The HTML part with each ``cid:`` image swapped for a ``data:`` URI, so a browser shows it alone."""
    if mail.html is None:
        return ""
    html = mail.html
    for image in mail.inline_images:
        data = base64.b64encode(image.content).decode("ascii")
        html = html.replace(f"cid:{image.content_id}", f"data:{image.mime_type};base64,{data}")
    return html


def envelope_addresses(message: EmailMessage) -> list[str]:
    """The To and Cc addresses of a parsed message (for tests and logs)."""
    fields = [str(message[h]) for h in ("To", "Cc") if message[h] is not None]
    return [address for _, address in getaddresses(fields) if address]
