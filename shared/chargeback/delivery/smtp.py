"""SMTP backend (Alibaba DirectMail, a company relay): TLS on 465 or STARTTLS, one connection per message.

The password is handed in by ``build_mailer`` (from an environment variable or a secret store); this module
never reads configuration files or the environment itself.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl

from chargeback.config.delivery import Security
from chargeback.config.fields import address_of
from chargeback.delivery import DeliveryError, OutgoingMail
from chargeback.delivery.mime import build_mime, check_addresses, recipients_of
from chargeback.redact import redact

log = logging.getLogger(__name__)


class SmtpMailer:
    """Sends through one SMTP server. ``security='none'`` is for a relay on the same host or tests."""

    channel = "mail"
    needs_recipients = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "ssl",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if username and password is None:
            raise ValueError("an SMTP username needs a password")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.ssl_context = ssl_context

    def __repr__(self) -> str:  # never show the password
        return (f"SmtpMailer({self.host!r}, {self.port}, security={self.security!r}, "
                f"username={self.username!r})")

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            client.ehlo()
            client.starttls(context=context)
            client.ehlo()
        return client

    def send(self, mail: OutgoingMail) -> str:
        check_addresses(mail)
        message = build_mime(mail)
        recipients = recipients_of(mail)
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self._password or "")
                refused = client.send_message(message, from_addr=address_of(mail.sender), to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            bad = tuple(exc.recipients)
            detail = "; ".join(f"{a}: {code} {self._said(reply)}" for a, (code, reply) in exc.recipients.items())
            raise DeliveryError(f"{mail.name}: the SMTP server refused every recipient ({detail})",
                                addresses=bad) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{mail.name}: SMTP login as {self.username!r} failed: "
                                f"{exc.smtp_code} {self._said(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{mail.name}: sending through {self.host}:{self.port} failed: "
                                f"{self._said(str(exc))}", addresses=()) from None
        if refused:
            # Some recipients took the message: it counts as sent; the refused ones are named in the log.
            log.warning("%s: the SMTP server refused %s", mail.name, ", ".join(sorted(refused)),
                        extra={"refused": sorted(refused)})
        return str(message["Message-ID"] or "")


    def _said(self, reply: bytes | str) -> str:
        """A server's reply without the password (a reply may echo the AUTH line, base64 and all)."""
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        if not self._password:
            return redact(text)
        plain = f"\0{self.username or ''}\0{self._password}".encode()
        forms = (self._password, base64.b64encode(plain).decode(), base64.b64encode(self._password.encode()).decode())
        return redact(text, forms)
