"""The ``alerts:`` section of the configuration file.

Webhook URLs and signing secrets never appear in the YAML: a channel names the environment variables that hold
them (``url_env``, ``secret_env``, ``token_env``), and only the edge (command line, function runtime) reads the
environment. Those URLs must be ``https``; ``allow_insecure: true`` on a channel permits ``http`` for a local
test server only.

    alerts:
      default_channels: [finops-ding]          # platform alerts (stale data, free quota, new keys, models)
      channels:
        finops-ding: {type: dingtalk, url_env: DINGTALK_WEBHOOK_URL, secret_env: DINGTALK_SECRET}
        search-slack: {type: slack, url_env: SEARCH_SLACK_WEBHOOK_URL}
      anomaly: {k: 4, min_amount: 20}

A cost center's ``channels`` (in ``cost_centers``) name channels from here or ``owners`` (e-mail to its
owners, the default when a cost center names none). That every named channel exists is checked with the
whole file, in ``chargeback.config.file``. Alerts are sent from the statements' sender unless ``sender`` here
says otherwise (``chargeback.config.resolve``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from chargeback.config.fields import EmailAddress, EnvName, Exact, ExactList, Identifier, Section, SenderAddress

OWNERS = "owners"
"""The built-in channel: e-mail to the owners of the alert's cost center."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_LITERAL_SECRETS = ("url", "webhook", "secret", "token", "access_token")


class _Channel(Section):
    locale: Literal["en", "zh"] | None = None
    """The language of this channel's messages; default: the statements' locale (e-mail to owners: their
    cost center's locale)."""

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


class _WebhookChannel(_Channel):
    allow_insecure: bool = False
    """Accept an ``http://`` URL: for a local test server only, never in production."""


class EmailChannelSettings(_Channel):
    """E-mail through the delivery backends; ``to`` empty means the owners of the alert's cost center."""

    type: Literal["email"]
    to: list[EmailAddress] = Field(default_factory=list)


class DingTalkChannelSettings(_WebhookChannel):
    """A DingTalk custom robot; with ``secret_env`` every request is signed (timestamp + HMAC-SHA256)."""

    type: Literal["dingtalk"]
    url_env: EnvName
    secret_env: EnvName | None = None


class SlackChannelSettings(_WebhookChannel):
    """A Slack incoming webhook."""

    type: Literal["slack"]
    url_env: EnvName


class WebhookChannelSettings(_WebhookChannel):
    """A generic JSON POST of the alert; ``token_env`` adds ``Authorization: Bearer <token>``."""

    type: Literal["webhook"]
    url_env: EnvName
    token_env: EnvName | None = None


ChannelSettings = Annotated[
    EmailChannelSettings | DingTalkChannelSettings | SlackChannelSettings | WebhookChannelSettings,
    Field(discriminator="type"),
]


class RetrySettings(Section):
    """Timeouts and retries of every alert channel (the ``alerts.delivery`` keys)."""

    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    backoff_factor: float = Field(default=2.0, ge=1, le=10)
    max_runs: int = Field(default=3, ge=1, le=100)
    """Runs that retry a failed delivery before giving it up (each run makes ``attempts`` attempts)."""


class ExtraBudget(Section):
    """A budget for one workspace, API key or cost center, beside the budgets in ``cost_centers``."""

    cost_center: Identifier | None = None
    workspace: Identifier | None = None
    api_key: Identifier | None = None
    monthly: Exact = Field(gt=0)
    thresholds: ExactList = Field(default_factory=lambda: [Decimal(50), Decimal(80), Decimal(100)])
    currency: str | None = None
    channels: list[str] | None = None

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


class ForecastSettings(Section):
    """Month-end forecast: the run rate of the last ``window_days`` complete days."""

    enabled: bool = True
    window_days: int = Field(default=7, ge=1, le=31)
    min_complete_days: int = Field(default=3, ge=1, le=31)


AnomalyDimension = Literal["cost_center", "workspace", "api_key", "model"]
ALL_DIMENSIONS: tuple[AnomalyDimension, ...] = ("cost_center", "workspace", "api_key", "model")


class AnomalySettings(Section):
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


class NewSubjectSettings(Section):
    """API keys and workspaces in the bill that the mapping does not know."""

    enabled: bool = True
    api_keys: bool = True
    workspaces: bool = True
    min_amount: Exact = Field(default=Decimal(0), ge=0)


class QuotaSettings(Section):
    """One free quota, for months whose manifest does not carry it."""

    model: str
    total: Exact = Field(gt=0)
    unit: str
    valid_from: datetime | date
    valid_until: datetime | date


class FreeQuotaSettings(Section):
    enabled: bool = True
    used_percent: ExactList = Field(default_factory=lambda: [Decimal(80), Decimal(95)])
    expiring_within_days: int = Field(default=14, ge=0, le=365)
    quotas: list[QuotaSettings] = Field(default_factory=list)


class AlertSettings(Section):
    """The validated ``alerts`` section; every field has a default, so no section means all rules on."""

    enabled: bool = True
    sender: SenderAddress | None = None
    """From address of alert mail; unset = the statements' sender (see ``chargeback.config.resolve``)."""
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
    delivery: RetrySettings = Field(default_factory=RetrySettings)
    digest: bool = True
    """E-mail: one mail per recipient listing all of a run's alerts; false sends one mail per alert."""

    @field_validator("channels")
    @classmethod
    def _names(cls, channels: dict[str, Any]) -> dict[str, Any]:
        bad = [n for n in channels if not _NAME.match(n) or n == OWNERS]
        if bad:
            raise ValueError(f"channel names must be letters, digits, '_', '.' or '-' and not '{OWNERS}': {bad}")
        return channels
