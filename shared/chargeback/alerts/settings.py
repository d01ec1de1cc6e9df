"""The ``alerts:`` section of the mapping file, validated into typed settings.

The mapping keeps that section as raw data; this module owns its shape. Webhook URLs and signing secrets
never appear in the YAML: a channel names the environment variables that hold them (``url_env``,
``secret_env``), and only the command line (the edge) reads the environment.

    alerts:
      default_channels: [finops-ding]          # platform alerts (stale data, free quota, new keys, models)
      channels:
        finops-ding: {type: dingtalk, url_env: DINGTALK_WEBHOOK_URL, secret_env: DINGTALK_SECRET}
        search-slack: {type: slack, url_env: SEARCH_SLACK_WEBHOOK_URL}
      anomaly: {k: 4, min_amount: 20}

A cost center's ``channels`` (in ``cost_centers``) name channels from here or ``owners`` (e-mail to its
owners, the default when a cost center names none).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from chargeback.allocation.mapping import Mapping
from chargeback.errors import ConfigError

OWNERS = "owners"
"""The built-in channel: e-mail to the owners of the alert's cost center."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_SENDER = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+$")  # a host without a dot (localhost) is fine here
_LITERAL_SECRETS = ("url", "webhook", "secret", "token", "access_token")


def _no_float(value: Any) -> Any:
    """YAML reads 1.5 as a float; money and factors go through its text so they stay exact."""
    return str(value) if isinstance(value, float) else value


def _no_floats(value: Any) -> Any:
    return [_no_float(v) for v in value] if isinstance(value, list) else value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


