"""A real SMTP server for tests (aiosmtpd on 127.0.0.1): plain, STARTTLS or implicit TLS, optional login.

It records every message it accepts and can refuse chosen recipients, as a relay refuses unknown users.
The TLS certificate is made on the fly for 127.0.0.1 and handed to the client as its CA file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """Accepts mail and keeps it; refuses the recipients in ``refuse`` with 550."""

    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port that was free a moment ago (aiosmtpd's start-up check fails with port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chargeback test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(HOST))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    ca_file: Path | None


@contextmanager
def smtp_server(
    handler: RecordingHandler,
    *,
    mode: str = "plain",
    certificate: tuple[Path, Path] | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """Run a server until the block ends. ``mode``: 'plain', 'starttls' or 'ssl' (implicit TLS)."""
    kwargs: dict[str, Any] = {}
    server_context = None
    if mode in ("starttls", "ssl"):
        assert certificate is not None
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    if mode == "starttls":
        kwargs.update(tls_context=server_context, require_starttls=True)
    elif mode == "ssl":
        kwargs.update(ssl_context=server_context)
    if users is not None:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (isinstance(data, LoginPassword)
                  and users.get(data.login.decode()) == data.password.decode())
            return AuthResult(success=ok, handled=False)

        # With implicit TLS aiosmtpd does not see the session as TLS; the socket is encrypted all the same.
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=mode == "starttls")
    controller = Controller(handler, hostname=HOST, port=free_port(), **kwargs)
    controller.start()
    try:
        yield SmtpServer(HOST, controller.port, handler, certificate[0] if certificate else None)
    finally:
        controller.stop()
