"""Delivery without a network: MIME layout, address checks, the outbox, settings and build_mailer."""

from __future__ import annotations

import re

import pytest

from chargeback.delivery import Attachment, DeliveryError, InlineImage, OutgoingMail
from chargeback.delivery.mime import check_addresses, mime_bytes, preview_html
from chargeback.delivery.outbox import OutboxMailer, safe_name
from chargeback.delivery.smtp import SmtpMailer
from chargeback.errors import ConfigError
from tests.support.delivery import delivery_plan, mailer_for
from tests.support.mail import parse_message, part, text_of
from tests.support.memory_store import MemoryObjectStore

PNG = b"\x89PNG\r\n\x1a\nfake"


def mail(**changes) -> OutgoingMail:
    values = {
        "subject": "Search team: Model Studio costs for May 2026 (final)",
        "sender": "Chargeback <chargeback@example.com>",
        "to": ("lead@search.example.com",),
        "cc": ("finance@example.com",),
        "text": "Total: CNY 1.50\n",
        "html": '<p>Total: CNY 1.50</p><img src="cid:chart@chargeback">',
        "attachments": (Attachment("rows.csv", b"\xef\xbb\xbfa,b\r\n1,2\r\n", "text/csv"),),
        "inline_images": (InlineImage("chart@chargeback", PNG),),
        "headers": {"Message-ID": "<statement.1@example.com>", "X-Chargeback-Statement": "search/2026-05/v1"},
        "name": "statement_2026-05_search_v1",
    }
    values.update(changes)
    return OutgoingMail(**values)


