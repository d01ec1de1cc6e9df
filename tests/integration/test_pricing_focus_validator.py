"""The FOCUS 1.0 export (``focus: {version: "1.0"}``) passes the FinOps Foundation's focus-validator 1.0.0
(its own venv, .venv-focus); the default FOCUS 1.2 export is checked by test_focus_conformance.py.

The validator is installed on first use (tests/support/focus_validator.py says how and why it gets an
adapted copy of the file). It exits 0 even on failure, so its 'Validation succeeded.' line is the verdict.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chargeback.cli import main
from chargeback.columns import ALLOCATION_AMOUNTS, ALLOCATION_COLUMNS
from chargeback.config.file import load_config_file
from chargeback.demo.job import DEMO_MONTH, run_demo
from chargeback.pricing.focus import to_focus, write_focus
from chargeback.storage import LocalObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.read import read_allocations

SUPPORT = Path(__file__).parents[1] / "support" / "focus_validator.py"
AMOUNTS = ALLOCATION_AMOUNTS


@pytest.fixture(scope="module")
def validator():
    spec = importlib.util.spec_from_file_location("focus_validator_support", SUPPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    module.ensure_venv()
    return module


def row(day: str, ws: str, key: str, model: str, usage_type: str, unit: str, price: str, usage: str,
        list_cost: str, billed: str, center: str, rule: str, *, fee: str = "pay_as_you_go",
        deducted: str = "0", discount: str = "0", coupon: str = "0") -> dict[str, object]:
    values: dict[str, object] = {
        "billing_month": day[:7], "billing_date": day, "account_id": "1000000000000001",
        "account_name": "example-account", "payer_account_id": "1000000000000001",
        "payer_account_name": "example-account", "workspace_id": ws, "batch": False, "thinking": False,
        "region": "cn-beijing" if unit != "秒" else "",
        "api_key_id": key, "model": model, "usage_type": usage_type,
        "io_type": "output" if "output" in usage_type else "input" if "input" in usage_type else "unit",
        "context_tier": "0-256k" if usage_type.startswith("context_0-256k") else "",
        "channel": "" if key else "bmp", "call_source": "api" if key else "console",
        "billing_item": {"千tokens": "token_number", "张": "image_number", "秒": "video_duration"}[unit],
        "commodity_code": "sfm_inference_public_cn", "fee_type": fee, "currency": "CNY",
        "usage_unit": unit, "list_unit_price": price, "cost_center": center, "allocation_rule": rule,
        "share": 1.0, "line_count": 1, "usage": usage,
        "usage_before_deduction": str(Decimal(usage) + Decimal(deducted)), "deducted_usage": deducted,
        "list_cost": list_cost, "discount": discount, "coupon": coupon, "billed_cost": billed,
        "effective_cost": billed,
    }
    for amount in AMOUNTS:
        values[amount] = Decimal(str(values.get(amount, "0")))
    return values


W1, W2 = "llm-ex4mple0wksp0001", "llm-ex4mple0wksp0002"
REALISTIC = [
    row("2026-05-01", W1, "1234567", "qwen-plus", "input_token", "千tokens", "0.0008", "12.345", "0.009876",
        "0.009876", "search", "api_key"),
    row("2026-05-01", W1, "1234567", "qwen-plus", "output_token", "千tokens", "0.002", "3.1", "0.0062",
        "0.0062", "search", "api_key"),
    row("2026-05-14", W1, "2300002", "qwen3.6-plus", "context_0-256k_input_token", "千tokens", "0", "0", "0",
        "0", "research", "api_key", fee="free_quota", deducted="0.969"),
    row("2026-05-14", W1, "", "qwen3-omni-flash", "text_input_token", "千tokens", "0.0018", "0.116",
        "0.0002088", "0.0001044", "search", "console:proportional"),
    row("2026-05-14", W1, "", "qwen3-omni-flash", "text_input_token", "千tokens", "0.0018", "0.116",
        "0.0002088", "0.0001044", "research", "console:proportional"),
    row("2026-05-20", W2, "7654321", "wanx2.1-t2i-plus", "images", "张", "0.2", "4", "0.8", "0.5",
        "unallocated", "unallocated", coupon="0.3"),
    row("2026-05-31", W2, "", "happyhorse-1.0-i2v", "1080P", "秒", "1.6", "5", "8", "6.4", "platform",
        "workspace", discount="1.6"),
    row("2026-05-31", W2, "", "happyhorse-1.0-r2v", "1080P", "秒", "0", "0", "0", "0", "platform",
        "workspace", fee="free_quota", deducted="5"),
]


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(ALLOCATION_COLUMNS))
    for amount in AMOUNTS:
        df[amount] = pd.Series([r[amount] for r in rows], dtype=object)
    return df


def test_realistic_allocations_pass(validator, tmp_path):
    focus = to_focus(_frame(REALISTIC), version="1.0", invoice_issuer="通义云启（杭州）信息技术有限公司",
                     sub_account_names={W1: "Search and research"})
    files = write_focus(focus, layout.partition("focus", "2026-05"))
    run = validator.validate_csv(files["focus/billing_month=2026-05/focus.csv"])
    assert run.succeeded, run.output
    assert "Validation succeeded." in run.output


def test_the_demo_month_passes_as_focus_1_0(validator, tmp_path, capsys):
    demo = run_demo(tmp_path, now=datetime(2026, 6, 5, tzinfo=UTC))
    warehouse = LocalObjectStore(demo.warehouse)
    allocations = read_allocations(warehouse, DEMO_MONTH)
    assert allocations is not None and len(allocations) > 0
    mapping = load_config_file(demo.mapping)
    published = warehouse.read_bytes(layout.focus_key(DEMO_MONTH, "csv"))
    focus = to_focus(allocations, sub_account_names=mapping.workspace_labels)
    assert published == write_focus(focus, "x")["x/focus.csv"]  # what the run published is the FOCUS 1.2 view
    # the option: the same month allocated again with `focus: {version: "1.0"}` publishes FOCUS 1.0
    older = tmp_path / "focus-1.0.yaml"
    older.write_text(Path(demo.mapping).read_text(encoding="utf-8") + '\nfocus: {version: "1.0"}\n',
                     encoding="utf-8")
    assert main(["allocate", "--warehouse", str(demo.warehouse), "--month", DEMO_MONTH,
                 "--mapping", str(older)]) == 0
    capsys.readouterr()
    published = warehouse.read_bytes(layout.focus_key(DEMO_MONTH, "csv"))
    assert published.split(b"\n", 1)[0].endswith(b'"x_discount","x_coupon"')
    assert published == write_focus(to_focus(allocations, version="1.0",
                                             sub_account_names=mapping.workspace_labels), "x")["x/focus.csv"]
    parquet = pq.read_table(io.BytesIO(warehouse.read_bytes(layout.focus_key(DEMO_MONTH, "parquet"))))
    assert parquet.schema.metadata[b"focus_version"] == b"1.0"
    assert sum(parquet.column("BilledCost").to_pylist(), Decimal(0)) == read_manifest(warehouse, DEMO_MONTH).totals["CNY"]
    assert set(parquet.column("x_cost_center").to_pylist()) == {"search", "research", "assistants"}
    run = validator.validate_csv(published)
    assert run.succeeded, run.output
    assert "Validation succeeded." in run.output


def test_a_broken_file_fails_validation(validator):
    focus = to_focus(_frame(REALISTIC), version="1.0")
    focus.loc[1, "ServiceCategory"] = "Generative Stuff"
    focus.loc[2, "ChargeFrequency"] = "Sometimes"
    files = write_focus(focus, "focus/billing_month=2026-05")
    run = validator.validate_csv(files["focus/billing_month=2026-05/focus.csv"])
    assert not run.succeeded
    assert "Validation failed!" in run.output
    assert "ServiceCategory_Enum failed" in run.output and "ChargeFrequency_Enum failed" in run.output


def test_the_validator_needs_the_adapted_names(validator):
    header, body = validator.adapt_for_validator(
        b"ChargeCategory,InvoiceIssuerName,ProviderName,PublisherName,ResourceId,BillingAccountId,x_a\n"
        b"Usage,Alibaba Cloud,Alibaba Cloud,Alibaba Cloud,;llm-x;m;t;,1000000000000001,7\n")
    assert header == ["ChargeCategory", "InvoiceIssuer", "Provider", "Publisher", "ResourceID",
                      "BillingAccountId", "x_a", "ChargeType"]
    assert body == [["Usage", "Alibaba Cloud", "Alibaba Cloud", "Alibaba Cloud", ";llm-x;m;t;",
                     "1000000000000001", "7", "Usage"]]


def test_as_csv_the_validator_types_the_account_uid_as_a_number(validator):
    """Why the copy goes over as Parquet: from CSV text the all-digit UID column is read as integers."""
    files = write_focus(to_focus(_frame(REALISTIC), version="1.0"), "focus/billing_month=2026-05")
    run = validator.validate_csv(files["focus/billing_month=2026-05/focus.csv"], as_csv=True)
    assert not run.succeeded
    failed = sorted(line.split()[0] for line in run.output.splitlines() if line.endswith(" failed:"))
    assert failed == ["BillingAccountId_IsString"]
