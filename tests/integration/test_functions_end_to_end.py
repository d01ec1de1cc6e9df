"""The handlers end to end, invoked as the platforms invoke them.

AWS: bills on moto S3 (BillStorage=s3), the warehouse on moto S3 with the mapping in it, mail through moto
SES; the handlers build their own boto3 clients, as in Lambda.
Function Compute: the timer event bytes and a context with STS credentials; bills and warehouse in local
folders, mail to the outbox.

These tests compose the parallel work (run_month, the S3 adapter, send_statements, run_alerts, build_mailer);
they pass once that work is merged.
"""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from functions.daily import handler as daily
from functions.monthly import handler as monthly
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chargeback.config.environment import Settings
from chargeback.errors import StorageError
from chargeback.storage import LocalObjectStore, open_store
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.read import read_allocations
from tests.support.aws import REGION, aws
from tests.support.functions import BILLS, FC_CONTEXT, LAMBDA_CONTEXT, MAY, TEAMS, fc_timer, scheduler_event, stock_s3
from tests.support.permissions import WAREHOUSE_WRITES
from tests.support.v2_bills import v2_zip

__all__ = ["aws"]

MAPPING = TEAMS
def cost_by_center(frame: Any) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for center, cost in zip(frame["cost_center"], frame["billed_cost"], strict=True):
        totals[center] = totals.get(center, Decimal(0)) + cost
    return totals


def sent_mail() -> list[tuple[str, set[str], set[str]]]:
    """(sender, To, Cc) of every message moto SES accepted, raw (v1 or v2) or simple."""
    sent = []
    for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
        if hasattr(message, "raw_data"):
            parsed = email.message_from_string(message.raw_data)
            to = {a.strip() for a in (parsed.get("To") or "").split(",") if a.strip()}
            cc = {a.strip() for a in (parsed.get("Cc") or "").split(",") if a.strip()}
            sent.append((str(message.source), to, cc))
        else:
            sent.append((str(message.source), set(message.destinations.get("ToAddresses", [])),
                         set(message.destinations.get("CcAddresses", []))))
    return sent


