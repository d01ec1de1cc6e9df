"""The deployed functions' settings: typed, read from an environment mapping, checked all at once at start.

``Settings.from_env(env)`` reads only the variables that ``Settings.env_names()`` lists (the deployment
descriptors are tested to set exactly these) and raises one ``ConfigError`` naming every bad variable. Nothing
here reads ``os.environ`` itself: the caller passes the mapping in.

Secrets never sit in a plain field: the SMTP password from ``SMTP_PASSWORD`` (Function Compute, where no
secret store is wired in) is a ``SecretStr``; on AWS the SMTP password and the OSS AccessKey pair are
referenced by Secrets Manager ARNs and fetched by ``chargeback.jobs.clients``. Error messages and
``describe()`` never show a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from chargeback.billtime import BILL_TIME_ZONE
from chargeback.errors import ConfigError

Platform = Literal["aws", "fc"]
Delivery = Literal["outbox", "smtp", "ses"]

DELIVERY_BACKENDS: tuple[str, ...] = ("outbox", "smtp", "ses")
STORE_SCHEMES: tuple[str, ...] = ("file", "s3", "oss")

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")

BOTH: frozenset[str] = frozenset({"aws", "fc"})
AWS_ONLY: frozenset[str] = frozenset({"aws"})
FC_ONLY: frozenset[str] = frozenset({"fc"})


class _Invalid(ValueError):
    """A value that cannot be used; the message never repeats a secret."""


def _env(name: str, *, platforms: frozenset[str] = BOTH, secret: bool = False) -> dict[str, Any]:
    return {"env": name, "platforms": platforms, "secret": secret}


@dataclass(frozen=True)
class Settings:
    """Everything environment-specific a scheduled job needs. Build with ``Settings.from_env``."""

    # where the bills land: oss://bucket/prefix, s3://bucket/prefix or a local path
    source_url: str = field(metadata=_env("CHARGEBACK_SOURCE_URL"))
    # where the tables are published: s3://, oss:// or a local path
    warehouse_url: str = field(metadata=_env("CHARGEBACK_WAREHOUSE_URL"))
    # the mapping YAML: a path or an object URL; unset = every workspace is its own cost center
    mapping_url: str | None = field(metadata=_env("CHARGEBACK_MAPPING_URL"))
    # outbox (files under the warehouse's outbox/) | smtp | ses
    delivery: Delivery = field(metadata=_env("CHARGEBACK_DELIVERY"))
    # From address of statements and alerts; required for smtp and ses
    sender: str | None = field(metadata=_env("CHARGEBACK_SENDER"))
    # addresses copied on every statement, comma-separated
    finance_cc: tuple[str, ...] = field(metadata=_env("CHARGEBACK_FINANCE_CC"))
    # the bills' time zone; decides what 'today' is (default Asia/Shanghai, UTC+8 like the bill pushes)
    timezone: ZoneInfo = field(metadata=_env("CHARGEBACK_TIMEZONE"))
    # after this day of the month, last month's statements go out even if its bill is still provisional
    final_day: int = field(metadata=_env("CHARGEBACK_FINAL_DAY"))
    # SMTP server (DirectMail: smtpdm.aliyun.com), port (465 = implicit TLS) and user (DirectMail: the sender)
    smtp_host: str | None = field(metadata=_env("CHARGEBACK_SMTP_HOST"))
    smtp_port: int = field(metadata=_env("CHARGEBACK_SMTP_PORT"))
    smtp_user: str | None = field(metadata=_env("CHARGEBACK_SMTP_USER"))
    # the SMTP password: a Secrets Manager secret on AWS, the value itself on Function Compute
    smtp_secret_arn: str | None = field(metadata=_env("CHARGEBACK_SMTP_SECRET_ARN", platforms=AWS_ONLY))
    smtp_password: SecretStr | None = field(metadata=_env("SMTP_PASSWORD", platforms=FC_ONLY, secret=True))
    # OSS endpoint for oss:// URLs, e.g. https://oss-cn-hangzhou.aliyuncs.com
    oss_endpoint: str | None = field(metadata=_env("CHARGEBACK_OSS_ENDPOINT"))
    # the OSS AccessKey pair in Secrets Manager, for reading OSS from AWS (FC uses its role's STS credentials)
    oss_secret_arn: str | None = field(metadata=_env("CHARGEBACK_OSS_SECRET_ARN", platforms=AWS_ONLY))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from ``env``; a ConfigError names every bad or missing variable, never a secret's value.

        An empty value counts as unset, so templates can pass optional parameters through as ''.
        """
        raw = {spec.name: (env.get(spec.env) or "").strip() for spec in _SPECS}
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in _SPECS:
            try:
                values[spec.name] = spec.parse(raw[spec.name])
            except _Invalid as exc:
                problems.append(f"{spec.env}: {exc}")
        problems += _cross_checks(raw, values)
        if problems:
            raise ConfigError("invalid settings: " + "; ".join(problems), source="environment")
        return cls(**values)

    @classmethod
    def env_names(cls, platform: Platform | None = None) -> frozenset[str]:
        """The variables the settings read; with ``platform``, those that apply there."""
        return frozenset(spec.env for spec in _SPECS if platform is None or platform in spec.platforms)

    @classmethod
    def required_env_names(cls) -> frozenset[str]:
        return frozenset(spec.env for spec in _SPECS if spec.required)

    @property
    def object_urls(self) -> tuple[str, ...]:
        """The storage URLs in use (source, warehouse and an object-store mapping)."""
        urls = [self.source_url, self.warehouse_url]
        if self.mapping_url and _scheme(self.mapping_url) in ("s3", "oss"):
            urls.append(self.mapping_url)
        return tuple(urls)

    def uses(self, scheme: str) -> bool:
        return any(_scheme(url) == scheme for url in self.object_urls)

    def describe(self) -> dict[str, object]:
        """The settings for a start-up log line: secrets appear only as 'set'."""
        out: dict[str, object] = {}
        for spec in _SPECS:
            value = getattr(self, spec.name)
            if spec.secret:
                out[spec.env] = "set" if value is not None else None
            elif isinstance(value, tuple):
                out[spec.env] = list(value)
            else:
                out[spec.env] = str(value) if value is not None else None
        return out


