"""The embedded default backend: each message written as ``<name>.eml`` plus ``<name>.html`` for preview.

The .eml is the exact MIME that SMTP or SES would send (open it in any mail client); the .html is the HTML
part alone with its images inlined as data: URIs (open it in a browser). Keys are deterministic, so writing
the same message twice replaces the files instead of adding new ones.
"""

from __future__ import annotations

import re

from chargeback.delivery import OutgoingMail
from chargeback.delivery.mime import check_addresses, mime_bytes, preview_html
from chargeback.storage import LocalObjectStore, ObjectStore, join_key

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """``name`` reduced to characters that are safe in a file name and an object key."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "message"
    return cleaned[:150]


class OutboxMailer:
    """Writes messages into ``store`` under ``prefix`` (a folder, or the warehouse's ``outbox/``)."""

    channel = "outbox"
    needs_recipients = False

    def __init__(self, store: ObjectStore, prefix: str = "") -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def location(self, key: str) -> str:
        """A path a person can open: a file path for a local folder, else the object's URL."""
        if isinstance(self.store, LocalObjectStore):
            return str(self.store.root / key)
        return f"{self.store.url.rstrip('/')}/{key}"

    def send(self, mail: OutgoingMail) -> str:
        check_addresses(mail, need_recipients=False)
        base = safe_name(mail.name)
        eml_key = join_key(self.prefix, f"{base}.eml")
        if mail.html is not None:
            html_key = join_key(self.prefix, f"{base}.html")
            self.store.write_bytes(html_key, preview_html(mail).encode("utf-8"), "text/html; charset=utf-8")
        # The .eml last: its presence means the message is complete.
        self.store.write_bytes(eml_key, mime_bytes(mail), "message/rfc822")
        return self.location(eml_key)
