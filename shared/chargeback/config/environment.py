"""The environment's settings: typed, read from an environment mapping, checked all at once.

``Settings.from_env(env)`` is what a deployed function reads at cold start; ``DeliveryEnvironment.from_env``
is the part of it that the command line honours too (how mail leaves). Only the variables that
``Settings.env_names()`` lists are read (the deployment descriptors are tested to set exactly these), and one
``ConfigError`` names every bad variable. Nothing here reads ``os.environ`` itself: the caller passes the
mapping in. Where the environment and the configuration file both speak, ``chargeback.config.resolve``
decides; so unset delivery variables stay None here rather than taking a default.

Secrets never sit in a plain field: on AWS the SMTP password and the OSS AccessKey pair are referenced by
Secrets Manager ARNs, on Function Compute the SMTP password by a KMS Secrets Manager secret name (read with the
role's credentials at ``CHARGEBACK_KMS_ENDPOINT``). ``SMTP_PASSWORD`` (a ``SecretStr``) is for local runs and
tests only: no deployment descriptor sets it. Error messages and ``describe()`` never show a secret's value.

``CHARGEBACK_ALLOW_INSECURE=true`` permits an ``http://`` storage endpoint, for a local test server only; no
deployment descriptor sets it (a test says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from chargeback.config.fields import HOST_NAME, check_host, check_secret_arn, check_sender, is_email_address
from chargeback.config.problems import Problem, raise_problems

Platform = Literal["aws", "fc"]
Delivery = Literal["outbox", "smtp", "ses"]

DELIVERY_BACKENDS: tuple[str, ...] = ("outbox", "smtp", "ses")
STORE_SCHEMES: tuple[str, ...] = ("file", "s3", "oss")
ALLOW_INSECURE_ENV = "CHARGEBACK_ALLOW_INSECURE"
ENDPOINT_ENVS: tuple[str, ...] = ("CHARGEBACK_OSS_ENDPOINT", "OSS_ENDPOINT", "AWS_ENDPOINT_URL",
                                  "AWS_ENDPOINT_URL_S3")
"""Variables that point a storage client at an endpoint: each must be https (see ``check_endpoints``)."""


BOTH: frozenset[str] = frozenset({"aws", "fc"})
AWS_ONLY: frozenset[str] = frozenset({"aws"})
FC_ONLY: frozenset[str] = frozenset({"fc"})
NEVER_DEPLOYED: frozenset[str] = frozenset()
_KMS_SECRET_NAME = re.compile(r"^[A-Za-z0-9_/+=.@-]{1,192}$")


class _Invalid(ValueError):
    """A value that cannot be used; the message never repeats a secret."""


def _env(name: str, *, platforms: frozenset[str] = BOTH, secret: bool = False) -> dict[str, Any]:
    return {"env": name, "platforms": platforms, "secret": secret}


@dataclass(frozen=True)
class DeliveryEnvironment:
    """What the environment says about delivery; None where a variable is unset (or empty)."""

    # outbox (files under the warehouse's outbox/) | smtp | ses
    backend: Delivery | None = field(default=None, metadata=_env("CHARGEBACK_DELIVERY"))
    # From address of statements and alerts
    sender: str | None = field(default=None, metadata=_env("CHARGEBACK_SENDER"))
    # addresses copied on every statement, comma-separated
    finance_cc: tuple[str, ...] | None = field(default=None, metadata=_env("CHARGEBACK_FINANCE_CC"))
    # SMTP server (DirectMail: smtpdm.aliyun.com), port (465 = implicit TLS) and user (DirectMail: the sender)
    smtp_host: str | None = field(default=None, metadata=_env("CHARGEBACK_SMTP_HOST"))
    smtp_port: int | None = field(default=None, metadata=_env("CHARGEBACK_SMTP_PORT"))
    smtp_user: str | None = field(default=None, metadata=_env("CHARGEBACK_SMTP_USER"))
    # the SMTP password: a Secrets Manager secret on AWS, a KMS Secrets Manager secret on Function Compute,
    # or (local runs only) the value itself
    smtp_secret_arn: str | None = field(default=None,
                                        metadata=_env("CHARGEBACK_SMTP_SECRET_ARN", platforms=AWS_ONLY))
    smtp_secret_name: str | None = field(default=None,
                                         metadata=_env("CHARGEBACK_SMTP_SECRET_NAME", platforms=FC_ONLY))
    kms_endpoint: str | None = field(default=None, metadata=_env("CHARGEBACK_KMS_ENDPOINT", platforms=FC_ONLY))
    smtp_password: SecretStr | None = field(default=None, repr=False,
                                            metadata=_env("SMTP_PASSWORD", platforms=NEVER_DEPLOYED,
                                                          secret=True))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeliveryEnvironment:
        """The delivery variables of ``env``; a ConfigError names every bad one."""
        problems: list[Problem] = []
        values = _parse_fields(cls, env, problems)
        problems += _delivery_checks(env)
        if problems:
            raise_problems(problems, "environment")
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    """Everything environment-specific a scheduled job needs. Build with ``Settings.from_env``."""

    # where the bills land: oss://bucket/prefix, s3://bucket/prefix or a local path
    source_url: str = field(metadata=_env("CHARGEBACK_SOURCE_URL"))
    # where the tables are published: s3://, oss:// or a local path
    warehouse_url: str = field(metadata=_env("CHARGEBACK_WAREHOUSE_URL"))
    # the configuration (mapping) YAML: a path or an object URL; unset = every workspace is its own cost center
    mapping_url: str | None = field(metadata=_env("CHARGEBACK_MAPPING_URL"))
    # the bills' time zone; decides what 'today' is (unset: Asia/Shanghai, see chargeback.config.resolve)
    timezone: ZoneInfo | None = field(metadata=_env("CHARGEBACK_TIMEZONE"))
    # after this day of the month, last month's statements go out even if its bill is still provisional
    final_day: int = field(metadata=_env("CHARGEBACK_FINAL_DAY"))
    # OSS endpoint for oss:// URLs, e.g. https://oss-cn-hangzhou.aliyuncs.com
    oss_endpoint: str | None = field(metadata=_env("CHARGEBACK_OSS_ENDPOINT"))
    # the OSS AccessKey pair in Secrets Manager, for reading OSS from AWS (FC uses its role's STS credentials)
    oss_secret_arn: str | None = field(metadata=_env("CHARGEBACK_OSS_SECRET_ARN", platforms=AWS_ONLY))
    # http:// endpoints for a local test server; never set by a deployment
    allow_insecure: bool = field(metadata=_env(ALLOW_INSECURE_ENV, platforms=NEVER_DEPLOYED))
    # the longest one S3/OSS call may take, retries included, in seconds (chargeback.storage.policy; default 300)
    storage_deadline: float = field(metadata=_env("CHARGEBACK_STORAGE_DEADLINE"))
    # how mail leaves, as far as the environment says
    delivery: DeliveryEnvironment = field(default_factory=DeliveryEnvironment)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from ``env``; a ConfigError names every bad or missing variable, never a secret's value.

        An empty value counts as unset, so templates can pass optional parameters through as ''.
        """
        problems: list[Problem] = []
        values = _parse_fields(cls, env, problems)
        problems += _delivery_checks(env) + _store_checks(env)
        if problems:
            raise_problems(problems, "environment")
        return cls(**values)

    @classmethod
    def env_names(cls, platform: Platform | None = None) -> frozenset[str]:
        """The variables the settings read; with ``platform``, those that a deployment there sets."""
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
            value = getattr(self.delivery if spec.group == "delivery" else self, spec.name)
            if spec.secret:
                out[spec.env] = "set" if value is not None else None
            elif isinstance(value, tuple):
                out[spec.env] = list(value)
            else:
                out[spec.env] = str(value) if value is not None else None
        return out


