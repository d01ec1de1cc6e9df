"""Alert channels behind one interface: e-mail (the delivery ``Mailer`` port), DingTalk custom robot, Slack
incoming webhook and a generic JSON POST.

A channel makes up to ``attempts`` attempts with exponential backoff (``sleep`` is injected) and returns a
``DeliveryResult`` naming every attempt's error; it never raises for a failed delivery, so one failing channel
cannot stop the others. Programming errors still raise. URLs and secrets are passed in by ``build_channels``,
which the command line calls with the environment; they never appear in results, state or logs: every error
text made from a server's answer goes through ``chargeback.redact`` with the channel's URL and secrets (servers
echo the request, token and signature included, in their error bodies).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote_plus, urlsplit

from chargeback.config.alerts import (
    OWNERS,
    AlertSettings,
    DingTalkChannelSettings,
    EmailChannelSettings,
    RetrySettings,
    SlackChannelSettings,
    WebhookChannelSettings,
)
from chargeback.config.problems import Problem, raise_problems
from chargeback.delivery import Mailer, OutgoingMail
from chargeback.errors import ChargebackError
from chargeback.redact import redact

log = logging.getLogger("chargeback.alerts")

Sleep = Callable[[float], None]
Clock = Callable[[], float]
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_DINGTALK_RETRYABLE = frozenset({130101})  # "send too fast": DingTalk's rate limit

Reason = Literal["new", "restated", "retry"]


@dataclass(frozen=True)
class Notification:
    """One alert as every channel sends it."""

    alert_id: str
    sequence: int  # 1 the first time; +1 each time the alert is sent again because data was restated
    reason: Reason
    rule: str
    severity: str
    title: str
    lines: tuple[str, ...]
    footer: str
    payload: dict[str, Any] = field(default_factory=dict)  # the generic webhook's JSON body
    recipients: tuple[str, ...] = ()  # e-mail channels without a fixed 'to'

    def text(self) -> str:
        return "\n".join([self.title, "", *self.lines, "", self.footer]) + "\n"


@dataclass(frozen=True)
class DeliveryResult:
    """What happened on one channel: sent or failed, after how many attempts, with each attempt's error."""

    channel: str
    kind: str
    status: Literal["sent", "failed"]
    attempts: int
    errors: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    reference: str = ""  # e.g. the outbox path or message id

    @property
    def error(self) -> str:
        return self.errors[-1] if self.errors else ""


class Channel(Protocol):
    name: str
    kind: str

    def send(self, notification: Notification) -> DeliveryResult:
        """Deliver with retries; report the outcome, never raise for a delivery failure."""
        ...


