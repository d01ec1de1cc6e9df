"""Every bill format and authority rule, on hand-made bills in a local folder, with exact totals."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chargeback.cli import main
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import read_manifest, write_manifest
from chargeback.warehouse.publish import sha256
from chargeback.warehouse.read import read_allocations, read_lines
from tests.support.bills import legacy_csv, legacy_row, v2_csv, v2_row, zip_of
from tests.support.warehouse import published_files

K1 = "2100001;llm-ws0000000000000a;qwen-plus;input_token;;0"
K2 = "2300002;llm-ws0000000000000b;qwen-max;output_token;;0"
CONSOLE = ";llm-ws0000000000000a;qwen-plus;output_token;bmp;0"
V2_DIR = "bills/202605/{ts}/1000000000000001_2688801000001_consumeDetailBillV2_202605"


def write(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def run(tmp_path: Path, *extra: str, month: str = "2026-05") -> int:
    return main(["run", "--source", str(tmp_path / "src"), "--warehouse", str(tmp_path / "wh"),
                 "--month", month, *extra])


def manifest(tmp_path: Path, month: str = "2026-05") -> dict:
    return json.loads((tmp_path / f"wh/manifests/billing_month={month}/manifest.json").read_text())


def allocations(tmp_path: Path, month: str = "2026-05") -> list[dict]:
    return pq.read_table(tmp_path / f"wh/allocations/billing_month={month}/allocations.parquet").to_pylist()


def total(rows: list[dict], **match: str) -> Decimal:
    return sum((r["billed_cost"] for r in rows if all(r[k] == v for k, v in match.items())), Decimal(0))


def test_newer_v2_snapshot_replaces_older(tmp_path):
    src = tmp_path / "src"
    write(src, V2_DIR.format(ts="20260510120000") + ".zip",
          zip_of({"a.csv": v2_csv([v2_row(K1, "1.1")])}))
    write(src, V2_DIR.format(ts="20260520120000") + ".zip",
          zip_of({"a.csv": v2_csv([v2_row(K1, "1.1"), v2_row(K1, "2.0000001", date="20260519")])}))
    assert run(tmp_path) == 0
    assert manifest(tmp_path)["totals"] == {"CNY": "3.1000001"}
    assert manifest(tmp_path)["superseded"][0]["reason"] == "older v2 snapshot 20260510120000"
    assert manifest(tmp_path)["status"] == "open"


def test_zip_of_two_csvs_together_is_the_month_and_zip_found_by_magic(tmp_path):
    # no extension on the object: detected as zip by its magic bytes
    write(tmp_path / "src", V2_DIR.format(ts="20260603170000"), zip_of({
        "part1.csv": v2_csv([v2_row(K1, "1.5"), v2_row(K2, "2.25")]),
        "part2.csv": v2_csv([v2_row(CONSOLE, "0.0000003"), v2_row(K2, "1")]),
    }))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["status"] == "final"
    assert [mem["member"] for mem in m["sources"][0]["members"]] == ["part1.csv", "part2.csv"]
    rows = allocations(tmp_path)
    assert total(rows) == Decimal("4.7500003")
    assert total(rows, api_key_id="2300002") == Decimal("3.25")
    assert total(rows, cost_center="llm-ws0000000000000a") == Decimal("1.5000003")


def test_legacy_month_file_supersedes_dailies(tmp_path):
    src = tmp_path / "src"
    write(src, "1001_BillingItemDetail_20260514", legacy_csv([legacy_row(payable="9")]))
    write(src, "1001_BillingItemDetail_202605", legacy_csv([legacy_row(payable="1.25"), legacy_row(payable="2")]))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["totals"] == {"CNY": "3.25"} and m["status"] == "final"
    assert m["superseded"] == [{"key": "1001_BillingItemDetail_20260514",
                                "reason": "the month file supersedes dailies"}]


def test_late_record_in_next_months_daily_is_counted_in_its_month(tmp_path):
    src = tmp_path / "src"
    write(src, "1001_BillingItemDetail_20260530", legacy_csv([legacy_row(payable="1", date="2026-05-30")]))
    write(src, "1001_BillingItemDetail_20260601", legacy_csv([
        legacy_row(payable="0.5", date="2026-05-31"),  # late record of May
        legacy_row(payable="7", date="2026-06-01"),
    ]))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["totals"] == {"CNY": "1.5"}
    assert m["counts"]["other_month_rows"] == 1
    assert {r["billing_date"] for r in allocations(tmp_path)} == {date(2026, 5, 30), date(2026, 5, 31)}  # a DATE


def test_gbk_file(tmp_path):
    write(tmp_path / "src", "1001_BillingItemDetail_202605",
          legacy_csv([legacy_row(payable="2.5", item="大模型文本消耗量")], encoding="gbk"))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["sources"][0]["members"][0]["encoding"] == "gbk"
    assert allocations(tmp_path)[0]["billing_item"] == "大模型文本消耗量"
    assert m["totals"] == {"CNY": "2.5"}


def test_english_headers_v2_and_legacy(tmp_path):
    write(tmp_path / "src", V2_DIR.format(ts="20260520120000") + ".csv",
          v2_csv([v2_row(K1, "1.2", currency="USD", fee_type="PayAsYouGo")], english=True))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["totals"] == {"USD": "1.2"}
    assert m["sources"][0]["members"][0]["language"] == "en"
    legacy = tmp_path / "legacy"
    write(legacy / "src", "1001_BillingItemDetail_202605",
          legacy_csv([legacy_row(payable="3", currency="USD")], english=True))
    assert run(legacy) == 0
    assert manifest(legacy)["totals"] == {"USD": "3"}


def test_five_part_ids_and_other_products(tmp_path):
    write(tmp_path / "src", V2_DIR.format(ts="20260520120000") + ".csv", v2_csv([
        v2_row("2100001;llm-ws0000000000000a;qwen-max;output_token;app", "1"),
        v2_row("i-bp1oss", "5", product="oss", commodity="oss"),
        v2_row("i-bp1ecs", "0.25", product="ecs", commodity="ecs"),
    ]))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["totals"] == {"CNY": "1"}
    assert m["counts"]["other_product_rows"] == 2
    assert m["excluded_products"] == [
        {"product_code": "ecs", "currency": "CNY", "rows": 1, "billed_cost": "0.25"},
        {"product_code": "oss", "currency": "CNY", "rows": 1, "billed_cost": "5"}]
    row = allocations(tmp_path)[0]
    assert (row["model"], row["channel"], row["call_source"]) == ("qwen-max", "app", "api")


def test_mapping_with_sharing_through_the_command_line(tmp_path):
    write(tmp_path / "src", V2_DIR.format(ts="20260520120000") + ".csv", v2_csv([
        v2_row(K1, "3"), v2_row("2300002;llm-ws0000000000000a;qwen-max;input_token;;0", "1"),
        v2_row(CONSOLE, "1"),
    ]))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('cost_centers:\n  search: {api_keys: ["2100001"]}\n  research: {api_keys: ["2300002"]}\n'
                       "shared_costs: {console: proportional}\n")
    assert run(tmp_path, "--mapping", str(mapping)) == 0
    rows = allocations(tmp_path)
    assert total(rows, cost_center="search") == Decimal("3.75")
    assert total(rows, cost_center="research") == Decimal("1.25")
    assert manifest(tmp_path)["mapping_version"] != "none"


def test_rerun_rewrites_nothing_and_changed_mapping_reallocates(tmp_path, capsys):
    write(tmp_path / "src", V2_DIR.format(ts="20260520120000") + ".csv", v2_csv([v2_row(K1, "3")]))
    assert run(tmp_path) == 0
    files = sorted((tmp_path / "wh").rglob("*.*"))
    before = {p: p.stat().st_mtime_ns for p in files}
    capsys.readouterr()
    assert run(tmp_path) == 0
    assert "nothing rewritten" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in files} == before
    mapping = tmp_path / "m.yaml"
    mapping.write_text('cost_centers: {search: {api_keys: ["2100001"]}}\n')
    assert run(tmp_path, "--mapping", str(mapping)) == 0
    assert {r["cost_center"] for r in allocations(tmp_path)} == {"search"}
    lines = tmp_path / "wh/lines/billing_month=2026-05/lines.parquet"
    assert lines.stat().st_mtime_ns == before[lines]  # identical bytes are not rewritten


def test_ingest_then_allocate(tmp_path):
    write(tmp_path / "src", V2_DIR.format(ts="20260520120000") + ".csv", v2_csv([v2_row(K1, "3"), v2_row(CONSOLE, "1")]))
    assert main(["ingest", "--source", str(tmp_path / "src"), "--warehouse", str(tmp_path / "wh"),
                 "--month", "2026-05"]) == 0
    assert manifest(tmp_path)["allocated"] is False
    mapping = tmp_path / "m.yaml"
    mapping.write_text('cost_centers: {search: {api_keys: ["2100001"]}}\nshared_costs: {console: even}\n')
    assert main(["allocate", "--warehouse", str(tmp_path / "wh"), "--month", "2026-05",
                 "--mapping", str(mapping)]) == 0
    assert manifest(tmp_path)["allocated"] is True
    assert total(allocations(tmp_path), cost_center="search") == Decimal("4")


BAD_INPUTS = {
    "truncated zip": (V2_DIR.format(ts="20260520120000") + ".zip",
                      lambda: zip_of({"a.csv": v2_csv([v2_row(K1, "1")] * 50)})[:-40],
                      "not a readable zip archive"),
    "missing column": (V2_DIR.format(ts="20260520120000") + ".csv",
                       lambda: v2_csv([v2_row(K1, "1")], drop=["payable"]),
                       "missing column(s): billed_cost"),
    "non-numeric amount": (V2_DIR.format(ts="20260520120000") + ".csv",
                           lambda: v2_csv([v2_row(K1, "1"), v2_row(K1, "1"), v2_row(K1, "12,5x", list_cost="1", price="1")]),
                           "line 4, field '应付信息/应付金额（含税）': '12,5x' is not a number"),
    "non-numeric list price": (V2_DIR.format(ts="20260520120000") + ".csv",
                               lambda: v2_csv([v2_row(K1, "1"), v2_row(K1, "1", price="n/a")]),
                               "line 3, field '定价信息/官网目录价': 'n/a' is not a price"),
    "empty file": (V2_DIR.format(ts="20260520120000") + ".csv", lambda: b"", "the file is empty"),
    "bad date": (V2_DIR.format(ts="20260520120000") + ".csv",
                 lambda: v2_csv([v2_row(K1, "1", date="2026051"), ]), "line 2, field '账单信息/账单日期'"),
    "no such day": (V2_DIR.format(ts="20260520120000") + ".csv",
                    lambda: v2_csv([v2_row(K1, "1"), v2_row(K1, "1", date="20260231")]),
                    "line 3, field '账单信息/账单日期': '20260231' is not a date"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_a_precise_message_and_keeps_previous_outputs(tmp_path, capsys, case):
    key, make, expected = BAD_INPUTS[case]
    good = V2_DIR.format(ts="20260510120000") + ".csv"
    write(tmp_path / "src", good, v2_csv([v2_row(K1, "1")]))
    assert run(tmp_path) == 0
    published = published_files(tmp_path / "wh")
    write(tmp_path / "src", key, make())
    capsys.readouterr()
    assert run(tmp_path) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert key in err
    assert "Traceback" not in err
    assert published_files(tmp_path / "wh") == published


def test_no_bills_for_the_month_is_exit_2(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    assert run(tmp_path) == 2
    assert "no Model Studio bill for 2026-05" in capsys.readouterr().err


def test_bad_month_and_bad_mapping_exit_2(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    assert run(tmp_path, month="2026-5") == 2
    assert "month '2026-5' is not YYYY-MM" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("cost_centers: {a: {owners: [nope]}}")
    assert run(tmp_path, "--mapping", str(bad)) == 2
    assert "not an email address" in capsys.readouterr().err


def test_a_damaged_manifest_stops_the_run_until_force_rebuilds_the_month(tmp_path, capsys):
    write(tmp_path / "src", V2_DIR.format(ts="20260510120000") + ".csv", v2_csv([v2_row(K1, "1.25")]))
    assert run(tmp_path) == 0
    target = tmp_path / "wh/manifests/billing_month=2026-05/manifest.json"
    target.write_text(target.read_text().replace('"status": "open"', '"status": "half-done"'))
    capsys.readouterr()
    assert run(tmp_path) == 2
    err = capsys.readouterr().err
    assert "manifests/billing_month=2026-05/manifest.json, field 'status': 'half-done' is not one of" in err
    assert "chargeback run --force" in err and "Traceback" not in err
    assert run(tmp_path, "--force") == 0
    assert manifest(tmp_path)["status"] == "open" and manifest(tmp_path)["totals"] == {"CNY": "1.25"}


def as_published_before(warehouse: Path, dropped: tuple[str, ...], *, schema_version: int) -> None:
    """Make the month look as an earlier schema published it: its tables at their table keys without
    ``dropped``, a manifest naming their hashes and no content-addressed objects (those came with schema 3)."""
    store = LocalObjectStore(warehouse)
    published = read_manifest(store, "2026-05")
    assert published is not None
    outputs = dict(published.outputs)
    for name in ("lines/billing_month=2026-05/lines.parquet", "allocations/billing_month=2026-05/allocations.parquet"):
        path = warehouse / name
        table = pq.read_table(path)
        pq.write_table(table.drop_columns([c for c in dropped if c in table.column_names]), path)
        outputs[name] = sha256(path.read_bytes())
    write_manifest(store, published.replace(outputs=outputs, objects={}, schema_version=schema_version))


def test_a_month_published_before_the_payer_column_reads_and_is_reallocated_only_after_a_rerun(tmp_path, capsys):
    write(tmp_path / "src", V2_DIR.format(ts="20260510120000") + ".csv", v2_csv([v2_row(K1, "1.25")]))
    assert run(tmp_path) == 0
    store = LocalObjectStore(tmp_path / "wh")
    as_published_before(tmp_path / "wh", ("payer_account_id",), schema_version=1)
    old = read_allocations(store, "2026-05")
    assert list(old["payer_account_id"]) == [""] and list(old["account_id"]) == ["1000000000000001"]
    capsys.readouterr()
    assert main(["allocate", "--warehouse", str(tmp_path / "wh"), "--month", "2026-05"]) == 2
    assert "ingested by an older version" in capsys.readouterr().err
    assert run(tmp_path, "--force") == 0
    assert main(["allocate", "--warehouse", str(tmp_path / "wh"), "--month", "2026-05"]) == 0
    assert {r["payer_account_id"] for r in allocations(tmp_path)} == {"1000000000000001"}


SCHEMA_3_COLUMNS = ("batch", "thinking", "account_name", "payer_account_name", "region", "commitment_list_cost",
                    "commitment_after_deduction", "commitment_deducted", "commitment_covered_cost", "effective_cost")


def test_a_month_published_before_schema_3_reads_with_its_columns(tmp_path):
    write(tmp_path / "src", V2_DIR.format(ts="20260510120000") + ".csv", v2_csv([v2_row(K1, "1.25")]))
    assert run(tmp_path) == 0
    store = LocalObjectStore(tmp_path / "wh")
    as_published_before(tmp_path / "wh", SCHEMA_3_COLUMNS, schema_version=2)
    old = read_allocations(store, "2026-05")
    assert old is not None
    assert (list(old["batch"]), list(old["region"]), list(old["effective_cost"])) == ([False], [""],
                                                                                       [Decimal("1.25")])
    assert list(old["commitment_covered_cost"]) == [Decimal(0)]
    lines = read_lines(store, "2026-05")
    assert lines is not None and list(lines["commitment_deducted"]) == [Decimal(0)]
    assert "effective_cost" not in lines.columns  # a lines table gains only the line columns