def check_endpoints(env: Mapping[str, str]) -> None:
    """ConfigError when a storage endpoint variable (``ENDPOINT_ENVS``) is not https, unless
    CHARGEBACK_ALLOW_INSECURE is true. For the command line, which hands the variables to the SDKs."""
    problems = _endpoint_checks(env, ENDPOINT_ENVS)
    if problems:
        raise_problems(problems, "environment")


# parsing


@dataclass(frozen=True)
class _Spec:
    name: str
    env: str
    platforms: frozenset[str]
    secret: bool
    parse: Callable[[str], Any]
    required: bool
    group: str  # 'settings' or 'delivery'


def _parse_fields(cls: type, env: Mapping[str, str], problems: list[Problem]) -> dict[str, Any]:
    group = "delivery" if cls is DeliveryEnvironment else "settings"
    values: dict[str, Any] = {}
    for spec in _SPECS:
        if spec.group != group:
            continue
        try:
            values[spec.name] = spec.parse(_raw(env, spec.env))
        except _Invalid as exc:
            problems.append(Problem(spec.env, str(exc)))
    if cls is Settings:
        values["delivery"] = DeliveryEnvironment(**_parse_fields(DeliveryEnvironment, env, problems))
    return values


def _raw(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


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


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    """A check of ``chargeback.config.fields`` as a variable's parser."""
    def parse(value: str) -> str:
        try:
            return check(value)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None

    return parse


def _emails(value: str) -> tuple[str, ...]:
    items = [item.strip() for item in re.split(r"[,;]", value) if item.strip()]
    bad = [item for item in items if not is_email_address(item)]
    if bad:
        raise _Invalid(f"not an email address: {', '.join(repr(b) for b in bad)}")
    return tuple(items)


def _zone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None


def _between(low: float, high: float, *, convert: Callable[[str], Any] = int, noun: str = "a whole number",
             unit: str = "") -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = convert(value)
        except ValueError:
            raise _Invalid(f"{value!r} is not {noun}") from None
        if not low <= number <= high:
            raise _Invalid(f"{number:g} is not between {low:g} and {high:g}{unit}")
        return number

    return parse


def _kms_secret_name(value: str) -> str:
    if not _KMS_SECRET_NAME.match(value):
        raise _Invalid(f"{value!r} is not a KMS secret name")
    return value


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise _Invalid(f"{value!r} is not true or false")


def _endpoint(value: str) -> str:
    """An endpoint URL; a bare host means https (oss2 itself would take it as http)."""
    url = value if "://" in value else f"https://{value}"
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not HOST_NAME.match(parsed.hostname):
        raise _Invalid(f"{value!r} is not an endpoint (https://oss-<region>.aliyuncs.com)")
    return url


def _secret(value: str) -> SecretStr:
    return SecretStr(value)


def _text(value: str) -> str:
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "source_url": _required(_store_url),
    "warehouse_url": _required(_store_url),
    "mapping_url": _optional(_mapping_url),
    "timezone": _optional(_zone),
    # 28 at most: every month has the day, so a provisional statement always goes out in its month.
    "final_day": _optional(_between(1, 28), 6),
    "oss_endpoint": _optional(_endpoint),
    "oss_secret_arn": _optional(_checked(check_secret_arn)),
    "allow_insecure": _optional(_flag, False),
    # at most the functions' 900 s timeout
    "storage_deadline": _optional(_between(1, 900, convert=float, noun="a number of seconds", unit=" seconds"),
                                  300.0),
    "backend": _optional(_delivery),
    "sender": _optional(_checked(check_sender)),
    "finance_cc": _optional(_emails),
    "smtp_host": _optional(_checked(check_host)),
    "smtp_port": _optional(_between(1, 65535)),
    "smtp_user": _optional(_text),
    "smtp_secret_arn": _optional(_checked(check_secret_arn)),
    "smtp_secret_name": _optional(_kms_secret_name),
    "kms_endpoint": _optional(_endpoint),
    "smtp_password": _optional(_secret),
}

