"""A minimal outbox ``Mailer``: each message becomes ``<name>.eml`` in a folder, for review before sending.

Stands in for the shared delivery outbox until that lands in main; it implements the same ``Mailer`` port, so
swapping it is a one-line change in the command. Output is deterministic (no Date or Message-ID header).
"""

from __future__ import annotations

import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path

from chargeback.delivery import OutgoingMail

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def render_message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=attachment.filename)
    return message


class OutboxMailer:
    """Writes messages into ``folder``; sending the same message name again replaces the file."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def send(self, mail: OutgoingMail) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = _UNSAFE.sub("_", mail.name).strip("._") or "message"
        path = self.folder / f"{name}.eml"
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(bytes(render_message(mail)))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(path)