def test_mime_layout_text_html_related_image_and_attachment():
    message = parse_message(mime_bytes(mail()))
    assert message.get_content_type() == "multipart/mixed"
    assert message["To"] == "lead@search.example.com" and message["Cc"] == "finance@example.com"
    assert message["X-Chargeback-Statement"] == "search/2026-05/v1"
    alternative = part(message, "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "multipart/related"]
    assert text_of(message, "text/plain").replace("\r\n", "\n") == "Total: CNY 1.50\n"
    image = part(message, "image/png")
    assert image["Content-ID"] == "<chart@chargeback>"
    assert image.get_content() == PNG
    attachment = part(message, "text/csv")
    assert attachment.get_filename() == "rows.csv"
    assert attachment.get_content_charset() == "utf-8"
    assert attachment.get_payload(decode=True) == b"\xef\xbb\xbfa,b\r\n1,2\r\n"  # bytes as given


def test_a_newline_in_a_subject_from_data_cannot_add_a_header():
    message = parse_message(mime_bytes(mail(subject="Team\r\nBcc: victim@example.com")))
    assert message["Bcc"] is None
    assert "Bcc: victim@example.com" in str(message["Subject"])


def test_preview_inlines_the_images():
    html = preview_html(mail())
    assert "cid:" not in html
    assert 'src="data:image/png;base64,' in html


@pytest.mark.parametrize("bad", ["not-an-address", "a@b", "a b@example.com", "x@example.com\nBcc: y@z.com",
                                 ""])
def test_a_bad_recipient_is_named(bad):
    with pytest.raises(DeliveryError) as caught:
        check_addresses(mail(to=("ok@example.com", bad)))
    assert caught.value.addresses == (bad,)
    assert repr(bad) in str(caught.value)


def test_no_recipients_is_an_error_only_where_they_are_needed():
    with pytest.raises(DeliveryError, match="no recipients"):
        check_addresses(mail(to=(), cc=()))
    check_addresses(mail(to=(), cc=()), need_recipients=False)


def test_outbox_writes_eml_and_preview():
    store = MemoryObjectStore()
    outbox = OutboxMailer(store, "outbox")
    path = outbox.send(mail(to=(), cc=()))
    assert path == "memory://warehouse/outbox/statement_2026-05_search_v1.eml"
    eml = store.read_bytes("outbox/statement_2026-05_search_v1.eml")
    assert parse_message(eml)["Subject"] == mail().subject
    assert b"data:image/png" in store.read_bytes("outbox/statement_2026-05_search_v1.html")
    assert outbox.send(mail(to=(), cc=())) == path  # same name: the same object, replaced
    assert sorted(store.objects) == ["outbox/statement_2026-05_search_v1.eml",
                                     "outbox/statement_2026-05_search_v1.html"]


def test_outbox_names_are_safe():
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("statement_2026-05_a:b_v1") == "statement_2026-05_a_b_v1"


def test_settings_list_every_bad_field():
    with pytest.raises(ConfigError) as caught:
        delivery_plan({"backend": "smtp", "sender": "nobody", "finance_cc": ["x@", "ok@example.com"],
                       "smtp": {"host": "smtp.example.com", "port": 0, "password": "hunter2"}})
    message = str(caught.value)
    for fragment in ("delivery.finance_cc[0]: 'x@' is not an email address",
                     "delivery.sender: 'nobody' is not an email address",
                     "delivery.smtp.port: must be at least 1, not 0",
                     "delivery.smtp.password: never put the password in the file"):
        assert fragment in message
    assert "hunter2" not in message


def test_smtp_needs_a_password_source_and_a_sender():
    with pytest.raises(ConfigError, match=re.escape("the login 'c@example.com' needs a password source")):
        delivery_plan({"backend": "smtp", "sender": "c@example.com",
                       "smtp": {"host": "h.example.com", "username": "c@example.com"}})
    with pytest.raises(ConfigError, match="sender: required for ses delivery"):
        delivery_plan({"backend": "ses"})
    with pytest.raises(ConfigError, match=re.escape("SMTP host: required for smtp delivery: set "
                                                    "CHARGEBACK_SMTP_HOST or delivery.smtp.host")):
        delivery_plan({"backend": "smtp", "sender": "c@example.com"})


def test_a_login_without_tls_is_refused_unless_allowed():
    smtp = {"host": "h.example.com", "security": "none", "username": "c@example.com", "password_env": "PW"}
    with pytest.raises(ConfigError, match=re.escape("logging in as 'c@example.com' without TLS would send the password")):
        delivery_plan({"backend": "smtp", "sender": "c@example.com", "smtp": smtp})
    plan = delivery_plan({"backend": "smtp", "sender": "c@example.com", "smtp": {**smtp, "allow_insecure": True}})
    assert plan.smtp is not None and plan.smtp.security == "none"
    # without a login there is no password to protect: a plain relay is fine
    assert delivery_plan({"backend": "smtp", "sender": "c@example.com",
                          "smtp": {"host": "h.example.com", "security": "none"}}).smtp is not None


def test_build_mailer_defaults_to_the_warehouse_outbox():
    mailer = mailer_for(None, store=MemoryObjectStore())
    assert isinstance(mailer, OutboxMailer)
    assert mailer.prefix == "outbox"
    with pytest.raises(ConfigError, match="outbox needs a folder"):
        mailer_for({})


def test_build_mailer_smtp_reads_the_password_from_the_named_variable():
    config = {"backend": "smtp", "sender": "c@example.com",
              "smtp": {"host": "smtpdm.aliyun.com", "username": "c@example.com",
                       "password_env": "SMTP_PASSWORD"}}
    mailer = mailer_for(config, env={"SMTP_PASSWORD": "s3cret"})
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.security) == ("smtpdm.aliyun.com", 465, "ssl")
    assert "s3cret" not in repr(mailer)
    with pytest.raises(ConfigError, match="SMTP_PASSWORD"):
        mailer_for(config, env={})


def test_the_ssl_flag_and_the_port_pick_the_security():
    base = {"backend": "smtp", "sender": "c@example.com"}
    implicit = mailer_for({**base, "smtp": {"host": "smtpdm.aliyun.com", "port": 465, "ssl": True}})
    starttls = mailer_for({**base, "smtp": {"host": "smtpdm.aliyun.com", "port": 80, "ssl": False}})
    by_port = mailer_for({**base, "smtp": {"host": "smtpdm.aliyun.com", "port": 80}})
    assert isinstance(implicit, SmtpMailer) and isinstance(starttls, SmtpMailer) and isinstance(by_port, SmtpMailer)
    assert (implicit.security, starttls.security, by_port.security) == ("ssl", "starttls", "starttls")
    with pytest.raises(ConfigError, match="contradicts"):
        delivery_plan({**base, "smtp": {"host": "h.example.com", "ssl": True, "security": "none"}})
