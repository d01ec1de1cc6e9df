"""What the platforms hand the functions in the tests: two months of v2 pushes, EventBridge Scheduler inputs,
Function Compute timer-trigger bytes, and the invocation contexts of both."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from tests.support.v2_bills import v2_key, v2_row, v2_zip

TEAMS = """\
cost_centers:
  search:
    name: Search team
    owners: [lead@example.com]
    api_keys: ["2100001"]
  research:
    name: Research
    owners: [research-lead@example.com]
    api_keys: ["2300002"]
    workspaces: [llm-ws0000000000000b]
shared_costs:
  console: keep
  unmapped: keep
"""
"""The mapping of the bills below: who pays for keys 2100001 and 2300002."""

SEARCH_IN = "2100001;llm-ws0000000000000a;qwen-plus;input_token;;0"
SEARCH_OUT = "2100001;llm-ws0000000000000a;qwen-plus;output_token;;0"
RESEARCH = "2300002;llm-ws0000000000000b;qwen-max;input_token;;0"

# May's final push (after 14:00 on June 2nd) and June's month-to-date push of June 3rd: in May search (key
# 2100001) spends 19.75 CNY and research (key 2300002) 3.125; in June 1.5 and 0.5
MAY = [v2_row(1, "20260514", SEARCH_IN, "12.5"), v2_row(2, "20260520", SEARCH_OUT, "7.25"),
       v2_row(3, "20260511", RESEARCH, "3.125")]
JUNE = [v2_row(4, "20260601", SEARCH_IN, "1.5"), v2_row(5, "20260602", RESEARCH, "0.5")]
BILLS = {v2_key("bills", "202605", "20260603170000"): v2_zip("202605", MAY),
         v2_key("bills", "202606", "20260603170000"): v2_zip("202606", JUNE)}

LAMBDA_CONTEXT = SimpleNamespace(aws_request_id="6f1c2c8e-8f55-4a3e-a2a4-0d7c3b8e9f10")
FC_CONTEXT = SimpleNamespace(
    request_id="1-66600a1b-2c3d4e5f", region="cn-hangzhou",
    credentials=SimpleNamespace(access_key_id="STS.NTest", access_key_secret="sts-secret",
                                security_token="CAIStoken"))


S3_URLS = {"CHARGEBACK_SOURCE_URL": "s3://example-bills/bills", "CHARGEBACK_WAREHOUSE_URL": "s3://chargeback-warehouse",
           "CHARGEBACK_MAPPING_URL": "s3://chargeback-warehouse/config/mapping.yaml"}


def stock_s3(s3: Any, mapping: str, region: str) -> dict[str, str]:
    """template.yml's buckets (BillStorage=s3) on moto, holding BILLS and ``mapping``; returns the URL settings."""
    for bucket in ("example-bills", "chargeback-warehouse"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    for key, data in BILLS.items():
        s3.put_object(Bucket="example-bills", Key=key, Body=data)
    s3.put_object(Bucket="chargeback-warehouse", Key="config/mapping.yaml", Body=mapping.encode())
    return dict(S3_URLS)


def scheduler_event(job: str, when: str) -> dict[str, str]:
    """The schedule's Input from template.yml with <aws.scheduler.scheduled-time> filled in."""
    return {"job": job, "scheduled_time": when}


def fc_timer(job: str, when: str) -> bytes:
    """A timer trigger's event as Function Compute sends it, with the payload s.yaml configures."""
    return json.dumps({"triggerTime": when, "triggerName": f"{job}-timer",
                       "payload": json.dumps({"job": job})}).encode()
