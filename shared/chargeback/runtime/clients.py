"""The cloud clients of one invocation, built once and passed down.

``build_clients`` makes only what the settings need: a boto3 session with S3, Secrets Manager and SES clients
when an s3:// URL, SES delivery or a secret ARN is configured; OSS credentials from the OSS secret (on AWS) or
from the Function Compute role's STS credentials (``context.credentials``). The OSS keys are fetched here,
once, and never logged (the SMTP password is fetched by ``chargeback.delivery.build`` with the Secrets Manager
client from here, or on Function Compute with ``kms``: Alibaba KMS reached with the role's STS credentials). The
S3 client has the storage policy's timeouts (``storage_policy``). Tests hand in a moto-backed ``session`` or
build ``Clients`` themselves.

``open_store`` and ``load_job_config`` turn settings plus clients into the objects the jobs use, so the jobs
never touch an SDK. Cloud SDKs are imported inside the functions that need them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from chargeback.config.environment import Settings
from chargeback.config.file import DEFAULT_CONFIG, ConfigFile, load_config_file, parse_config_file
from chargeback.errors import ConfigError, StorageError
from chargeback.storage import ObjectStore, StoragePolicy
from chargeback.storage import open_store as open_url


@dataclass(frozen=True)
class OssCredentials:
    """An OSS AccessKey pair, with the STS token when it is temporary. The secret never shows in a repr."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_fc_context(cls, context: Any) -> OssCredentials | None:
        """The function role's STS credentials from a Function Compute context, if it carries them."""
        creds = getattr(context, "credentials", None)
        key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
        secret = getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", None)
        token = getattr(creds, "security_token", None) or getattr(creds, "securityToken", None)
        if not key_id or not secret:
            return None
        return cls(str(key_id), str(secret), str(token) if token else None)


@dataclass
class Clients:
    """What the jobs may call out to. Fields stay None when the settings don't need them."""

    session: Any | None = None  # boto3.Session
    s3: Any | None = None
    secrets: Any | None = None
    ses: Any | None = None  # SES v1 client (send_raw_email)
    sesv2: Any | None = None
    oss: OssCredentials | None = None
    kms: Any | None = None  # chargeback.aliyun_kms.KmsSecrets: Alibaba KMS with the FC role's credentials

    def for_mail(self) -> dict[str, Any]:
        """The clients ``build_mailer`` may use, by service name."""
        named = {"sesv2": self.sesv2, "secretsmanager": self.secrets, "kms": self.kms}
        return {name: client for name, client in named.items() if client is not None}


ALL_STORES: tuple[str, ...] = ("source", "warehouse", "mapping")


def store_urls(settings: Settings, stores: tuple[str, ...] = ALL_STORES) -> list[str]:
    """The object URLs of the named stores ('source', 'warehouse', 'mapping') that are configured."""
    urls = {"source": settings.source_url, "warehouse": settings.warehouse_url,
            "mapping": settings.mapping_url or ""}
    return [urls[name] for name in stores if urls[name]]


