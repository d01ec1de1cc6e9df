"""The building blocks of every configuration section: one strict base model and one check per kind of value.

E-mail addresses, sender addresses, environment variable names, host names, secret ARNs, identifiers (API key
and workspace IDs) and exact decimals are each checked here and only here, so the file, the environment and
the mail backends agree on what a valid value is.
"""

from __future__ import annotations

import re
from decimal import Decimal
from email.utils import parseaddr
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from chargeback.config.yaml_source import YamlFloat


class Section(BaseModel):
    """A part of the configuration file: typed, frozen, and every key it does not know is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# One local part, one dotted domain, no spaces, quotes, brackets or list separators.
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;.]+(\.[^@\s<>\"',;.]+)+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")


def is_email_address(text: str) -> bool:
    """Whether ``text`` is one plain e-mail address (no display name, no list)."""
    return bool(_EMAIL.match(text))


def address_of(sender: str) -> str:
    """The bare address in 'Name <a@b.c>' or 'a@b.c'."""
    return parseaddr(sender)[1]


def check_email(value: str) -> str:
    if not is_email_address(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def check_sender(value: str) -> str:
    """An address, optionally with a display name: 'Chargeback <billing@example.com>'."""
    if not is_email_address(address_of(value)) or "\n" in value or "\r" in value:
        raise ValueError(f"{value!r} is not an email address (or 'Name <address>')")
    return value


def check_env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def check_host(value: str) -> str:
    if not HOST_NAME.match(value):
        raise ValueError(f"{value!r} is not a host name")
    return value


def check_secret_arn(value: str) -> str:
    if not _SECRET_ARN.match(value):
        raise ValueError(f"{value!r} is not a Secrets Manager secret ARN")
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _id_text(value: Any) -> Any:
    """YAML reads 2100001 as a number; an ID is its text (numbers YAML would misread are refused on load)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _exact(value: Any) -> Any:
    """Decimals from the text they were written with, never through a binary float."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    if isinstance(value, YamlFloat) and value.text is not None:
        return value.text
    if isinstance(value, float):
        return str(value)
    return value


def _exact_list(value: Any) -> Any:
    return [_exact(v) for v in value] if isinstance(value, list) else value


EmailAddress = Annotated[str, AfterValidator(check_email)]
EmailAddresses = Annotated[list[EmailAddress], BeforeValidator(_one_or_many)]
SenderAddress = Annotated[str, AfterValidator(check_sender)]
EnvName = Annotated[str, AfterValidator(check_env_name)]
HostName = Annotated[str, AfterValidator(check_host)]
SecretArn = Annotated[str, AfterValidator(check_secret_arn)]
Identifier = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]
Exact = Annotated[Decimal, BeforeValidator(_exact)]
ExactList = Annotated[list[Decimal], BeforeValidator(_exact_list)]
