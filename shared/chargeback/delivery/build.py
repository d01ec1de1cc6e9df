"""``build_mailer``: the Mailer that a resolved delivery plan describes (outbox, SMTP or SES).

The plan comes from ``chargeback.config.resolve``, which decided every field; this module only builds. The
SMTP password is looked up here, once: in the environment variable the plan names, in the AWS Secrets
Manager secret, or in the Alibaba KMS secret (``clients['kms']``, which the function runtime builds with the
role's credentials); a secret is plain text, or JSON with a ``password`` field. Clients are built here unless
the caller hands them in through ``clients`` (the function runtime and tests do).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

from chargeback.config.resolve import DeliveryPlan, PasswordSource, SmtpServer
from chargeback.delivery import Mailer
from chargeback.delivery.outbox import OutboxMailer
from chargeback.errors import ConfigError
from chargeback.storage import ObjectStore, open_store

WAREHOUSE_OUTBOX_PREFIX = "outbox"


def build_mailer(plan: DeliveryPlan, *, store: ObjectStore | None = None, env: Mapping[str, str] | None = None,
                 clients: Mapping[str, Any] | None = None) -> Mailer:
    """The Mailer for ``plan``.

    ``store`` is the warehouse, where the outbox goes when the plan names no folder. ``env`` is where a
    password's environment variable is looked up. ``clients`` may hold ready boto3 clients by service name
    ('sesv2', 'secretsmanager'); missing ones are built with boto3's default credential chain.
    """
    clients = clients or {}
    if plan.backend == "smtp":
        assert plan.smtp is not None  # resolution requires it
        return _smtp_mailer(plan.smtp, env or {}, clients)
    if plan.backend == "ses":
        from chargeback.delivery.ses import SesMailer

        region = plan.ses.region if plan.ses else None
        client = clients.get("sesv2")
        if client is None or (region and client.meta.region_name != region):
            client = _boto3_client("sesv2", region)
        return SesMailer(client, configuration_set=plan.ses.configuration_set if plan.ses else None)
    return outbox_mailer(plan, store)


def outbox_mailer(plan: DeliveryPlan, store: ObjectStore | None) -> OutboxMailer:
    """The outbox: the plan's folder or URL, else ``outbox/`` in the warehouse."""
    if plan.outbox:
        return OutboxMailer(open_store(plan.outbox))
    if store is None:
        raise ConfigError("the outbox needs a folder (delivery.outbox) or a warehouse to write into")
    return OutboxMailer(store, WAREHOUSE_OUTBOX_PREFIX)


def _smtp_mailer(smtp: SmtpServer, env: Mapping[str, str], clients: Mapping[str, Any]) -> Mailer:
    from chargeback.delivery.smtp import SmtpMailer

    password = _password(smtp.password, env, clients) if smtp.password else None
    context = ssl.create_default_context(cafile=smtp.ca_file) if smtp.ca_file else None
    return SmtpMailer(smtp.host, smtp.port, security=smtp.security, username=smtp.username, password=password,
                      timeout=smtp.timeout, ssl_context=context)


def _password(source: PasswordSource, env: Mapping[str, str], clients: Mapping[str, Any]) -> str:
    if source.env:
        password = env.get(source.env)
        if not password:
            raise ConfigError(f"the environment variable {source.env} (the SMTP password) is not set")
        return password
    if source.kms_secret:
        kms = clients.get("kms")
        if kms is None:
            raise ConfigError(f"the SMTP password is the KMS secret {source.kms_secret!r} "
                              "(CHARGEBACK_SMTP_SECRET_NAME), read with the Function Compute role's credentials, "
                              "and this run has none")
        return _password_text(kms.read(source.kms_secret), source.secret_field, f"KMS secret {source.kms_secret}")
    assert source.secret_arn is not None
    return _secret_password(source.secret_arn, source.secret_field, clients)


def _secret_password(arn: str, field: str, clients: Mapping[str, Any]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    region = arn.split(":")[3]
    client = clients.get("secretsmanager") or _boto3_client("secretsmanager", region)
    try:
        value = client.get_secret_value(SecretId=arn)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"cannot read the SMTP password secret {arn}: {type(exc).__name__}") from None
    text = value.get("SecretString")
    if not text:
        raise ConfigError(f"the secret {arn} has no text value")
    return _password_text(str(text), field, f"secret {arn}")


def _password_text(text: str, field: str, what: str) -> str:
    """A secret's text is the password, or JSON with the password in ``field``."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict):
        if not parsed.get(field):
            raise ConfigError(f"the {what} is JSON without a {field!r} field")
        return str(parsed[field])
    return text


def _boto3_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region)  # type: ignore[call-overload]
