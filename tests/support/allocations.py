"""Published months built by hand: allocation rows written the way the core pipeline publishes them.

``write_month`` writes ``allocations/billing_month=YYYY-MM/allocations.parquet`` (dimensions as strings,
money and usage as decimal128(38, 12), share float64, line_count int64) and the month's manifest, to any
ObjectStore.
``may_rows`` is a hand-made May 2026 (``april_rows`` the month before) with the awkward cases a statement
must handle.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chargeback.columns import ALLOCATION_COLUMNS, LINE_AMOUNTS
from chargeback.config.file import parse_config_file
from chargeback.money import MONEY_TYPE, format_decimal
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

MONTH = "2026-05"
PREVIOUS = "2026-04"

ROW_DEFAULTS: dict[str, Any] = {
    "account_id": "1234567890123456",
    "workspace_id": "llm-search",
    "api_key_id": "2100001",
    "model": "qwen-plus",
    "usage_type": "input_token",
    "io_type": "input",
    "context_tier": "",
    "channel": "",
    "call_source": "api",
    "billing_item": "token_number",
    "commodity_code": "sfm_inference_public_cn",
    "fee_type": "pay_as_you_go",
    "currency": "CNY",
    "usage_unit": "千tokens",
    "list_unit_price": "0.0008",
    "cost_center": "search",
    "allocation_rule": "api_key",
    "share": 1.0,
    "line_count": 1,
}


def row(day: str, billed: str, **fields: Any) -> dict[str, Any]:
    """One allocation row on ``day`` ('2026-05-14') for ``billed``; usage and list cost follow from the price.

    Any column can be overridden; amounts may be given as strings.
    """
    values: dict[str, Any] = {**ROW_DEFAULTS, "billing_month": day[:7], "billing_date": day}
    values.update(fields)
    for column in LINE_AMOUNTS:
        values[column] = Decimal(str(values.get(column, "0")))
    values["billed_cost"] = Decimal(billed)
    if "usage" not in fields and values["fee_type"] != "free_quota":
        price = Decimal(values["list_unit_price"] or "0")
        gross = values["billed_cost"] + values["discount"] + values["coupon"]
        values["usage"] = (gross / price).quantize(Decimal("0.001")) if price else Decimal(0)
    if "usage_before_deduction" not in fields:
        values["usage_before_deduction"] = values["usage"] + values["deducted_usage"]
    if "list_cost" not in fields:
        values["list_cost"] = values["billed_cost"] + values["discount"] + values["coupon"]
    return values


def allocation_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    rows = list(rows)
    arrays = []
    fields = []
    for column in ALLOCATION_COLUMNS:
        values = [r[column] for r in rows]
        if column in LINE_AMOUNTS:
            arrays.append(pa.array([Decimal(str(v)) for v in values], type=MONEY_TYPE))
            fields.append(pa.field(column, MONEY_TYPE))
        elif column == "share":
            arrays.append(pa.array([float(v) for v in values], type=pa.float64()))
            fields.append(pa.field(column, pa.float64()))
        elif column == "line_count":
            arrays.append(pa.array([int(v) for v in values], type=pa.int64()))
            fields.append(pa.field(column, pa.int64()))
        else:
            arrays.append(pa.array([str(v) for v in values], type=pa.string()))
            fields.append(pa.field(column, pa.string()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_month(store: ObjectStore, month: str, rows: Iterable[Mapping[str, Any]], *, status: str = "final",
                mapping_version: str = "test-mapping") -> dict[str, Any]:
    """Publish ``rows`` as ``month``'s allocation table plus a manifest; returns the manifest."""
    rows = list(rows)
    buffer = io.BytesIO()
    pq.write_table(allocation_table(rows), buffer)
    store.write_bytes(layout.allocations_key(month), buffer.getvalue())
    totals: dict[str, Decimal] = {}
    for r in rows:
        totals[r["currency"]] = totals.get(r["currency"], Decimal(0)) + Decimal(str(r["billed_cost"]))
    manifest = {
        "month": month,
        "status": status,
        "totals": {c: format_decimal(v) for c, v in sorted(totals.items())},
        "mapping_version": mapping_version,
        "row_count": len(rows),
    }
    store.write_bytes(layout.manifest_key(month), json.dumps(manifest, indent=2).encode())
    return manifest


MAPPING_YAML = """\
cost_centers:
  search:
    name: Search team
    owners: [lead@search.example.com]
    workspaces: [llm-search]
    api_keys: ["2100001", "2100002", "2100003", "2100004", "2100005", "2100006"]
  research:
    name: "<script>alert('x')</script> Research"
    owners: [ana@research.example.com, bo@research.example.com]
    locale: zh
    workspaces: [llm-research]
    api_keys: ["2300001"]
  ops:
    name: '=HYPERLINK("http://evil.example/","click me")'
    owners: [ops@ops.example.com]
    workspaces: [llm-ops]
workspace_labels:
  llm-search: Search production
  llm-research: '=HYPERLINK("http://evil.example/","x")'
  llm-ops: "<img src=x onerror=alert(1)>"
shared_costs:
  console: proportional
delivery:
  sender: "Chargeback <chargeback@example.com>"
  finance_cc: [finance@example.com]
statements:
  top_n: 3
"""