class DeliveryAttemptError(Exception):
    """One attempt failed; ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    timeout: float = 10.0
    backoff: float = 1.0
    factor: float = 2.0

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(attempts=settings.attempts, timeout=settings.timeout_seconds,
                   backoff=settings.backoff_seconds, factor=settings.backoff_factor)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(self.backoff * self.factor ** (attempt - 1))


def with_retries(name: str, kind: str, policy: RetryPolicy, sleep: Sleep, attempt: Callable[[], str],
                 recipients: tuple[str, ...] = ()) -> DeliveryResult:
    """Run ``attempt`` until it succeeds, fails permanently or the attempts are used up."""
    errors: list[str] = []
    for number in range(1, policy.attempts + 1):
        try:
            reference = attempt()
        except DeliveryAttemptError as exc:
            errors.append(str(exc))
            log.debug("alert delivery attempt failed", extra={"channel": name, "attempt": number,
                                                              "error": str(exc)})
            if not exc.retryable:
                return DeliveryResult(name, kind, "failed", number, tuple(errors), recipients)
            if number < policy.attempts:
                sleep(policy.delay(number))
            continue
        return DeliveryResult(name, kind, "sent", number, tuple(errors), recipients, reference)
    return DeliveryResult(name, kind, "failed", policy.attempts, tuple(errors), recipients)


# -------------------------------------------------------------------- HTTP


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float,
              headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """POST ``payload`` as JSON; the status and up to 64 KiB of the body. Network trouble is a retryable
    DeliveryAttemptError whose message never contains the URL (it may hold a token)."""
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        connection.request("POST", target, body=body, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "chargeback-alerts",
            **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read(65536)
    except TimeoutError:
        raise DeliveryAttemptError(f"no answer within {timeout:g}s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryAttemptError(f"connection failed: {type(exc).__name__}") from None
    finally:
        connection.close()


def check_status(status: int, body: bytes, secrets: tuple[str | None, ...] = ()) -> None:
    """DeliveryAttemptError for a non-2xx answer, quoting the start of its body without ``secrets``."""
    if 200 <= status < 300:
        return
    snippet = redact(body.decode("utf-8", "replace").strip(), secrets)[:200]  # redacted whole, then cut
    raise DeliveryAttemptError(f"HTTP {status}" + (f": {snippet}" if snippet else ""),
                               retryable=status in _RETRYABLE_STATUS)


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's robot signature: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class DingTalkChannel:
    """A DingTalk custom robot: markdown messages, signed when a secret is set (fresh timestamp per attempt).

    DingTalk answers HTTP 200 with ``{"errcode": 0}`` on success; any other errcode is a failure.
    """

    kind = "dingtalk"

    def __init__(self, name: str, url: str, secret: str | None = None, *, policy: RetryPolicy,
                 sleep: Sleep = time.sleep, clock: Clock = time.time) -> None:
        self.name, self._url, self._secret = name, url, secret
        self._policy, self._sleep, self._clock = policy, sleep, clock

    def _signed_url(self) -> str:
        if not self._secret:
            return self._url
        timestamp = str(int(self._clock() * 1000))
        separator = "&" if "?" in self._url else "?"
        return f"{self._url}{separator}timestamp={timestamp}&sign={dingtalk_sign(self._secret, timestamp)}"

    def payload(self, note: Notification) -> dict[str, Any]:
        text = "\n".join([f"#### {note.title}", "", *(f"- {line}" for line in note.lines), "", note.footer])
        return {"msgtype": "markdown", "markdown": {"title": note.title[:100], "text": text}}

    def _attempt(self, note: Notification) -> str:
        signed = self._signed_url()
        secrets = (self._url, signed, self._secret)
        status, body = post_json(signed, self.payload(note), timeout=self._policy.timeout)
        check_status(status, body, secrets)
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            raise DeliveryAttemptError("DingTalk answered with something other than JSON") from None
        code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
        if code != 0:
            message = redact(str(answer.get("errmsg", "")), secrets)
            raise DeliveryAttemptError(f"DingTalk errcode {code}: {message}", retryable=code in _DINGTALK_RETRYABLE)
        return ""

    def send(self, notification: Notification) -> DeliveryResult:
        return with_retries(self.name, self.kind, self._policy, self._sleep,
                            lambda: self._attempt(notification))


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel:
    """A Slack incoming webhook (mrkdwn text)."""

    kind = "slack"

    def __init__(self, name: str, url: str, *, policy: RetryPolicy, sleep: Sleep = time.sleep) -> None:
        self.name, self._url, self._policy, self._sleep = name, url, policy, sleep

    def payload(self, note: Notification) -> dict[str, Any]:
        lines = [f"*{_slack_escape(note.title)}*", *(f"• {_slack_escape(line)}" for line in note.lines),
                 f"_{_slack_escape(note.footer)}_"]
        return {"text": "\n".join(lines)}

    def _attempt(self, note: Notification) -> str:
        status, body = post_json(self._url, self.payload(note), timeout=self._policy.timeout)
        check_status(status, body, (self._url,))
        return ""

    def send(self, notification: Notification) -> DeliveryResult:
        return with_retries(self.name, self.kind, self._policy, self._sleep,
                            lambda: self._attempt(notification))


class WebhookChannel:
    """A generic JSON POST of the alert (``Notification.payload``), optionally with a bearer token."""

    kind = "webhook"

    def __init__(self, name: str, url: str, token: str | None = None, *, policy: RetryPolicy,
                 sleep: Sleep = time.sleep) -> None:
        self.name, self._url, self._token, self._policy, self._sleep = name, url, token, policy, sleep

    def _attempt(self, note: Notification) -> str:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        headers["X-Chargeback-Alert"] = f"{note.alert_id}/{note.sequence}"
        status, body = post_json(self._url, note.payload, timeout=self._policy.timeout, headers=headers)
        check_status(status, body, (self._url, self._token))
        return ""

    def send(self, notification: Notification) -> DeliveryResult:
        return with_retries(self.name, self.kind, self._policy, self._sleep,
                            lambda: self._attempt(notification))


class EmailChannel:
    """E-mail through a ``Mailer`` (outbox, SMTP or SES); without a fixed ``to``, the alert's recipients."""

    kind = "email"

    def __init__(self, name: str, mailer: Mailer, sender: str, to: tuple[str, ...] = (), *,
                 policy: RetryPolicy, sleep: Sleep = time.sleep) -> None:
        self.name, self._mailer, self._sender, self._to = name, mailer, sender, to
        self._policy, self._sleep = policy, sleep

    def mail(self, note: Notification, recipients: tuple[str, ...]) -> OutgoingMail:
        return OutgoingMail(
            subject=f"[chargeback] {note.title}",
            sender=self._sender,
            to=recipients,
            text=note.text(),
            headers={"X-Chargeback-Alert": f"{note.alert_id}/{note.sequence}",
                     "X-Chargeback-Rule": note.rule},
            name=f"alert_{note.alert_id}_{note.sequence}_{self.name}",  # one file per channel in an outbox
        )

    def _attempt(self, mail: OutgoingMail) -> str:
        try:
            return self._mailer.send(mail)
        except (ChargebackError, OSError) as exc:  # DeliveryError and socket/SMTP errors; bugs still raise
            raise DeliveryAttemptError(redact(f"{type(exc).__name__}: {exc}")) from None

    def send(self, notification: Notification) -> DeliveryResult:
        recipients = self._to or notification.recipients
        if not recipients:
            return DeliveryResult(self.name, self.kind, "failed", 0, ("no recipients: the cost center has no "
                                                                      "owners and the channel no 'to'",))
        mail = self.mail(notification, recipients)
        return with_retries(self.name, self.kind, self._policy, self._sleep, lambda: self._attempt(mail),
                            recipients)