def build_clients(settings: Settings, *, stores: tuple[str, ...] = ALL_STORES, session: Any | None = None,
                  fc_credentials: OssCredentials | None = None) -> Clients:
    """The clients a job that opens ``stores`` needs, secrets already fetched.

    Only the credentials of those stores are fetched, so a job's role needs no more (the monthly job never
    reads the bills, and its role may not read the OSS keys). ConfigError when a credential is missing.
    """
    schemes = {urlparse(url).scheme.lower() for url in store_urls(settings, stores)}
    uses_oss = "oss" in schemes
    clients = Clients()
    delivery = settings.delivery
    if "s3" in schemes or delivery.backend == "ses" or delivery.smtp_secret_arn or (
            uses_oss and settings.oss_secret_arn):
        if session is None:
            import boto3

            session = boto3.Session()
        clients.session = session
        from chargeback.storage.s3 import build_s3_client  # boto3's timeouts, the store's retries

        clients.s3 = build_s3_client(session=session, policy=storage_policy(settings))
        clients.secrets = session.client("secretsmanager")
        if delivery.backend == "ses":
            clients.ses = session.client("ses")
            clients.sesv2 = session.client("sesv2")
    if uses_oss:
        if settings.oss_secret_arn:
            clients.oss = _oss_from_secret(clients.secrets, settings.oss_secret_arn)
        elif fc_credentials is not None:
            clients.oss = fc_credentials
        else:
            raise ConfigError("CHARGEBACK_OSS_SECRET_ARN: required for oss:// URLs outside Function Compute "
                              "(there the function role's credentials are used)", source="environment")
    if delivery.smtp_secret_name and fc_credentials is not None:
        from chargeback.aliyun_kms import KmsSecrets

        clients.kms = KmsSecrets(delivery.kms_endpoint or "", fc_credentials.access_key_id,
                                 fc_credentials.access_key_secret, fc_credentials.security_token)
    return clients


def _secret_string(secrets: Any, arn: str) -> str:
    try:
        response = secrets.get_secret_value(SecretId=arn)
    except Exception as exc:  # botocore's ClientError and connection errors, named without the secret
        raise StorageError(f"cannot read secret {arn}: {type(exc).__name__}") from exc
    value = response.get("SecretString")
    if not value:
        raise ConfigError(f"secret {arn} has no string value", source="secrets manager")
    return str(value)


def _oss_from_secret(secrets: Any, arn: str) -> OssCredentials:
    """The secret holds JSON {"access_key_id": ..., "access_key_secret": ...} (see template.yml)."""
    text = _secret_string(secrets, arn)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not data.get("access_key_id") or not data.get("access_key_secret"):
        raise ConfigError(f"secret {arn} must be JSON with 'access_key_id' and 'access_key_secret'",
                          source="secrets manager")
    return OssCredentials(str(data["access_key_id"]), str(data["access_key_secret"]),
                          str(data["security_token"]) if data.get("security_token") else None)


def storage_policy(settings: Settings) -> StoragePolicy:
    """The time limits of every storage call: the defaults within CHARGEBACK_STORAGE_DEADLINE."""
    return StoragePolicy.within(settings.storage_deadline)


def store_options(url: str, settings: Settings, clients: Clients) -> dict[str, Any]:
    """The adapter options for ``url``: the S3 client, or the OSS endpoint and credentials; and the policy."""
    scheme = urlparse(url).scheme.lower()
    if scheme == "s3":
        if clients.s3 is None:
            raise ConfigError(f"{url}: no S3 client was built", source="environment")
        return {"client": clients.s3, "policy": storage_policy(settings)}
    if scheme == "oss":
        if clients.oss is None:
            raise ConfigError(f"{url}: no OSS credentials", source="environment")
        return {"endpoint": settings.oss_endpoint, "access_key_id": clients.oss.access_key_id,
                "access_key_secret": clients.oss.access_key_secret,
                "security_token": clients.oss.security_token, "policy": storage_policy(settings)}
    return {}


def open_store(url: str, settings: Settings, clients: Clients) -> ObjectStore:
    """The object store at ``url``, wired with the invocation's clients."""
    return open_url(url, **store_options(url, settings, clients))


def load_job_config(settings: Settings, clients: Clients) -> ConfigFile:
    """The configuration file named by CHARGEBACK_MAPPING_URL: a local file or an object; the default when unset."""
    url = settings.mapping_url
    if not url:
        return DEFAULT_CONFIG
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("s3", "oss"):
        return load_config_file(urlparse(url).path if scheme == "file" else url)
    # s3://bucket/config/mapping.yaml -> the store s3://bucket/config and the key mapping.yaml
    folder, _, key = url.rstrip("/").rpartition("/")
    store = open_store(folder, settings, clients)
    return parse_config_file(store.read_bytes(key), source=url)