def sample_mapping(text: str = MAPPING_YAML) -> Any:
    return parse_config_file(text, source="test-mapping.yaml")


def may_rows() -> list[dict[str, Any]]:
    """May 2026: three cost centers plus unallocated; search pays in CNY and USD."""
    d = "2026-05-"
    rows = [
        # search, CNY: qwen-plus in and out on several days, six API keys (top 3 + others)
        row(d + "01", "1.6008", api_key_id="2100001"),
        row(d + "02", "2.4", api_key_id="2100001"),
        row(d + "02", "3.002", api_key_id="2100001", usage_type="output_token", io_type="output",
            list_unit_price="0.002"),
        row(d + "03", "0.72", api_key_id="2100002"),
        row(d + "03", "0.3", api_key_id="2100003", usage_type="context_0-128k_input_token_cache",
            io_type="cached_input", list_unit_price="0.0002"),
        row(d + "04", "0.16", api_key_id="2100004"),
        row(d + "05", "0.08", api_key_id="2100005"),
        row(d + "05", "0.04", api_key_id="2100006"),
        # qwen-max with a 20% discount and a coupon
        row(d + "10", "6.4", api_key_id="2100002", model="qwen-max", list_unit_price="0.0024",
            discount="1.6", coupon="0"),
        row(d + "11", "2.3", api_key_id="2100002", model="qwen-max", list_unit_price="0.0024",
            discount="0", coupon="0.1"),
        # free quota: qwen-plus input (priced by the paid rows above) and qwen-vl-max (never paid: unknown)
        row(d + "01", "0", fee_type="free_quota", list_unit_price="0", usage="0", deducted_usage="500",
            api_key_id="2100001"),
        row(d + "02", "0", fee_type="free_quota", list_unit_price="0", usage="0", deducted_usage="4.131",
            api_key_id="2100001", model="qwen-vl-max"),
        # images (not tokens)
        row(d + "12", "0.56", api_key_id="2100003", model="wanx2.1-t2i-turbo", usage_type="images",
            io_type="unit", billing_item="image_number", usage_unit="张", list_unit_price="0.14"),
        # console calls shared proportionally
        row(d + "15", "0.3333333", api_key_id="", channel="bmp", call_source="console",
            allocation_rule="console:proportional", share=0.6666667),
        # a refund on one day
        row(d + "20", "-0.5", api_key_id="2100001", usage="0", list_cost="0"),
        # search, USD (international account)
        row(d + "07", "1.25", api_key_id="2100001", currency="USD", list_unit_price="0.0004"),
        # research (zh), CNY
        row(d + "03", "10.1234567", api_key_id="2300001", workspace_id="llm-research",
            cost_center="research"),
        row(d + "04", "5.5", api_key_id="2300001", workspace_id="llm-research", cost_center="research",
            model="qwen-turbo", list_unit_price="0.0003"),
        row(d + "04", "0.1666667", api_key_id="", workspace_id="llm-research", cost_center="research",
            channel="bmp", call_source="console", allocation_rule="console:proportional", share=0.3333333),
        # ops: a workspace with a formula-like model name from a bill
        row(d + "09", "2", api_key_id="-1+1", workspace_id="llm-ops", cost_center="ops",
            model="=HYPERLINK(\"http://evil.example/\")", allocation_rule="workspace"),
        # unallocated: an unknown key
        row(d + "09", "0.75", api_key_id="2999999", workspace_id="llm-unknown", cost_center="unallocated",
            allocation_rule="unallocated"),
    ]
    return rows


def april_rows() -> list[dict[str, Any]]:
    d = "2026-04-"
    return [
        row(d + "01", "2.0", api_key_id="2100001"),
        row(d + "02", "2.0", api_key_id="2100001", usage_type="output_token", io_type="output",
            list_unit_price="0.002"),
        row(d + "03", "4.8", api_key_id="2100002", model="qwen-max", list_unit_price="0.0024"),
        row(d + "04", "1.0", api_key_id="2100001", currency="USD", list_unit_price="0.0004"),
        row(d + "05", "3.0", api_key_id="2100009", model="qwen-long", list_unit_price="0.0005"),
        row(d + "06", "9", api_key_id="2300001", workspace_id="llm-research", cost_center="research"),
    ]


def publish_sample(store: ObjectStore, *, may_status: str = "final") -> None:
    write_month(store, PREVIOUS, april_rows())
    write_month(store, MONTH, may_rows(), status=may_status)
