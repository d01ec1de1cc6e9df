"""A stand-in for Alibaba Cloud KMS Secrets Manager on 127.0.0.1: ``GetSecretValue`` with the RPC signature checked.

It checks what the real service would refuse: the signature (HMAC-SHA1 over the sorted, RFC 3986-encoded
parameters, keyed with the AccessKey secret and '&', computed here independently of the SDK), the STS token,
the action and the secret's name; a wrong one gets KMS's error shape. Test support only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.support.webhook_servers import QuietHandler, serve


def _encode(text: str) -> str:
    return quote(text, safe="~")


def rpc_signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{_encode('/')}&{_encode(canonical)}"
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class FakeKms:
    access_key_id: str
    access_key_secret: str
    security_token: str
    secrets: dict[str, str]
    calls: list[dict[str, str]] = field(default_factory=list)

    def answer(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.calls.append(params)
        signature = params.pop("Signature", "")
        if (params.get("AccessKeyId") != self.access_key_id
                or params.get("SecurityToken") != self.security_token
                or not hmac.compare_digest(signature, rpc_signature(method, params, self.access_key_secret))):
            return 400, {"Code": "IncompleteSignature", "Message": "The request signature does not conform",
                         "RequestId": "KMS-FAKE"}
        if params.get("Action") != "GetSecretValue" or params.get("Version") != "2016-01-20":
            return 400, {"Code": "InvalidAction", "Message": "unknown action", "RequestId": "KMS-FAKE"}
        name = params.get("SecretName", "")
        if name not in self.secrets:
            return 404, {"Code": "Forbidden.ResourceNotFound", "Message": f"secret {name} not found",
                         "RequestId": "KMS-FAKE"}
        return 200, {"SecretName": name, "SecretData": self.secrets[name], "SecretDataType": "text",
                     "VersionId": "v1", "RequestId": "KMS-FAKE"}


@contextmanager
def kms_server(kms: FakeKms) -> Iterator[str]:
    """Serve ``kms`` on 127.0.0.1; yields its endpoint (http://127.0.0.1:PORT)."""

    class Handler(QuietHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            params.update(parse_qsl(body, keep_blank_values=True))
            status, answer = kms.answer(self.command, params)
            self.answer(status, json.dumps(answer).encode())

        do_GET = do_POST = _serve

    with serve(Handler) as endpoint:
        yield endpoint
