"""Entry points of the daily job: AWS Lambda (EventBridge Scheduler) and Function Compute (timer trigger)."""

import os
from datetime import UTC, datetime

from chargeback.jobs.daily import run_daily
from chargeback.jobs.entry import fc_entry, lambda_entry


def lambda_handler(event, context):
    return lambda_entry(run_daily, event, context, os.environ, now=datetime.now(UTC))


def handler(event, context):
    return fc_entry(run_daily, event, context, os.environ, now=datetime.now(UTC))