# parsing


@dataclass(frozen=True)
class _Spec:
    name: str
    env: str
    platforms: frozenset[str]
    secret: bool
    parse: Callable[[str], Any]
    required: bool


def _required(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_required(value: str) -> Any:
        if not value:
            raise _Invalid("required")
        return parse(value)

    return parse_required


def _optional(parse: Callable[[str], Any], default: Any = None) -> Callable[[str], Any]:
    def parse_optional(value: str) -> Any:
        return parse(value) if value else default

    return parse_optional


def _scheme(url: str) -> str:
    scheme = urlparse(url).scheme.lower()
    return "file" if scheme == "" else scheme


def _store_url(value: str) -> str:
    parsed = urlparse(value)
    scheme = _scheme(value)
    if scheme not in STORE_SCHEMES:
        raise _Invalid(f"{value!r} is not a file path or a file://, s3:// or oss:// URL")
    if scheme in ("s3", "oss") and not parsed.netloc:
        raise _Invalid(f"{value!r} names no bucket ({scheme}://bucket/prefix)")
    if scheme == "file" and parsed.scheme and parsed.netloc not in ("", "localhost"):
        raise _Invalid(f"{value!r} must not name a host (file:///absolute/path)")
    return value


def _mapping_url(value: str) -> str:
    _store_url(value)
    parsed = urlparse(value)
    if _scheme(value) in ("s3", "oss") and not parsed.path.strip("/"):
        raise _Invalid(f"{value!r} names a bucket but no object key")
    return value


def _delivery(value: str) -> str:
    if value.lower() not in DELIVERY_BACKENDS:
        raise _Invalid(f"{value!r} is not one of {', '.join(DELIVERY_BACKENDS)}")
    return value.lower()


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise _Invalid(f"{value!r} is not an email address")
    return value


def _emails(value: str) -> tuple[str, ...]:
    items = [item.strip() for item in re.split(r"[,;]", value) if item.strip()]
    bad = [item for item in items if not _EMAIL.match(item)]
    if bad:
        raise _Invalid(f"not an email address: {', '.join(repr(b) for b in bad)}")
    return tuple(items)


def _zone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise _Invalid(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise _Invalid(f"{number} is not between {low} and {high}")
        return number

    return parse


def _host(value: str) -> str:
    if not _HOST.match(value):
        raise _Invalid(f"{value!r} is not a host name")
    return value


def _endpoint(value: str) -> str:
    parsed = urlparse(value if "://" in value else f"https://{value}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not _HOST.match(parsed.hostname):
        raise _Invalid(f"{value!r} is not an endpoint (https://oss-<region>.aliyuncs.com)")
    return value


def _secret_arn(value: str) -> str:
    if not _SECRET_ARN.match(value):
        raise _Invalid(f"{value!r} is not a Secrets Manager secret ARN")
    return value


def _secret(value: str) -> SecretStr:
    return SecretStr(value)


def _text(value: str) -> str:
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "source_url": _required(_store_url),
    "warehouse_url": _required(_store_url),
    "mapping_url": _optional(_mapping_url),
    "delivery": _optional(_delivery, "outbox"),
    "sender": _optional(_email),
    "finance_cc": _optional(_emails, ()),
    "timezone": _optional(_zone, BILL_TIME_ZONE),
    # 28 at most: every month has the day, so a provisional statement always goes out in its month.
    "final_day": _optional(_int_between(1, 28), 6),
    "smtp_host": _optional(_host),
    "smtp_port": _optional(_int_between(1, 65535), 465),
    "smtp_user": _optional(_text),
    "smtp_secret_arn": _optional(_secret_arn),
    "smtp_password": _optional(_secret),
    "oss_endpoint": _optional(_endpoint),
    "oss_secret_arn": _optional(_secret_arn),
}

_SPECS: tuple[_Spec, ...] = tuple(
    _Spec(f.name, f.metadata["env"], f.metadata["platforms"], f.metadata["secret"], _PARSERS[f.name],
          required=f.name in ("source_url", "warehouse_url"))
    for f in fields(Settings)
)
_ENV_OF = {spec.name: spec.env for spec in _SPECS}


def _cross_checks(raw: Mapping[str, str], values: Mapping[str, Any]) -> list[str]:
    """Rules between variables, judged on the raw text so they are reported beside the per-variable ones."""
    problems: list[str] = []
    delivery = raw["delivery"].lower()
    if delivery in ("smtp", "ses") and not raw["sender"]:
        problems.append(f"{_ENV_OF['sender']}: required when {_ENV_OF['delivery']}={delivery}")
    if delivery == "smtp":
        for name in ("smtp_host", "smtp_user"):
            if not raw[name]:
                problems.append(f"{_ENV_OF[name]}: required when {_ENV_OF['delivery']}=smtp")
        if not raw["smtp_secret_arn"] and not raw["smtp_password"]:
            problems.append(f"{_ENV_OF['smtp_secret_arn']} or {_ENV_OF['smtp_password']}: one is required "
                            f"when {_ENV_OF['delivery']}=smtp")
    if raw["smtp_secret_arn"] and raw["smtp_password"]:
        problems.append(f"{_ENV_OF['smtp_secret_arn']} and {_ENV_OF['smtp_password']}: set only one")
    urls = [raw["source_url"], raw["warehouse_url"], raw["mapping_url"]]
    if any(url and urlparse(url).scheme.lower() == "oss" for url in urls) and not raw["oss_endpoint"]:
        problems.append(f"{_ENV_OF['oss_endpoint']}: required for oss:// URLs")
    return problems
