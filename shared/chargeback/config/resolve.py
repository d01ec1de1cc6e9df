"""Who wins, field by field, when the command line, the environment and the configuration file all speak.

The one place that combines them. The command line (``report``, ``alert``, ``estimate``) and both scheduled
jobs call it, so they behave alike. The rule is the same for every field: the command line, else the
environment, else the file, else a default; the README's table "Which setting wins" lists each field with
its variable, its key and its default. Two fields combine more than one key of the file: the alert sender
(``alerts.sender``, else the statements' sender) and the SMTP password (a secret ARN, else a variable name).

Resolution also checks what only the combination can tell: smtp and ses need a real sender, smtp a host, a
login a password source, and a login TLS unless ``delivery.smtp.allow_insecure`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from chargeback.billtime import BILL_TIME_ZONE
from chargeback.config.delivery import Backend, Security
from chargeback.config.environment import DeliveryEnvironment, Settings
from chargeback.config.file import ConfigFile
from chargeback.config.prices import Site
from chargeback.config.problems import Problem, raise_problems

DEFAULT_SENDER = "Model Studio Chargeback <chargeback@localhost.localdomain>"
"""The sender of outbox previews when none is configured; mail servers refuse it, so smtp and ses need one."""
DEFAULT_TIME_ZONE = BILL_TIME_ZONE
"""'Today' is the bills' day unless CHARGEBACK_TIMEZONE says otherwise."""
DEFAULT_SMTP_PORT = 465
IMPLICIT_TLS_PORT = 465
DEFAULT_SITE: Site = "intl"
FC_PASSWORD_ENV = "SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a password


@dataclass(frozen=True)
class CommandLine:
    """What a command's options say: ``outbox`` (--outbox DIR) writes messages there instead of sending;
    ``outbox_only`` keeps them in the configured outbox (no file: nobody to send to)."""

    outbox: str | None = None
    outbox_only: bool = False
    site: Site | None = None


@dataclass(frozen=True)
class PasswordSource:
    """Where the SMTP password is: an environment variable's name, a Secrets Manager secret, or (Function
    Compute) a KMS Secrets Manager secret's name."""

    env: str | None = None
    secret_arn: str | None = None
    kms_secret: str | None = None
    secret_field: str = "password"  # noqa: S105 - the JSON field holding it, not a password


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: PasswordSource | None = None
    ca_file: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class SesService:
    region: str | None = None
    configuration_set: str | None = None


@dataclass(frozen=True)
class DeliveryPlan:
    """How mail leaves, decided: every field has its final value."""

    backend: Backend
    sender: str
    alert_sender: str
    finance_cc: tuple[str, ...] = ()
    outbox: str | None = None  # a folder or store URL; None = outbox/ in the warehouse
    smtp: SmtpServer | None = None
    ses: SesService | None = None


Purpose = Literal["statements", "alerts"]


def resolve_delivery(config: ConfigFile, env: DeliveryEnvironment, command: CommandLine | None = None, *,
                     purpose: Purpose = "statements") -> DeliveryPlan:
    """The delivery that ``command``, ``env`` and ``config`` describe together; a ConfigError lists every gap.

    ``purpose`` says which mail the plan sends (statements or alerts), so only its sender must be real.
    """
    command = command or CommandLine()
    file = config.delivery
    problems: list[Problem] = []
    preview = bool(command.outbox or command.outbox_only)
    backend: Backend = "outbox" if preview else env.backend or file.backend or "outbox"
    sender = env.sender or file.sender
    alert_sender = env.sender or config.alerts.sender or sender
    if backend in ("smtp", "ses") and (alert_sender if purpose == "alerts" else sender) is None:
        keys = "alerts.sender or delivery.sender" if purpose == "alerts" else "delivery.sender"
        problems.append(Problem("sender", f"required for {backend} delivery (a From address the server accepts): "
                                          f"set CHARGEBACK_SENDER or {keys}"))
    finance_cc = env.finance_cc if env.finance_cc is not None else tuple(file.finance_cc or ())
    smtp = _smtp(config, env, problems) if backend == "smtp" else None
    ses = None
    if backend == "ses":
        ses = SesService(file.ses.region, file.ses.configuration_set) if file.ses else SesService()
    if problems:
        raise_problems(problems, _where(config))
    return DeliveryPlan(backend, sender or DEFAULT_SENDER, alert_sender or DEFAULT_SENDER,
                        tuple(dict.fromkeys(finance_cc)), command.outbox or file.outbox, smtp, ses)


def _smtp(config: ConfigFile, env: DeliveryEnvironment, problems: list[Problem]) -> SmtpServer | None:
    file = config.delivery.smtp
    host = env.smtp_host or (file.host if file else None)
    port = env.smtp_port or (file.port if file else None) or DEFAULT_SMTP_PORT
    security: Security = (file.security if file else None) or (
        "ssl" if port == IMPLICIT_TLS_PORT else "starttls")
    username = env.smtp_user or (file.username if file else None)
    password: PasswordSource | None = None
    if env.smtp_secret_arn:
        password = PasswordSource(secret_arn=env.smtp_secret_arn)
    elif env.smtp_secret_name:
        password = PasswordSource(kms_secret=env.smtp_secret_name)
    elif env.smtp_password is not None:
        password = PasswordSource(env=FC_PASSWORD_ENV)
    elif file and file.password_secret_arn:
        password = PasswordSource(secret_arn=file.password_secret_arn, secret_field=file.secret_field)
    elif file and file.password_env:
        password = PasswordSource(env=file.password_env)
    if not host:
        problems.append(Problem("SMTP host", "required for smtp delivery: set CHARGEBACK_SMTP_HOST or "
                                             "delivery.smtp.host"))
    if username and password is None:
        problems.append(Problem("SMTP password", f"the login {username!r} needs a password source: "
                                                 "CHARGEBACK_SMTP_SECRET_ARN, CHARGEBACK_SMTP_SECRET_NAME or "
                                                 "SMTP_PASSWORD, or "
                                                 "delivery.smtp.password_secret_arn or password_env"))
    if username and security == "none" and not (file and file.allow_insecure):
        problems.append(Problem("delivery.smtp.security", f"logging in as {username!r} without TLS would send "
                                                          "the password in clear text: use ssl or starttls "
                                                          "(allow_insecure: true for a local test server only)"))
    if not host:
        return None
    return SmtpServer(host, port, security, username, password, file.ca_file if file else None,
                      file.timeout if file else 30.0)


def resolve_time_zone(settings: Settings) -> ZoneInfo:
    """The zone that decides what 'today' is for a scheduled job."""
    return settings.timezone or DEFAULT_TIME_ZONE


def resolve_site(config: ConfigFile | None, command: CommandLine) -> Site:
    """The price site of ``chargeback estimate``: --site, else the file's ``pricing.site``, else intl."""
    return command.site or (config.pricing.site if config else None) or DEFAULT_SITE


def _where(config: ConfigFile) -> str:
    return f"environment and {config.source}" if config.source else "environment"


