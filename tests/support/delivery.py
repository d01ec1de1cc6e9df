"""Delivery as the product composes it: a ``delivery:`` section through the file loader, resolved with an
environment, built into a Mailer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from chargeback.config.environment import DeliveryEnvironment
from chargeback.config.file import parse_config_file
from chargeback.config.resolve import CommandLine, DeliveryPlan, resolve_delivery
from chargeback.delivery import Mailer
from chargeback.delivery.build import build_mailer
from chargeback.storage import ObjectStore


def delivery_plan(delivery: Mapping[str, Any] | None, env: Mapping[str, str] | None = None,
                  command: CommandLine | None = None) -> DeliveryPlan:
    """The plan for a file whose ``delivery:`` section is ``delivery``, in environment ``env``."""
    config = parse_config_file(yaml.safe_dump({"delivery": dict(delivery)} if delivery else {}),
                               source="test.yaml")
    return resolve_delivery(config, DeliveryEnvironment.from_env(env or {}), command)


def mailer_for(delivery: Mapping[str, Any] | None, *, env: Mapping[str, str] | None = None,
               store: ObjectStore | None = None, clients: Mapping[str, Any] | None = None) -> Mailer:
    """The Mailer that file and environment describe; ``env`` also holds the password variable."""
    return build_mailer(delivery_plan(delivery, env), store=store, env=env or {}, clients=clients)
