"""The use cases, one per scheduled function (``daily``, ``monthly``) plus ``run_month`` and the demo.

A job receives a ``JobContext``: everything already built from the settings and the configuration file by
``chargeback.runtime`` (or by a test), so a job composes the library and touches no SDK or environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chargeback.alerts.channels import Channel
    from chargeback.config.file import ConfigFile
    from chargeback.config.resolve import DeliveryPlan
    from chargeback.delivery import Mailer
    from chargeback.storage import ObjectStore


@dataclass(frozen=True)
class JobContext:
    """What a scheduled job works with, composed once per invocation."""

    warehouse: ObjectStore
    config: ConfigFile
    delivery: DeliveryPlan
    mailer: Mailer
    final_day: int  # CHARGEBACK_FINAL_DAY: provisional statements go out after this day
    source: ObjectStore | None = None  # the bills (the daily job)
    channels: Mapping[str, Channel] = field(default_factory=dict)  # alert channels (the daily job)
