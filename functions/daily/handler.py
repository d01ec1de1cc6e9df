"""Entry points of the daily job: AWS Lambda (EventBridge Scheduler) and Function Compute (timer trigger)."""

import os
from datetime import UTC, datetime
from typing import Any

from chargeback.jobs.daily import run_daily
from chargeback.runtime.entry import fc_entry, lambda_entry


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return lambda_entry(run_daily, event, context, os.environ, now=datetime.now(UTC))


def handler(event: Any, context: Any) -> str:
    return fc_entry(run_daily, event, context, os.environ, now=datetime.now(UTC))