class UnavailableChannel:
    """A channel that cannot send in this run (e.g. e-mail without a mail backend); fails without attempts."""

    def __init__(self, name: str, kind: str, reason: str) -> None:
        self.name, self.kind, self._reason = name, kind, reason

    def send(self, notification: Notification) -> DeliveryResult:
        return DeliveryResult(self.name, self.kind, "failed", 0, (self._reason,), notification.recipients)


def build_channels(settings: AlertSettings, *, environ: Mapping[str, str], mailer: Mailer | None, sender: str,
                   sleep: Sleep = time.sleep, clock: Clock = time.time) -> dict[str, Channel]:
    """Every configured channel plus ``owners``, with URLs and secrets read from ``environ``; e-mail goes out
    from ``sender`` (the resolved alert sender, ``chargeback.config.resolve``).

    A ConfigError lists every missing or malformed variable at once; a webhook URL must be https unless its
    channel says ``allow_insecure: true``. Without a mailer, e-mail channels exist but fail each delivery with
    the reason, so the run reports them instead of silently dropping mail.
    """
    policy = RetryPolicy.from_settings(settings.delivery)
    problems: list[Problem] = []

    def variable(name: str, var: str) -> str:
        value = environ.get(var, "").strip()
        if not value:
            problems.append(Problem(f"alerts.channels.{name}", f"environment variable {var} is not set"))
        return value

    def url(name: str, config: DingTalkChannelSettings | SlackChannelSettings | WebhookChannelSettings) -> str:
        value = variable(name, config.url_env)
        parts = urlsplit(value)
        where = f"alerts.channels.{name}"
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            problems.append(Problem(where, f"${config.url_env} is not an https URL"))
        elif value and parts.scheme == "http" and not config.allow_insecure:
            problems.append(Problem(where, f"${config.url_env} is http://: the alert and any token in the URL would "
                                           "travel unencrypted; use https (allow_insecure: true on the channel for "
                                           "a local test server only)"))
        return value

    def email(name: str, to: tuple[str, ...]) -> Channel:
        if mailer is None:
            return UnavailableChannel(name, "email", "no mail backend in this run (pass --outbox DIR)")
        return EmailChannel(name, mailer, sender, to, policy=policy, sleep=sleep)

    channels: dict[str, Channel] = {OWNERS: email(OWNERS, ())}
    for name, config in settings.channels.items():
        if isinstance(config, EmailChannelSettings):
            channels[name] = email(name, tuple(config.to))
        elif isinstance(config, DingTalkChannelSettings):
            address = url(name, config)
            secret = variable(name, config.secret_env) if config.secret_env else None
            channels[name] = DingTalkChannel(name, address, secret, policy=policy, sleep=sleep, clock=clock)
        elif isinstance(config, SlackChannelSettings):
            channels[name] = SlackChannel(name, url(name, config), policy=policy, sleep=sleep)
        elif isinstance(config, WebhookChannelSettings):
            address = url(name, config)
            token = variable(name, config.token_env) if config.token_env else None
            channels[name] = WebhookChannel(name, address, token, policy=policy, sleep=sleep)
    if problems:
        raise_problems(problems, "alert channels")
    return channels
