"""The ``delivery:`` section of the mapping file, validated, and ``build_mailer`` that turns it into a Mailer.

    delivery:
      backend: smtp                      # outbox (default) | smtp | ses
      sender: "Chargeback <chargeback@example.com>"
      finance_cc: [finance@example.com]  # copied on every statement
      outbox: out/outbox                 # outbox folder or store URL; default: outbox/ in the warehouse
      smtp: {host: smtpdm.aliyun.com, port: 465, security: ssl, username: chargeback@example.com,
             password_env: SMTP_PASSWORD}           # or password_secret_arn: arn:aws:secretsmanager:...
                                                    # security: ssl | starttls | none (or ssl: true|false)
      ses: {region: us-east-1, configuration_set: statements}

Passwords never live in the file: ``password_env`` names an environment variable, ``password_secret_arn``
an AWS Secrets Manager secret (plain text, or JSON with a ``password`` field). Clients are built here, once,
unless the caller hands them in through ``clients`` (tests do).
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chargeback.delivery import Mailer
from chargeback.delivery.mime import address_of, is_valid_address
from chargeback.delivery.outbox import OutboxMailer
from chargeback.errors import ConfigError
from chargeback.storage import ObjectStore, open_store

DEFAULT_SENDER = "Model Studio Chargeback <chargeback@localhost.localdomain>"
WAREHOUSE_OUTBOX_PREFIX = "outbox"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(default=465, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str | None = None
    password_env: str | None = None
    password_secret_arn: str | None = None
    secret_field: str = "password"  # noqa: S105 - the name of the JSON field to read, not a password
    ca_file: str | None = None  # extra CA bundle for a relay with a private certificate
    timeout: float = Field(default=30.0, gt=0)
    password: Any = None  # only so that a password in the file gets a clear error

    @model_validator(mode="before")
    @classmethod
    def _ssl_flag(cls, data: Any) -> Any:
        # `ssl: true|false` (as the job settings write it) is shorthand for security ssl | starttls.
        if isinstance(data, dict) and "ssl" in data:
            data = dict(data)
            flag = data.pop("ssl")
            if not isinstance(flag, bool):
                raise ValueError(f"ssl must be true or false, not {flag!r}")
            wanted = "ssl" if flag else "starttls"
            if data.setdefault("security", wanted) != wanted:
                raise ValueError(f"ssl: {str(flag).lower()} contradicts security: {data['security']}")
        return data

    @field_validator("password")
    @classmethod
    def _no_password_in_file(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("never put the password in the mapping file: name an environment variable "
                             "(password_env) or a Secrets Manager secret (password_secret_arn)")
        return value

    @field_validator("password_secret_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("arn:") and value.count(":") >= 6):
            raise ValueError(f"not a Secrets Manager ARN: {value!r}")
        return value

    @model_validator(mode="after")
    def _password_source(self) -> SmtpSettings:
        if self.username and not (self.password_env or self.password_secret_arn):
            raise ValueError("a username needs password_env or password_secret_arn")
        if self.password_env and self.password_secret_arn:
            raise ValueError("give password_env or password_secret_arn, not both")
        return self


class SesSettings(_Strict):
    region: str | None = None
    configuration_set: str | None = None


class DeliverySettings(_Strict):
    backend: Literal["outbox", "smtp", "ses"] = "outbox"
    sender: str = DEFAULT_SENDER
    finance_cc: list[str] = Field(default_factory=list)
    outbox: str | None = None
    smtp: SmtpSettings | None = None
    ses: SesSettings | None = None

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not is_valid_address(address_of(value)):
            raise ValueError(f"not an email address: {value!r}")
        return value

    @field_validator("finance_cc", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("finance_cc")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not is_valid_address(a)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(repr(b) for b in bad)}")
        return value

    @model_validator(mode="after")
    def _backend_settings(self) -> DeliverySettings:
        if self.backend == "smtp" and self.smtp is None:
            raise ValueError("backend 'smtp' needs an 'smtp' section with at least 'host'")
        if self.backend in ("smtp", "ses") and self.sender == DEFAULT_SENDER:
            raise ValueError(f"backend {self.backend!r} needs a 'sender' address the server accepts")
        return self


def parse_delivery_settings(raw: Mapping[str, Any] | None, source: str = "mapping") -> DeliverySettings:
    """The validated ``delivery:`` section; a ConfigError lists every bad field."""
    try:
        return DeliverySettings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise ConfigError("invalid delivery settings: " + _problems(exc, "delivery"), source=source) from None


def _problems(exc: ValidationError, section: str) -> str:
    problems = []
    for error in exc.errors():
        path = ".".join([section, *(str(p) for p in error["loc"])])
        problems.append(f"{path}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def build_mailer(
    config: Mapping[str, Any] | None,
    *,
    store: ObjectStore | None = None,
    env: Mapping[str, str] = os.environ,
    clients: Mapping[str, Any] | None = None,
) -> Mailer:
    """The Mailer that ``config`` (the ``delivery:`` section) describes.

    ``store`` is the warehouse, where the outbox goes when no folder is configured. ``env`` is where
    ``password_env`` is looked up. ``clients`` may hold ready boto3 clients by service name ('sesv2',
    'secretsmanager'); missing ones are built with boto3's default credential chain.
    """
    settings = parse_delivery_settings(config)
    clients = clients or {}
    if settings.backend == "smtp":
        assert settings.smtp is not None  # checked by the settings
        return _smtp_mailer(settings.smtp, env, clients)
    if settings.backend == "ses":
        from chargeback.delivery.ses import SesMailer

        ses = settings.ses or SesSettings()
        client = clients.get("sesv2") or _boto3_client("sesv2", ses.region)
        return SesMailer(client, configuration_set=ses.configuration_set)
    return outbox_mailer(settings, store)


def outbox_mailer(settings: DeliverySettings, store: ObjectStore | None) -> OutboxMailer:
    """The outbox: the configured folder or URL, else ``outbox/`` in the warehouse."""
    if settings.outbox:
        return OutboxMailer(open_store(settings.outbox))
    if store is None:
        raise ConfigError("the outbox needs a folder (delivery.outbox) or a warehouse to write into")
    return OutboxMailer(store, WAREHOUSE_OUTBOX_PREFIX)


def _smtp_mailer(smtp: SmtpSettings, env: Mapping[str, str], clients: Mapping[str, Any]) -> Mailer:
    from chargeback.delivery.smtp import SmtpMailer

    password: str | None = None
    if smtp.password_env:
        password = env.get(smtp.password_env)
        if not password:
            raise ConfigError(f"the environment variable {smtp.password_env} (delivery.smtp.password_env) "
                              "is not set")
    elif smtp.password_secret_arn:
        password = _secret_password(smtp.password_secret_arn, smtp.secret_field, clients)
    context = ssl.create_default_context(cafile=smtp.ca_file) if smtp.ca_file else None
    return SmtpMailer(smtp.host, smtp.port, security=smtp.security, username=smtp.username, password=password,
                      timeout=smtp.timeout, ssl_context=context)


def _secret_password(arn: str, field: str, clients: Mapping[str, Any]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    region = arn.split(":")[3]
    client = clients.get("secretsmanager") or _boto3_client("secretsmanager", region)
    try:
        value = client.get_secret_value(SecretId=arn)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"cannot read the SMTP password secret {arn}: {exc}") from None
    text = value.get("SecretString")
    if not text:
        raise ConfigError(f"the secret {arn} has no text value")
    try:
        parsed = json.loads(text)
    except ValueError:
        return str(text)
    if isinstance(parsed, dict):
        if field not in parsed:
            raise ConfigError(f"the secret {arn} is JSON without a {field!r} field")
        return str(parsed[field])
    return str(text)


def _boto3_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region)  # type: ignore[call-overload]