_SPECS: tuple[_Spec, ...] = tuple(
    _Spec(f.name, f.metadata["env"], f.metadata["platforms"], f.metadata["secret"], _PARSERS[f.name],
          required=f.name in ("source_url", "warehouse_url"), group=group)
    for group, cls in (("settings", Settings), ("delivery", DeliveryEnvironment))
    for f in fields(cls) if f.name != "delivery"
)


def _delivery_checks(env: Mapping[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    sources = [name for name in ("CHARGEBACK_SMTP_SECRET_ARN", "CHARGEBACK_SMTP_SECRET_NAME", "SMTP_PASSWORD")
               if _raw(env, name)]
    if len(sources) > 1:
        problems.append(Problem(" and ".join(sources), "set only one"))
    if _raw(env, "CHARGEBACK_SMTP_SECRET_NAME") and not _raw(env, "CHARGEBACK_KMS_ENDPOINT"):
        problems.append(Problem("CHARGEBACK_KMS_ENDPOINT", "required with CHARGEBACK_SMTP_SECRET_NAME "
                                                           "(https://kms.<region>.aliyuncs.com)"))
    return problems + _endpoint_checks(env, ("CHARGEBACK_KMS_ENDPOINT",))


def _store_checks(env: Mapping[str, str]) -> list[Problem]:
    """An OSS endpoint for oss:// URLs, and an https one."""
    problems: list[Problem] = []
    urls = [_raw(env, name) for name in ("CHARGEBACK_SOURCE_URL", "CHARGEBACK_WAREHOUSE_URL",
                                          "CHARGEBACK_MAPPING_URL")]
    uses_oss = any(url and urlparse(url).scheme.lower() == "oss" for url in urls)
    if uses_oss and not _raw(env, "CHARGEBACK_OSS_ENDPOINT"):
        problems.append(Problem("CHARGEBACK_OSS_ENDPOINT", "required for oss:// URLs"))
    return problems + _endpoint_checks(env, ("CHARGEBACK_OSS_ENDPOINT",))


def _endpoint_checks(env: Mapping[str, str], names: tuple[str, ...]) -> list[Problem]:
    """Each endpoint in ``names`` must be https, unless CHARGEBACK_ALLOW_INSECURE is true."""
    try:
        if _flag(_raw(env, ALLOW_INSECURE_ENV) or "false"):
            return []
    except _Invalid:
        pass  # reported by the variable's own check; until it is fixed, insecure stays refused
    problems = []
    for name in names:
        value = _raw(env, name)
        if value.lower().startswith("http://"):
            problems.append(Problem(name, f"{value!r} is not https: credentials and bills would travel "
                                          f"unencrypted (set {ALLOW_INSECURE_ENV}=true for a local test server "
                                          "only)"))
        elif value and "://" not in value and name != "CHARGEBACK_OSS_ENDPOINT":
            problems.append(Problem(name, f"{value!r} names no scheme, and the SDK would use http: write "
                                          f"https://{value}"))
    return problems
