"""The cloud clients of one invocation, built once and passed down to the jobs.

``build_clients`` makes only what the settings need: a boto3 session with S3, Secrets Manager and SES clients
when an s3:// URL, SES delivery or a secret ARN is configured; OSS credentials from the OSS secret (on AWS) or
from the Function Compute role's STS credentials (``context.credentials``). Secrets are fetched here, once,
and never logged. Tests hand in a moto-backed ``session`` or build ``Clients`` themselves.

``open_store``, ``load_job_mapping`` and ``build_job_mailer`` turn settings plus clients into the objects the
jobs use, so the jobs never touch an SDK. Cloud SDKs are imported inside the functions that need them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from chargeback.allocation.mapping import DEFAULT_MAPPING, load_mapping, parse_mapping
from chargeback.allocation.mapping import Mapping as TeamMapping
from chargeback.delivery import Mailer
from chargeback.errors import ConfigError, StorageError
from chargeback.settings import Settings
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
    smtp_password: str | None = field(default=None, repr=False)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # for alert webhooks named in the mapping


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
    if "s3" in schemes or settings.delivery == "ses" or settings.smtp_secret_arn or (
            uses_oss and settings.oss_secret_arn):
        if session is None:
            import boto3

            session = boto3.Session()
        clients.session = session
        from chargeback.storage.s3 import build_s3_client  # boto3's timeouts, the store's retries

        clients.s3 = build_s3_client(session=session, policy=storage_policy(settings))
        clients.secrets = session.client("secretsmanager")
        if settings.delivery == "ses":
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
    if settings.delivery == "smtp":
        if settings.smtp_secret_arn:
            clients.smtp_password = _smtp_password_from_secret(clients.secrets, settings.smtp_secret_arn)
        elif settings.smtp_secret_name:
            clients.smtp_password = _smtp_password_from_kms(settings, fc_credentials)
        elif settings.smtp_password is not None:
            clients.smtp_password = settings.smtp_password.get_secret_value()
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


def _smtp_password_from_kms(settings: Settings, credentials: OssCredentials | None) -> str:
    """The SMTP password from Alibaba KMS Secrets Manager, read with the Function Compute role's credentials."""
    from chargeback.aliyun_kms import read_kms_secret

    name, endpoint = settings.smtp_secret_name or "", settings.kms_endpoint or ""
    if credentials is None:
        raise ConfigError("CHARGEBACK_SMTP_SECRET_NAME: the KMS secret is read with the Function Compute role's "
                          "credentials, and this invocation has none", source="environment")
    text = read_kms_secret(endpoint, name, access_key_id=credentials.access_key_id,
                           access_key_secret=credentials.access_key_secret,
                           security_token=credentials.security_token)
    return _password_of(text, f"KMS secret {name}")


def _smtp_password_from_secret(secrets: Any, arn: str) -> str:
    """The secret is the password itself, or JSON with a 'password' key."""
    return _password_of(_secret_string(secrets, arn), f"secret {arn}")


def _password_of(text: str, what: str) -> str:
    """A secret's text is the password itself, or JSON with a 'password' key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(data, dict) and data.get("password"):
        return str(data["password"])
    if isinstance(data, str):
        return data
    raise ConfigError(f"{what} must be the password or JSON with a 'password' key", source="secret store")


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


def load_job_mapping(settings: Settings, clients: Clients) -> TeamMapping:
    """The mapping named by CHARGEBACK_MAPPING_URL: a local file or an object; the default when unset."""
    url = settings.mapping_url
    if not url:
        return DEFAULT_MAPPING
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("s3", "oss"):
        return load_mapping(urlparse(url).path if scheme == "file" else url)
    # s3://bucket/config/mapping.yaml -> the store s3://bucket/config and the key mapping.yaml
    folder, _, key = url.rstrip("/").rpartition("/")
    store = open_store(folder, settings, clients)
    return parse_mapping(store.read_bytes(key), source=url)


def mailer_config(settings: Settings, mapping: TeamMapping) -> dict[str, Any]:
    """The ``build_mailer`` configuration: the mapping's ``delivery`` section, overridden by the settings."""
    config: dict[str, Any] = dict(mapping.delivery or {})
    config["backend"] = settings.delivery
    if settings.sender:
        config["sender"] = settings.sender
    if settings.delivery == "smtp":
        smtp = dict(config.get("smtp") or {})
        smtp.update({"host": settings.smtp_host, "port": settings.smtp_port, "username": settings.smtp_user,
                     "password_env": "SMTP_PASSWORD", "ssl": settings.smtp_port == 465})
        config["smtp"] = smtp
    return config


def build_job_mailer(settings: Settings, clients: Clients, mapping: TeamMapping,
                     warehouse: ObjectStore) -> Mailer:
    """The mailer for statements and alerts. The SMTP password reaches it through ``env``, not the config."""
    from chargeback.delivery import build_mailer  # type: ignore[attr-defined,unused-ignore]

    env: Mapping[str, str] = {"SMTP_PASSWORD": clients.smtp_password} if clients.smtp_password else {}
    aws = {name: client for name, client in (("ses", clients.ses), ("sesv2", clients.sesv2)) if client}
    mailer: Mailer = build_mailer(mailer_config(settings, mapping), store=warehouse, env=env, clients=aws)
    return mailer