@pytest.fixture
def aws_function(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """The Lambda environment template.yml sets (BillStorage=s3, Delivery=ses), on moto."""
    urls = stock_s3(aws.client("s3"), MAPPING, REGION)
    aws.client("ses").verify_domain_identity(Domain="example.com")
    for name in Settings.env_names():
        monkeypatch.delenv(name, raising=False)
    env = {
        **urls,
        "CHARGEBACK_DELIVERY": "ses",
        "CHARGEBACK_SENDER": "billing@example.com", "CHARGEBACK_FINANCE_CC": "finance@example.com",
        "CHARGEBACK_TIMEZONE": "Asia/Shanghai", "CHARGEBACK_FINAL_DAY": "6", "CHARGEBACK_SMTP_HOST": "",
        "CHARGEBACK_SMTP_PORT": "465", "CHARGEBACK_SMTP_USER": "", "CHARGEBACK_SMTP_SECRET_ARN": "",
        "CHARGEBACK_OSS_ENDPOINT": "https://oss-cn-hangzhou.aliyuncs.com", "CHARGEBACK_OSS_SECRET_ARN": "",
        "CHARGEBACK_STORAGE_DEADLINE": "300",
    }
    assert set(env) == Settings.env_names("aws")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield aws


def warehouse_objects(session: boto3.Session) -> dict[str, str]:
    listed = session.client("s3").list_objects_v2(Bucket="chargeback-warehouse").get("Contents", [])
    return {entry["Key"]: entry["ETag"] for entry in listed}


def written_prefixes(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """The top-level folders of the objects a run created or replaced."""
    return {key.split("/", 1)[0] + "/" for key, etag in after.items() if before.get(key) != etag}


def test_lambda_daily_then_monthly(aws_function: boto3.Session) -> None:
    # June 4th, 10:30 in Shanghai: May's final push has arrived, June is open
    before = warehouse_objects(aws_function)
    result = daily.lambda_handler(scheduler_event("daily", "2026-06-04T02:30:00Z"), LAMBDA_CONTEXT)
    # what the daily role may write (template.yml), and nothing else, is what the job wrote
    assert written_prefixes(before, warehouse_objects(aws_function)) <= set(WAREHOUSE_WRITES["daily"])
    assert result["day"] == "2026-06-04"
    assert [(m["month"], m["action"], m["status"], m["totals"]) for m in result["months"]] == [
        ("2026-05", "ingested", "final", {"CNY": "22.875"}),
        ("2026-06", "ingested", "open", {"CNY": "2"}),
    ]
    warehouse = open_store("s3://chargeback-warehouse", client=aws_function.client("s3"))
    may = read_allocations(warehouse, "2026-05")
    assert may is not None
    assert cost_by_center(may) == {"search": Decimal("19.75"), "research": Decimal("3.125")}
    assert set(may["billing_month"]) == {"2026-05"}
    june = read_allocations(warehouse, "2026-06")
    assert june is not None
    assert cost_by_center(june) == {"search": Decimal("1.5"), "research": Decimal("0.5")}
    assert getattr(read_manifest(warehouse, "2026-05"), "status", None) == "final"
    assert sent_mail() == []  # no budget is configured: no alert
    # the dashboard, up to the open month, and June's copy of it
    assert result["dashboard"] == ["dashboard/billing_month=2026-06/index.html", "dashboard/index.html"]
    page = warehouse.read_bytes("dashboard/index.html").decode("utf-8")
    assert page == warehouse.read_bytes("dashboard/billing_month=2026-06/index.html").decode("utf-8")
    assert 'data-kind="month-total" data-month="2026-05" data-amount="22.875"' in page
    assert 'data-kind="month-total" data-month="2026-06" data-amount="2"' in page
    assert "<script" not in page

    # the next day May is final: only June is ingested again, and unchanged
    result = daily.lambda_handler(scheduler_event("daily", "2026-06-05T02:30:00Z"), LAMBDA_CONTEXT)
    assert [(m["month"], m["action"]) for m in result["months"]] == [("2026-06", "unchanged")]

    before = warehouse_objects(aws_function)
    result = monthly.lambda_handler(scheduler_event("monthly", "2026-06-05T03:30:00Z"), LAMBDA_CONTEXT)
    assert result["months"] == [{"month": "2026-05", "action": "sent", "kind": "final", "statements": 3}]
    monthly_writes = written_prefixes(before, warehouse_objects(aws_function))
    # the ledger and the rows each statement showed
    assert monthly_writes == {"state/"} and monthly_writes <= set(WAREHOUSE_WRITES["monthly"])
    mail = sent_mail()
    assert sorted((sender, sorted(to), sorted(cc)) for sender, to, cc in mail) == [
        ("billing@example.com", ["finance@example.com"], []),  # the finance statement
        ("billing@example.com", ["lead@example.com"], []),
        ("billing@example.com", ["research-lead@example.com"], []),
    ]

    # the schedule runs again on the 6th: the ledger stops a second send
    monthly.lambda_handler(scheduler_event("monthly", "2026-06-06T03:30:00Z"), LAMBDA_CONTEXT)
    assert len(sent_mail()) == 3


def test_allocations_partition_holds_only_parquet_for_athena(aws_function: boto3.Session) -> None:
    """The Glue table reads every object under allocations/billing_month=.../ as Parquet (Athena has no file
    filter), so nothing else may be written there."""
    daily.lambda_handler(scheduler_event("daily", "2026-06-04T02:30:00Z"), LAMBDA_CONTEXT)
    listed = aws_function.client("s3").list_objects_v2(Bucket="chargeback-warehouse", Prefix="allocations/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert keys and all(key.endswith(".parquet") for key in keys), keys


def test_lambda_backfill_payload_ingests_only_the_asked_month(aws_function: boto3.Session) -> None:
    result = daily.lambda_handler({"job": "daily", "months": ["2026-05"]}, LAMBDA_CONTEXT)
    assert [(m["month"], m["action"]) for m in result["months"]] == [("2026-05", "ingested")]
    assert result["alerts"] is None
    warehouse = open_store("s3://chargeback-warehouse", client=aws_function.client("s3"))
    assert read_manifest(warehouse, "2026-06") is None


def test_lambda_raises_when_the_bill_bucket_is_missing(aws_function: boto3.Session,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGEBACK_SOURCE_URL", "s3://no-such-bill-bucket/bills")
    with pytest.raises(StorageError):
        daily.lambda_handler(scheduler_event("daily", "2026-06-04T02:30:00Z"), LAMBDA_CONTEXT)


@pytest.fixture
def fc_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The FC environment of s.yaml, with local folders standing in for OSS and the outbox for DirectMail."""
    bills = LocalObjectStore(tmp_path / "bills")
    for key, data in BILLS.items():
        bills.write_bytes(key.removeprefix("bills/"), data)
    (tmp_path / "mapping.yaml").write_text(MAPPING)
    for name in Settings.env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHARGEBACK_SOURCE_URL", (tmp_path / "bills").as_uri())
    monkeypatch.setenv("CHARGEBACK_WAREHOUSE_URL", (tmp_path / "warehouse").as_uri())
    monkeypatch.setenv("CHARGEBACK_MAPPING_URL", str(tmp_path / "mapping.yaml"))
    monkeypatch.setenv("CHARGEBACK_DELIVERY", "outbox")
    monkeypatch.setenv("CHARGEBACK_SENDER", "billing@example.com")
    return tmp_path


def test_fc_timer_daily_then_monthly(fc_function: Path) -> None:
    result = json.loads(daily.handler(fc_timer("daily", "2026-06-04T02:30:00Z"), FC_CONTEXT))
    assert [(m["month"], m["action"], m["status"]) for m in result["months"]] == [
        ("2026-05", "ingested", "final"), ("2026-06", "ingested", "open")]
    warehouse = LocalObjectStore(fc_function / "warehouse")
    may = read_allocations(warehouse, "2026-05")
    assert may is not None
    assert cost_by_center(may) == {"search": Decimal("19.75"), "research": Decimal("3.125")}

    result = json.loads(monthly.handler(fc_timer("monthly", "2026-06-05T03:30:00Z"), FC_CONTEXT))
    assert result["months"] == [{"month": "2026-05", "action": "sent", "kind": "final", "statements": 3}]
    assert [info.key for info in warehouse.list("outbox/")]  # the statements were written to the outbox


def test_fc_provisional_statements_after_the_final_day(fc_function: Path) -> None:
    """Without May's final push, statements wait until CHARGEBACK_FINAL_DAY and then go out provisional."""
    bills = LocalObjectStore(fc_function / "bills")
    bills.delete("202605/20260603170000/1000000000000001_2684201000001_consumeDetailBillV2_202605.zip")
    bills.write_bytes("202605/20260601170000/1000000000000001_2684201000001_consumeDetailBillV2_202605.zip",
                      v2_zip("202605", MAY))
    daily.handler(fc_timer("daily", "2026-06-04T02:30:00Z"), FC_CONTEXT)
    waiting = json.loads(monthly.handler(fc_timer("monthly", "2026-06-06T03:30:00Z"), FC_CONTEXT))
    assert waiting["months"] == [{"month": "2026-05", "action": "waiting", "kind": "", "statements": 0}]
    sent = json.loads(monthly.handler(fc_timer("monthly", "2026-06-07T03:30:00Z"), FC_CONTEXT))
    assert sent["months"] == [{"month": "2026-05", "action": "sent", "kind": "provisional", "statements": 3}]


def test_lambda_reads_the_inventory_and_usage_files_beside_the_mapping(aws_function: boto3.Session) -> None:
    s3 = aws_function.client("s3")
    s3.put_object(Bucket="chargeback-warehouse", Key="config/mapping.yaml", Body=b"""cost_centers:
  search: {owners: [lead@example.com]}
  research: {owners: [research-lead@example.com]}
api_keys_file: keys.csv
usage_splits:
  - {api_key: "2100001", source: usage/gateway.csv, consumers: {team-r: research}}
""")
    s3.put_object(Bucket="chargeback-warehouse", Key="config/keys.csv",
                  Body=b"api_key_id,cost_center,from,until\n2100001,search,,\n2300002,research,,\n")
    # key 2100001 is shared: in May search used 3 tokens for research's 1 on every day it was billed
    s3.put_object(Bucket="chargeback-warehouse", Key="config/usage/gateway.csv",
                  Body=b"date,consumer,tokens\n2026-05-14,search,3\n2026-05-14,team-r,1\n"
                       b"2026-05-20,search,3\n2026-05-20,team-r,1\n")
    result = daily.lambda_handler(scheduler_event("daily", "2026-06-04T02:30:00Z"), LAMBDA_CONTEXT)
    assert [(m["month"], m["totals"]) for m in result["months"]] == [
        ("2026-05", {"CNY": "22.875"}), ("2026-06", {"CNY": "2"})]
    warehouse = open_store("s3://chargeback-warehouse", client=s3)
    may = read_allocations(warehouse, "2026-05")
    assert may is not None
    # the shared key's 12.5 and 7.25: 3/4 to search, 1/4 to research, at the bill's finest decimal (0.001): 7.25
    # is 5.4375 + 1.8125, whose two half-units the tie gives to the first cost center, research; research's own
    # key 3.125
    assert cost_by_center(may) == {"search": Decimal("9.375") + Decimal("5.437"),
                                   "research": Decimal("3.125") + Decimal("1.813") + Decimal("3.125")}
    june = read_allocations(warehouse, "2026-06")
    assert june is not None  # no June usage: the shared key is its own cost center's (the inventory's)
    assert cost_by_center(june) == {"search": Decimal("1.5"), "research": Decimal("0.5")}
