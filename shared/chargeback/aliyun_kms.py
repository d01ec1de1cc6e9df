"""Alibaba Cloud KMS Secrets Manager: one secret's value, read with the Function Compute role's STS credentials.

On Function Compute the SMTP password lives in a KMS secret (``CHARGEBACK_SMTP_SECRET_NAME``) rather than in
the function's environment, where anyone allowed to read the function's configuration would see it. The
function's RAM role may call ``kms:GetSecretValue`` on that one secret (infra/aliyun/ram-policy-*.json).

The official SDK (``aliyun-python-sdk-kms`` on ``aliyun-python-sdk-core``, which oss2 also uses) signs the
request; it is imported here only. Errors name the secret and KMS's error code, never a credential.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from chargeback.errors import ConfigError, StorageError
from chargeback.redact import redact

_REGION = re.compile(r"^kms(?:-vpc)?\.(?P<region>[a-z0-9-]+)\.aliyuncs\.com$")
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10


def kms_region(endpoint: str) -> str:
    """The region of a KMS endpoint (kms.cn-hangzhou.aliyuncs.com); cn-hangzhou for any other host."""
    host = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").hostname or ""
    match = _REGION.match(host)
    return match.group("region") if match else "cn-hangzhou"


def read_kms_secret(endpoint: str, name: str, *, access_key_id: str, access_key_secret: str,
                    security_token: str | None) -> str:
    """The current value of the KMS secret ``name`` at ``endpoint`` (https://kms.<region>.aliyuncs.com)."""
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
    from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkkms.request.v20160120.GetSecretValueRequest import GetSecretValueRequest

    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    credential: Any = (StsTokenCredential(access_key_id, access_key_secret, security_token) if security_token
                       else AccessKeyCredential(access_key_id, access_key_secret))
    client = AcsClient(region_id=kms_region(endpoint), credential=credential, connect_timeout=CONNECT_TIMEOUT,
                       timeout=READ_TIMEOUT, max_retry_time=3)
    request = GetSecretValueRequest()
    request.set_SecretName(name)
    request.set_accept_format("JSON")
    request.set_protocol_type(parts.scheme or "https")
    request.set_endpoint(parts.netloc)
    secrets = (access_key_secret, security_token)
    try:
        answer = json.loads(client.do_action_with_exception(request))
    except ServerException as exc:
        words = redact(f"{exc.get_error_code()}: {exc.get_error_msg()}", secrets)
        raise StorageError(f"cannot read KMS secret {name!r} (HTTP {exc.get_http_status()} {words})") from None
    except (ClientException, ValueError) as exc:
        raise StorageError(f"cannot read KMS secret {name!r}: {redact(str(exc), secrets)}") from None
    value = answer.get("SecretData") if isinstance(answer, dict) else None
    if not value:
        raise ConfigError(f"KMS secret {name!r} has no value", source="kms")
    return str(value)


class KmsSecrets:
    """KMS Secrets Manager at one endpoint, with one set of credentials (the Function Compute role's)."""

    def __init__(self, endpoint: str, access_key_id: str, access_key_secret: str,
                 security_token: str | None = None) -> None:
        self.endpoint = endpoint
        self._access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self._security_token = security_token

    def __repr__(self) -> str:  # never the credentials
        return f"KmsSecrets({self.endpoint!r})"

    def read(self, name: str) -> str:
        """The current value of the secret ``name``."""
        return read_kms_secret(self.endpoint, name, access_key_id=self._access_key_id,
                               access_key_secret=self._access_key_secret, security_token=self._security_token)
