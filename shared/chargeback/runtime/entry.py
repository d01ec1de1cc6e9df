"""What every function handler does, once: parse the event, read the settings, build the clients, read the
configuration file, resolve it with the environment, build the mailer (and the daily job's alert channels),
run the job.

The handlers in ``functions/<job>/handler.py`` only choose the job and pass the platform's event, context,
environment and clock in. The environment's settings are read once per warm container (cold start); the
configuration file once per invocation, before any bill is read. A failure is logged once, as one JSON line
naming the job and the error, and then re-raised, so the platform counts an error, retries and alarms;
nothing here turns a failure into a success.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from chargeback.config.environment import Settings
from chargeback.config.resolve import resolve_delivery, resolve_time_zone
from chargeback.jobs import JobContext
from chargeback.logs import configure_logging
from chargeback.runtime.clients import Clients, OssCredentials, build_clients, load_job_config, open_store
from chargeback.runtime.events import Invocation, parse_fc_event, parse_scheduler_event

log = logging.getLogger("chargeback.jobs")


class JobResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


Job = Callable[..., JobResult]
"""``job(context, today, months, *, now, dry_run)``: ``run_daily`` or ``run_monthly``."""

# The stores each job opens: clients fetch only their credentials, matching the job's role.
JOB_STORES: dict[str, tuple[str, ...]] = {"daily": ("source", "warehouse", "mapping"),
                                          "monthly": ("warehouse", "mapping")}


def job_name(job: Job) -> str:
    """'daily' for ``run_daily``: the name payloads use in ``{"job": ...}``."""
    return job.__name__.removeprefix("run_")


def lambda_entry(job: Job, event: Any, context: Any, env: Mapping[str, str], *, now: datetime,
                 session: Any | None = None) -> dict[str, Any]:
    """Run ``job`` for an AWS Lambda invocation; returns the job's result as JSON-ready data."""
    request_id = str(getattr(context, "aws_request_id", "") or "")
    with failures_logged(job_name(job), request_id):
        invocation = parse_scheduler_event(event)
        return _run(job, invocation, env, now=now, session=session)


def fc_entry(job: Job, event: bytes | str | None, context: Any, env: Mapping[str, str], *,
             now: datetime) -> str:
    """Run ``job`` for a Function Compute invocation (timer event bytes); returns the result as JSON text."""
    request_id = str(getattr(context, "request_id", "") or "")
    with failures_logged(job_name(job), request_id):
        invocation = parse_fc_event(event)
        result = _run(job, invocation, env, now=now, fc_credentials=OssCredentials.from_fc_context(context))
        return json.dumps(result, ensure_ascii=False, default=str)


def _run(job: Job, invocation: Invocation, env: Mapping[str, str], *, now: datetime,
         session: Any | None = None, fc_credentials: OssCredentials | None = None) -> dict[str, Any]:
    name = job_name(job)
    invocation.check_job(name)
    settings = cold_start_settings(env)
    today = invocation.day(resolve_time_zone(settings), now)
    log.info("%s job starts for %s", name, today, extra={
        "job": name, "day": today.isoformat(), "trigger": invocation.trigger, "platform": invocation.platform,
        "months": list(invocation.months) if invocation.months else None, "dry_run": invocation.dry_run,
        "settings": settings.describe()})
    clients: Clients = build_clients(settings, stores=JOB_STORES[name], session=session,
                                     fc_credentials=fc_credentials)
    context = compose(name, settings, clients, env)
    result = job(context, today, invocation.months, now=now, dry_run=invocation.dry_run).to_dict()
    log.info("%s job done", name, extra={"job": name, "result": result})
    return result


def compose(job: str, settings: Settings, clients: Clients, env: Mapping[str, str]) -> JobContext:
    """Everything ``job`` works with, built before it reads a bill: a bad configuration fails here."""
    from chargeback.delivery.build import build_mailer

    warehouse = open_store(settings.warehouse_url, settings, clients)
    config = load_job_config(settings, clients)
    plan = resolve_delivery(config, settings.delivery, purpose="alerts" if job == "daily" else "statements")
    mailer = build_mailer(plan, store=warehouse, env=env, clients=clients.for_mail())
    if job != "daily":
        return JobContext(warehouse, config, plan, mailer, settings.final_day)
    from chargeback.alerts.channels import build_channels

    # alert webhooks name the variables that hold their URLs and secrets; disabled alerts need none
    channels = (build_channels(config.alerts, environ=env, mailer=mailer, sender=plan.alert_sender)
                if config.alerts.enabled else {})
    source = open_store(settings.source_url, settings, clients)
    return JobContext(warehouse, config, plan, mailer, settings.final_day, source, channels)


def cold_start_settings(env: Mapping[str, str]) -> Settings:
    """``Settings.from_env(env)``, read once per warm container (again only if the variables change)."""
    return _settings(tuple((name, env.get(name) or "") for name in sorted(Settings.env_names())))


@lru_cache(maxsize=4)
def _settings(values: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(values))


@contextmanager
def failures_logged(job: str, request_id: str = "") -> Iterator[None]:
    """Log a failure of the block once, as JSON with the error's type, then let it propagate."""
    configure_logging("json")
    try:
        yield
    except Exception as exc:
        log.error("%s job failed: %s", job, exc, exc_info=True,
                  extra={"job": job, "error": type(exc).__name__, "request_id": request_id})
        raise

