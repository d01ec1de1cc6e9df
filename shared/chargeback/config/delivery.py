"""The ``delivery:`` section of the configuration file: how statements and alert mail leave.

    delivery:
      backend: smtp                      # outbox | smtp | ses; default outbox
      sender: "Chargeback <chargeback@example.com>"
      finance_cc: [finance@example.com]  # receive the finance statement
      outbox: out/outbox                 # outbox folder or store URL; default: outbox/ in the warehouse
      smtp: {host: smtpdm.aliyun.com, port: 465, security: ssl, username: chargeback@example.com,
             password_env: SMTP_PASSWORD}           # or password_secret_arn: arn:aws:secretsmanager:...
                                                    # security: ssl | starttls | none (or ssl: true|false)
      ses: {region: us-east-1, configuration_set: statements}

Every field may be left out: the environment of a deployed function, or a default, fills it in. Which source
wins for each field is decided in one place, ``chargeback.config.resolve``. Passwords never live in the file:
``password_env`` names an environment variable, ``password_secret_arn`` an AWS Secrets Manager secret (plain
text, or JSON with a ``password`` field).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from chargeback.config.fields import EmailAddresses, EnvName, HostName, SecretArn, Section, SenderAddress

Backend = Literal["outbox", "smtp", "ses"]
Security = Literal["ssl", "starttls", "none"]


class SmtpSettings(Section):
    host: HostName | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security | None = None
    username: str | None = None
    password_env: EnvName | None = None
    password_secret_arn: SecretArn | None = None
    secret_field: str = "password"  # noqa: S105 - the name of the JSON field to read, not a password
    ca_file: str | None = None  # extra CA bundle for a relay with a private certificate
    timeout: float = Field(default=30.0, gt=0)
    allow_insecure: bool = False
    """Log in without TLS (security: none with a username): for a local test server only."""
    password: Any = None  # only so that a password in the file gets a clear error

    @model_validator(mode="before")
    @classmethod
    def _ssl_flag(cls, data: Any) -> Any:
        # `ssl: true|false` is shorthand for security ssl | starttls.
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
            raise ValueError("never put the password in the file: name an environment variable "
                             "(password_env) or a Secrets Manager secret (password_secret_arn)")
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> SmtpSettings:
        if self.password_env and self.password_secret_arn:
            raise ValueError("give password_env or password_secret_arn, not both")
        return self


class SesSettings(Section):
    region: str | None = None
    configuration_set: str | None = None


class DeliverySettings(Section):
    """What the file says about delivery; None where it says nothing."""

    backend: Backend | None = None
    sender: SenderAddress | None = None
    finance_cc: EmailAddresses | None = None
    outbox: str | None = None
    smtp: SmtpSettings | None = None
    ses: SesSettings | None = None
