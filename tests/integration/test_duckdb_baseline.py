"""The DuckDB baseline of the benchmark reproduces the generator's expected totals exactly."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chargeback.demo import synth
from chargeback.demo.synth import SynthSpec

pytest.importorskip("duckdb")

ROOT = Path(__file__).parents[2]
BASELINE = ROOT / "bench" / "duckdb_baseline.py"
REAL_BILL = Path("/work/shared/data/real-bills/1000000000000001-20260516105620_consumedetailbillv2.csv")

SPEC = SynthSpec(month="2026-05", rows=4_000, workspaces=3, api_keys=7, seed=5, other_product_rows=15)


def load_script(name: str, path: Path) -> ModuleType:
    """A bench/ script as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def load_baseline() -> ModuleType:
    return load_script("duckdb_baseline", BASELINE)


@pytest.fixture(scope="module")
def baseline() -> ModuleType:
    return load_baseline()


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> synth.V2Push:
    root = tmp_path_factory.mktemp("bills")
    return synth.write_v2_push(root, SPEC, uid="1000000000000001", files=3)


def nonzero(table: dict[str, Decimal]) -> dict[str, Decimal]:
    return {key: value for key, value in table.items() if value}


def test_baseline_equals_expected_totals_exactly(baseline: ModuleType, push: synth.V2Push) -> None:
    report: dict[str, Any] = baseline.run([push.zip_path.parent], threads=2)
    expected = synth.expected_totals(SPEC)
    assert report["csv_files"] == 3
    assert report["csv_bytes"] == push.csv_bytes
    assert report["rows_model_studio"] == expected["rows_model_studio"]
    for key in ("payable", "list_cost", "discount", "payable_by_workspace", "payable_by_api_key",
                "payable_by_model", "payable_by_channel"):
        assert report[key] == expected[key], key
    assert nonzero(report["payable_by_date"]) == nonzero(expected["payable_by_date"])
    # the other product's rows are left out
    assert expected["other_product_payable"]["CNY"] > 0
    assert report["payable"]["CNY"] == expected["payable"]["CNY"]


def test_baseline_groups_by_date_workspace_key_model_usage_type_channel(
    baseline: ModuleType, push: synth.V2Push, tmp_path: Path
) -> None:
    csv_paths, _ = baseline.extract(baseline.find_inputs([push.zip_path]), tmp_path)
    table = baseline.run_query(csv_paths, threads=1)
    assert table.column_names == [
        "billing_date", "workspace_id", "api_key_id", "model", "usage_type", "channel", "currency",
        "usage", "list_cost", "discount", "billed_cost", "line_count",
    ]
    assert str(table.schema.field("billed_cost").type) == "decimal128(38, 12)"
    keys = list(zip(*(table.column(c).to_pylist() for c in table.column_names[:7]), strict=True))
    assert len(keys) == len(set(keys))
    assert {row for row in table.column("channel").to_pylist()} == {"", "bmp"}


def test_baseline_reads_the_english_header_variant(baseline: ModuleType, tmp_path: Path) -> None:
    spec = SynthSpec(rows=1_500, workspaces=2, api_keys=3, seed=3, header="en")
    path = tmp_path / "english.csv"
    expected = synth.write_csv(path, spec)
    report = baseline.run([path])
    assert report["payable"] == expected["payable"]


