"""Entry points of the monthly job: AWS Lambda (EventBridge Scheduler) and Function Compute (timer)."""

import os
from datetime import UTC, datetime

from chargeback.jobs.entry import fc_entry, lambda_entry
from chargeback.jobs.monthly import run_monthly


def lambda_handler(event, context):
    return lambda_entry(run_monthly, event, context, os.environ, now=datetime.now(UTC))


def handler(event, context):
    return fc_entry(run_monthly, event, context, os.environ, now=datetime.now(UTC))
