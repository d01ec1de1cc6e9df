"""Secrets out of every error text that is logged or stored: one function, ``redact``.

Servers often echo the request in an error body (the URL with its token, the headers, OSS's and S3's
``StringToSign``), and SDK exceptions repeat those bodies. ``redact(text, secrets)`` returns the text with

- every value in ``secrets`` (webhook URLs, tokens, passwords, AccessKey secrets, STS tokens), also URL-encoded
  and, for a URL, its path, its token-like path segments and each query value, replaced by ``[redacted]``;
- whatever looks like a credential replaced too, known or not: ``Authorization``/``Bearer`` values, query and
  header values named like a token, signature, secret, password or security token (``access_token=``,
  ``sign=``, ``x-oss-security-token:``, ``X-Amz-Signature=``...), JSON fields with such names, the XML elements
  OSS and S3 echo (``StringToSign``, ``SignatureProvided``, ``CanonicalRequest``...), user:password in URLs
  and Slack webhook paths.

Call it where an error text is made from outside data (a response body, an SDK exception) and pass the secrets
the caller holds; the log formatters (chargeback.logs) apply it once more to every record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words; real secrets are far longer

_NAMES = (
    r"access[_-]?token|refresh[_-]?token|id[_-]?token|token|sign|signature|secret|client[_-]?secret|password|passwd"
    r"|api[_-]?key|apikey|access[_-]?key[_-]?secret|accesskeysecret|secret[_-]?access[_-]?key|session[_-]?token"
    r"|security[_-]?token|x-oss-security-token|x-amz-security-token|x-amz-signature|x-amz-credential"
    r"|x-acs-security-token|x-fc-access-key-secret|x-fc-security-token|smtp[_-]?password"
)
# header names (narrower than _NAMES: "password: required" in a message is not a header)
_HEADERS = (
    r"x-oss-security-token|x-amz-security-token|x-acs-security-token|x-fc-access-key-secret|x-fc-security-token"
    r"|x-amz-signature|x-amz-credential|security-token|x-api-key|api-key|x-auth-token|access-token"
)
_XML_TAGS = (
    "StringToSign|StringToSignBytes|SignatureProvided|CanonicalRequest|CanonicalRequestBytes|SecurityToken"
    "|AccessKeySecret|SecretAccessKey|SessionToken|Signature"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: OSS id:sig / AWS4-HMAC-SHA256 Credential=... / Basic ... (to the end of the value)
    (re.compile(r"(?i)\b((?:proxy-)?authorization)(\"?\s*[:=]\s*\"?)[^\r\n\"'<>}]+"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), rf"\1 {REDACTED}"),
    # JSON fields: "token": "value"
    (re.compile(rf"(?i)(\"(?:{_NAMES})\"\s*:\s*\")[^\"]*(\")"), rf"\1{REDACTED}\2"),
    # Python reprs of dicts: 'token': 'value'
    (re.compile(rf"(?i)('(?:{_NAMES})'\s*:\s*')[^']*(')"), rf"\1{REDACTED}\2"),
    # query parameters and form fields: token=value
    (re.compile(rf"(?i)(^|[?&;\s\"'(,]|\\n)((?:{_NAMES})=)[^&\s\"'<>)]+"), rf"\1\2{REDACTED}"),
    # header lines, also inside an echoed StringToSign: x-oss-security-token:value
    (re.compile(rf"(?i)(^|[\s\"'\n]|\\n)((?:{_HEADERS})\s*:\s*)(?!\[redacted\])[^\s\"'<>,;\\]+"),
     rf"\1\2{REDACTED}"),
    # XML elements the OSS and S3 error documents echo
    (re.compile(rf"(?is)<({_XML_TAGS})>.*?</\1>"), rf"<\1>{REDACTED}</\1>"),
    # credentials in a URL: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@\"'<>]+:[^/\s@\"'<>]+@"), rf"\1{REDACTED}@"),
    # Slack incoming webhooks carry their secret in the path
    (re.compile(r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"), rf"\1{REDACTED}"),
)


def secret_forms(secret: str) -> set[str]:
    """The spellings of ``secret`` that may appear in an echoed request."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    parts = urlsplit(secret)
    if parts.scheme in ("http", "https") and parts.netloc:
        if parts.path.strip("/"):
            forms.add(parts.path)
            forms.add(parts.path + (f"?{parts.query}" if parts.query else ""))
            # a token in the path (…/hook/3f9a…): segments long enough and with a digit, or very long
            forms.update(segment for segment in parts.path.split("/")
                         if (len(segment) >= 8 and any(c.isdigit() for c in segment)) or len(segment) >= 20)
        for _, value in parse_qsl(parts.query, keep_blank_values=False):
            forms.update({value, quote(value, safe=""), quote_plus(value)})
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the given secrets and without anything that looks like a credential."""
    if not text:
        return text
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            forms |= secret_forms(secret)
    for form in sorted(forms, key=len, reverse=True):  # the longest first: a URL before its query values
        text = text.replace(form, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