def test_baseline_command_line_prints_exact_json(push: synth.V2Push, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(BASELINE), str(push.zip_path.parent), "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=120,
    )
    report = json.loads(done.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == report
    assert Decimal(report["payable"]["CNY"]) == synth.expected_totals(SPEC)["payable"]["CNY"]
    assert report["extract_seconds"] >= 0 and report["query_seconds"] >= 0


@pytest.mark.skipif(not REAL_BILL.exists(), reason="the shared real export is not on this machine")
def test_baseline_on_the_real_export(baseline: ModuleType) -> None:
    """Facts from the export's README: 156 lines, 57.477867 CNY, key 1234567 43.8, console 13.677867."""
    report = baseline.run([REAL_BILL])
    assert report["rows_model_studio"] == 156
    assert report["payable"] == {"CNY": Decimal("57.477867")}
    assert report["payable_by_api_key"] == {"": Decimal("13.677867"), "1234567": Decimal("43.8")}


# A stand-in for ``chargeback run`` that writes the warehouse outputs the benchmark reads, so the harness's
# measuring and cross-checking can be tested without the real pipeline. OFFSET skews its totals.
FAKE_PIPELINE = '''
import csv, io, json, sys, zipfile
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

assert sys.argv[1] == "run"
args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
source, warehouse = Path(urlparse(args["--source"]).path), Path(urlparse(args["--warehouse"]).path)
month = args["--month"]
totals, groups = {}, {}
for archive in sorted(source.rglob("*.zip")):
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            text = io.TextIOWrapper(zf.open(name), encoding="utf-8-sig", newline="")
            for row in csv.DictReader(text):
                if row["产品信息/产品Code"] != "sfm":
                    continue
                key, workspace = row["资源信息/实例ID（出账粒度）"].split(";")[:2]
                cur, cost = row["定价信息/定价币种"], Decimal(row["应付信息/应付金额（含税）"])
                totals[cur] = totals.get(cur, Decimal(0)) + cost
                groups[(cur, workspace, key)] = groups.get((cur, workspace, key), Decimal(0)) + cost
offset = Decimal("OFFSET")
totals = {cur: value + offset for cur, value in totals.items()}
manifests = warehouse / "manifests" / f"billing_month={month}"
allocations = warehouse / "exports" / f"billing_month={month}"
manifests.mkdir(parents=True)
allocations.mkdir(parents=True)
(manifests / "manifest.json").write_text(json.dumps({"totals": {c: str(v) for c, v in totals.items()}}))
with open(allocations / "allocations.csv", "w", newline="", encoding="utf-8") as out:
    writer = csv.writer(out)
    writer.writerow(["currency", "workspace_id", "api_key_id", "billed_cost"])
    for (cur, workspace, key), cost in sorted(groups.items()):
        writer.writerow([cur, workspace, key, str(cost)])
'''


def load_harness() -> ModuleType:
    return load_script("run_bench", ROOT / "bench" / "run_bench.py")


@pytest.mark.parametrize(("offset", "agrees"), [("0", True), ("0.0000001", False)])
def test_harness_measures_both_and_cross_checks_totals(tmp_path: Path, offset: str, agrees: bool) -> None:
    fake = tmp_path / "fake_pipeline.py"
    fake.write_text(FAKE_PIPELINE.replace("OFFSET", offset), encoding="utf-8")
    out = tmp_path / "results.json"
    harness = load_harness()
    code = harness.main(["--sizes", "2500", "--repeat", "1", "--out", str(out), "--files", "2",
                         "--data-dir", str(tmp_path / "data"), "--chargeback", f"{sys.executable} {fake}"])
    document = json.loads(out.read_text(encoding="utf-8"))
    (result,) = document["results"]
    assert result["rows"] == 2500 and result["files_in_zip"] == 2
    assert result["checks"]["duckdb_vs_expected"] is True
    assert result["checks"]["ours_vs_expected"] is agrees
    assert result["checks"]["ours_vs_duckdb"] is agrees
    assert code == (0 if agrees else 1)
    for side in ("ours", "duckdb"):
        run = result[side]["runs"][0]
        assert run["returncode"] == 0 and run["seconds"] > 0 and run["peak_rss_mb"] > 0
        assert run["cpu_seconds"] > 0
    assert result["ratios"]["wall"] > 0
    assert not (tmp_path / "data" / "rows-2500").exists()  # removed without --keep-data


def test_harness_reports_a_missing_pipeline_and_still_runs_duckdb(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = load_harness().main(["--sizes", "2000", "--repeat", "1", "--out", str(out),
                                "--data-dir", str(tmp_path / "data"),
                                "--chargeback", f"{sys.executable} -c 'import sys; sys.exit(3)'"])
    (result,) = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert code == 0
    assert result["ours"]["available"] is False and result["ours"]["error"].startswith("exit 3")
    assert result["checks"]["duckdb_vs_expected"] is True
    assert result["checks"]["ours_vs_expected"] is None