Exact = Annotated[Decimal, BeforeValidator(_no_float)]
Percents = Annotated[list[Decimal], BeforeValidator(_no_floats)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ChannelBase(_Strict):
    @model_validator(mode="before")
    @classmethod
    def _no_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            literal = [k for k in _LITERAL_SECRETS if k in data]
            if literal:
                raise ValueError(
                    f"{', '.join(literal)} must not be written in the file: name the environment variable "
                    "that holds it with url_env / secret_env / token_env"
                )
        return data


class EmailChannelSettings(_ChannelBase):
    """E-mail through the delivery backends; ``to`` empty means the owners of the alert's cost center."""

    type: Literal["email"]
    to: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _addresses(self) -> EmailChannelSettings:
        for address in self.to:
            _email(address)
        return self


class DingTalkChannelSettings(_ChannelBase):
    """A DingTalk custom robot; with ``secret_env`` every request is signed (timestamp + HMAC-SHA256)."""

    type: Literal["dingtalk"]
    url_env: str
    secret_env: str | None = None

    @model_validator(mode="after")
    def _env_names(self) -> DingTalkChannelSettings:
        _env_name(self.url_env)
        if self.secret_env is not None:
            _env_name(self.secret_env)
        return self


class SlackChannelSettings(_ChannelBase):
    """A Slack incoming webhook."""

    type: Literal["slack"]
    url_env: str

    @model_validator(mode="after")
    def _env_names(self) -> SlackChannelSettings:
        _env_name(self.url_env)
        return self


class WebhookChannelSettings(_ChannelBase):
    """A generic JSON POST of the alert; ``token_env`` adds ``Authorization: Bearer <token>``."""

    type: Literal["webhook"]
    url_env: str
    token_env: str | None = None

    @model_validator(mode="after")
    def _env_names(self) -> WebhookChannelSettings:
        _env_name(self.url_env)
        if self.token_env is not None:
            _env_name(self.token_env)
        return self


ChannelSettings = Annotated[
    EmailChannelSettings | DingTalkChannelSettings | SlackChannelSettings | WebhookChannelSettings,
    Field(discriminator="type"),
]


class DeliverySettings(_Strict):
    """Timeouts and retries for every channel."""

    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    backoff_factor: float = Field(default=2.0, ge=1, le=10)
    max_runs: int = Field(default=3, ge=1, le=100)
    """Runs that retry a failed delivery before giving it up (each run makes ``attempts`` attempts)."""


class ExtraBudget(_Strict):
    """A budget for one workspace, API key or cost center, beside the budgets in ``cost_centers``."""

    cost_center: str | None = None
    workspace: str | None = None
    api_key: str | None = None
    monthly: Exact = Field(gt=0)
    thresholds: Percents = Field(default_factory=lambda: [Decimal(50), Decimal(80), Decimal(100)])
    currency: str | None = None
    channels: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _ids_as_text(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: str(v) if k in ("api_key", "workspace", "cost_center") and isinstance(v, int) else v
                    for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _one_subject(self) -> ExtraBudget:
        named = [k for k in ("cost_center", "workspace", "api_key") if getattr(self, k)]
        if len(named) != 1:
            raise ValueError("a budget names exactly one of cost_center, workspace or api_key")
        if any(t <= 0 for t in self.thresholds):
            raise ValueError("thresholds are percentages above 0")
        return self

    @property
    def subject(self) -> tuple[str, str]:
        """(kind, id): kind is cost_center, workspace or api_key."""
        for kind in ("cost_center", "workspace", "api_key"):
            value = getattr(self, kind)
            if value:
                return kind, value
        raise AssertionError("validated to name one subject")


class ForecastSettings(_Strict):
    """Month-end forecast: the run rate of the last ``window_days`` complete days."""

    enabled: bool = True
    window_days: int = Field(default=7, ge=1, le=31)
    min_complete_days: int = Field(default=3, ge=1, le=31)


AnomalyDimension = Literal["cost_center", "workspace", "api_key", "model"]
ALL_DIMENSIONS: tuple[AnomalyDimension, ...] = ("cost_center", "workspace", "api_key", "model")


class AnomalySettings(_Strict):
    """A day's cost against the median and MAD of the ``baseline_days`` before it.

    A day is anomalous when all three hold: it exceeds the median by at least ``min_amount`` (so pennies never
    page anyone), by more than ``k`` scaled MADs (1.4826 x MAD, the robust standard deviation), and it is at
    least ``min_ratio`` times the median.
    """

    enabled: bool = True
    dimensions: list[AnomalyDimension] = Field(default_factory=lambda: list(ALL_DIMENSIONS))
    baseline_days: int = Field(default=14, ge=3, le=60)
    min_baseline_days: int = Field(default=7, ge=2, le=60)
    k: Exact = Field(default=Decimal(4), gt=0)
    min_amount: Exact = Field(default=Decimal(10), ge=0)
    min_ratio: Exact = Field(default=Decimal("1.5"), ge=1)
    lookback_days: int = Field(default=3, ge=1, le=31)
    """Complete days re-examined each run, so late records and restatements are seen."""
    restate_tolerance_percent: Exact = Field(default=Decimal(1), ge=0)
    """A fired day re-fires (reason 'restated') when its cost changes by more than this."""
    top_contributors: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _baseline(self) -> AnomalySettings:
        if self.min_baseline_days > self.baseline_days:
            raise ValueError("min_baseline_days must not exceed baseline_days")
        return self


class NewSubjectSettings(_Strict):
    """API keys and workspaces in the bill that the mapping does not know."""

    enabled: bool = True
    api_keys: bool = True
    workspaces: bool = True
    min_amount: Exact = Field(default=Decimal(0), ge=0)


class QuotaSettings(_Strict):
    """One free quota, for months whose manifest does not carry it."""

    model: str
    total: Exact = Field(gt=0)
    unit: str
    valid_from: datetime | date
    valid_until: datetime | date


class FreeQuotaSettings(_Strict):
    enabled: bool = True
    used_percent: Percents = Field(default_factory=lambda: [Decimal(80), Decimal(95)])
    expiring_within_days: int = Field(default=14, ge=0, le=365)
    quotas: list[QuotaSettings] = Field(default_factory=list)


class AlertSettings(_Strict):
    """The validated ``alerts`` section; every field has a default, so no section means all rules on."""

    enabled: bool = True
    sender: str = "chargeback-alerts@localhost.localdomain"
    default_channels: list[str] = Field(default_factory=list)
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    budgets: list[ExtraBudget] = Field(default_factory=list)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    new_subjects: NewSubjectSettings = Field(default_factory=NewSubjectSettings)
    free_quota: FreeQuotaSettings = Field(default_factory=FreeQuotaSettings)
    stale_after_hours: Exact = Field(default=Decimal(36), gt=0)
    closing_grace_days: int = Field(default=5, ge=0, le=28)
    """The previous month is still evaluated on days 1..N of a month (late records, final bills)."""
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)

    @model_validator(mode="after")
    def _names(self) -> AlertSettings:
        bad = [n for n in self.channels if not _NAME.match(n) or n == OWNERS]
        if bad:
            raise ValueError(f"channel names must be [A-Za-z0-9_.-] and not '{OWNERS}': {bad}")
        if not _SENDER.match(self.sender):
            raise ValueError(f"sender {self.sender!r} is not an email address")
        return self


def alert_settings(mapping: Mapping, source: str = "mapping") -> AlertSettings:
    """The mapping's ``alerts`` section as settings; a ConfigError lists every bad field at once.

    Besides the section's own fields, checks that every channel a cost center, budget or ``default_channels``
    names is defined, and that budgets name known cost centers.
    """
    try:
        settings = AlertSettings.model_validate(mapping.alerts or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal[")))
            problems.append(f"alerts.{path}: {error['msg']}" if path else f"alerts: {error['msg']}")
        raise ConfigError("invalid alerts settings: " + "; ".join(problems), source=source) from None
    problems = []
    known = set(settings.channels) | {OWNERS}
    references: list[tuple[str, list[str]]] = [("alerts.default_channels", settings.default_channels)]
    for center_id, center in mapping.cost_centers.items():
        if center.channels is not None:
            references.append((f"cost_centers.{center_id}.channels", center.channels))
    for i, budget in enumerate(settings.budgets):
        if budget.channels is not None:
            references.append((f"alerts.budgets.{i}.channels", budget.channels))
        if budget.cost_center and budget.cost_center not in mapping.cost_centers:
            problems.append(f"alerts.budgets.{i}.cost_center: unknown cost center {budget.cost_center!r}")
    for where, names in references:
        unknown = [n for n in names if n not in known]
        if unknown:
            problems.append(f"{where}: unknown channels {unknown} (define them under alerts.channels)")
    for name, channel in settings.channels.items():
        if isinstance(channel, EmailChannelSettings) and not channel.to and name in settings.default_channels:
            problems.append(f"alerts.channels.{name}: an e-mail channel in default_channels needs 'to'")
    if problems:
        raise ConfigError("invalid alerts settings: " + "; ".join(problems), source=source)
    return settings
