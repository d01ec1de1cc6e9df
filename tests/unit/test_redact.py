"""redact(): known secrets and anything credential-like leave every error text."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from chargeback.redact import REDACTED, redact

TOKEN = "f3c1a9e07b2d4c5e8a6b0d1e2f3a4b5c"


@pytest.mark.parametrize(("text", "expected"), [
    ("POST /robot/send?access_token=abc123def&timestamp=1&sign=XyZ%2B%3D HTTP/1.1",
     "POST /robot/send?access_token=[redacted]&timestamp=1&sign=[redacted] HTTP/1.1"),
    ("Authorization: Bearer s3cr3t-token-value", "Authorization: [redacted]"),
    ("got bearer abcdefgh1234 from you", "got bearer [redacted] from you"),
    ('{"token": "tok-1234", "ok": 1}', '{"token": "[redacted]", "ok": 1}'),
    ("{'password': 'hunter22', 'user': 'me'}", "{'password': '[redacted]', 'user': 'me'}"),
    ("<Error><Code>SignatureDoesNotMatch</Code><StringToSign>GET\n\nx-oss-security-token:CAIS123\n/b/k"
     "</StringToSign><SignatureProvided>abc=</SignatureProvided></Error>",
     "<Error><Code>SignatureDoesNotMatch</Code><StringToSign>[redacted]</StringToSign>"
     "<SignatureProvided>[redacted]</SignatureProvided></Error>"),
    ("GET\\nx-oss-security-token:CAIS123\\n/b", "GET\\nx-oss-security-token:[redacted]\\n/b"),
    ("X-Amz-Security-Token: FwoGZXIvYXdzE", "X-Amz-Security-Token: [redacted]"),
    ("see https://hooks.slack.com/services/T0/B0/XXXXSECRET now", "see https://hooks.slack.com/services/[redacted] now"),
    ("http://user:pa55word@host/x", "http://[redacted]@host/x"),
    ("Authorization: OSS4-HMAC-SHA256 Credential=LTAI/20260101/cn/oss/aliyun_v4_request,Signature=abc",
     "Authorization: [redacted]"),
])
def test_credential_shapes_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_ordinary_messages_are_left_alone() -> None:
    for text in ("CHARGEBACK_SMTP_SECRET_ARN or SMTP_PASSWORD: one is required",
                 "S3 get of s3://bills/raw/2026-05.csv failed: HTTP 503 SlowDown Please reduce your request rate.",
                 "bills/x.csv, line 3, field 'amount': not a number", ""):
        assert redact(text) == text


def test_known_secrets_go_in_every_spelling() -> None:
    url = f"https://hooks.example.test/hook/{TOKEN}?key=k-{TOKEN[:8]}"
    text = (f"echo: POST /hook/{TOKEN}?key=k-{TOKEN[:8]} token {TOKEN} quoted {quote(url, safe='')} "
            f"k-{TOKEN[:8]}")
    cleaned = redact(text, [url, None, "abc"])  # None and too-short values are ignored
    assert TOKEN not in cleaned and TOKEN[:8] not in cleaned
    assert cleaned.count(REDACTED) >= 4
    assert cleaned.startswith("echo: POST ")
