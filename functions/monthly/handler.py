"""Entry points of the monthly job: AWS Lambda (EventBridge Scheduler) and Function Compute (timer)."""

import os
from datetime import UTC, datetime
from typing import Any

from chargeback.jobs.monthly import run_monthly
from chargeback.runtime.entry import fc_entry, lambda_entry


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return lambda_entry(run_monthly, event, context, os.environ, now=datetime.now(UTC))


def handler(event: Any, context: Any) -> str:
    return fc_entry(run_monthly, event, context, os.environ, now=datetime.now(UTC))
