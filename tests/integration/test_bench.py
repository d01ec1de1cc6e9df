"""The benchmark's own parts: its bill generator, the DuckDB peer, the measuring and the harness's checks.

Speed is never asserted here (that is what ``make bench`` reports); what is asserted is that the benchmark
measures what it says: data shaped like the real export with exact expected results, peers that reproduce
them, peak memory that belongs to the child, and a harness that fails on a wrong total.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import billgen  # noqa: E402
import grain  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
import run_bench  # noqa: E402

SPEC = billgen.BillSpec(rows=3_000, member_rows=1_000, seed=11)
REAL = billgen.REAL_EXPORT


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> billgen.Dataset:
    return billgen.write_dataset(SPEC, tmp_path_factory.mktemp("bench") / "rows-3000")


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.reader(stream))


def test_generated_bills_are_laid_out_as_a_v2_push_in_both_forms(dataset: billgen.Dataset) -> None:
    stem = "1000000000000001_2684201000001_consumeDetailBillV2_202605"
    assert [p.name for p in dataset.csv_paths] == [f"{stem}_{i}.csv" for i in (1, 2, 3)]
    assert all(p.parent == dataset.plain_root / "202605" / "20260601120000" for p in dataset.csv_paths)
    assert dataset.zip_path == dataset.zip_root / "202605" / "20260601120000" / f"{stem}.zip"
    with zipfile.ZipFile(dataset.zip_path) as archive:
        assert archive.namelist() == [p.name for p in dataset.csv_paths]
        for path in dataset.csv_paths:
            assert archive.read(path.name) == path.read_bytes()  # the same bytes in both forms
    assert dataset.csv_bytes == sum(p.stat().st_size for p in dataset.csv_paths)


def test_generated_rows_have_the_real_exports_shape(dataset: billgen.Dataset) -> None:
    real = read_rows(REAL)
    header = real[0]

    def shape(row: list[str]) -> tuple[str, str, bool]:
        return row[header.index("账单信息/费用类型")], row[header.index("产品信息/计费项Code")], \
            row[header.index("优惠信息/优惠金额")] != "0"

    real_cells = defaultdict(set)  # which columns are filled, per kind of row
    for row in real[1:]:
        real_cells[shape(row)].add(tuple(i for i, cell in enumerate(row) if cell))
    ids: set[str] = set()
    kinds: set[tuple[str, str, bool]] = set()
    for path in dataset.csv_paths:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        rows = read_rows(path)
        assert rows[0] == header and len(header) == 61
        for row in rows[1:]:
            assert len(row) == 61
            ids.add(row[0])
            for name in ("用量信息/用量详情", "费用信息/计费过程", "优惠信息/优惠详情", "定价信息/目录价因子"):
                if row[header.index(name)]:
                    json.loads(row[header.index(name)])
            if row[header.index("产品信息/产品Code")] == "sfm" and shape(row) in real_cells:
                assert tuple(i for i, cell in enumerate(row) if cell) in real_cells[shape(row)], row
            kinds.add(shape(row))
    assert len(ids) == SPEC.rows  # every bill line ID once
    assert {("免费额度", "token_number", False), ("云资源按量费用", "token_number", False),
            ("云资源按量费用", "image_number", False), ("云资源按量费用", "video_duration", True),
            ("云资源按量费用", "Storage", False)} <= kinds


def test_expected_grain_is_what_the_csv_rows_add_up_to(dataset: billgen.Dataset) -> None:
    """An independent re-count with the csv module and Decimal: the generator's totals are exact."""
    header = read_rows(REAL)[0]
    col = {name: i for i, name in enumerate(header)}
    rows: list[dict[str, object]] = []
    for path in dataset.csv_paths:
        for row in read_rows(path)[1:]:
            if row[col["产品信息/产品Code"]] != "sfm":
                continue
            key, workspace, model, usage_type, channel, _ = row[col["资源信息/实例ID（出账粒度）"]].split(";")
            day = row[col["账单信息/账单日期"]]
            rows.append({
                "billing_date": f"{day[:4]}-{day[4:6]}-{day[6:]}", "account_id": row[col["身份信息/资源归属账号ID"]],
                "workspace_id": workspace, "api_key_id": key, "model": model, "usage_type": usage_type,
                "channel": channel, "fee_type": row[col["账单信息/费用类型"]], "currency": row[col["定价信息/定价币种"]],
                "usage_unit": row[col["用量信息/用量单位"]], "list_unit_price": row[col["定价信息/官网目录价"]],
                "usage": Decimal(row[col["用量信息/用量"]]), "list_cost": Decimal(row[col["费用信息/目录总价"]]),
                "discount": Decimal(row[col["优惠信息/优惠金额"]]),
                "coupon": Decimal(row[col["优惠券抵扣信息/优惠券抵扣金额"]]),
                "billed_cost": Decimal(row[col["应付信息/应付金额（含税）"]]), "line_count": 1,
            })
    assert grain.rows_to_grain(rows) == grain.expected_grain(dataset)
    expected = dataset.expected
    assert expected["line_count"] == expected["rows_model_studio"] == len(rows)
    assert expected["rows"] == SPEC.rows and expected["rows_other_product"] == SPEC.other_product_rows
    assert len(expected["billed_cost_by_account"]) == 3
    assert Decimal(expected["discount"]["CNY"]) > 0 and expected["rows_free_quota"] > 0


def test_the_same_spec_gives_the_same_bytes(dataset: billgen.Dataset, tmp_path: Path) -> None:
    again = billgen.write_dataset(SPEC, tmp_path / "again")
    assert [p.read_bytes() for p in again.csv_paths] == [p.read_bytes() for p in dataset.csv_paths]
    assert billgen.load_dataset(SPEC, again.root) is not None
    assert billgen.load_dataset(billgen.BillSpec(rows=3_001, member_rows=1_000, seed=11), again.root) is None


@pytest.mark.parametrize("form", ["plain", "zip"])
def test_duckdb_peer_reproduces_the_expected_grain(dataset: billgen.Dataset, form: str, tmp_path: Path) -> None:
    out, scratch = tmp_path / "result.parquet", tmp_path / "scratch"
    scratch.mkdir()
    push = (dataset.plain_root if form == "plain" else dataset.zip_root) / "202605" / "20260601120000"
    done = subprocess.run([sys.executable, str(BENCH / "peers" / "duckdb_query.py"), "--out", str(out), str(push)],
                          capture_output=True, text=True, check=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(scratch)})
    report_line = json.loads(done.stdout)
    assert report_line["files"] == 3 and report_line["engine"].startswith("duckdb ")
    assert report_line["unpacked_members"] == (3 if form == "zip" else 0)
    assert grain.compare(grain.rows_to_grain(grain.read_parquet_rows(out)), grain.expected_grain(dataset)) == []
    assert str(pq.read_schema(out).field("billed_cost").type) == "decimal128(38, 12)"
    assert list(scratch.iterdir()) == []  # the unpacked members are removed again


def test_compare_names_what_differs() -> None:
    row = {"billing_date": "2026-05-01", "account_id": "1", "workspace_id": "w", "api_key_id": "", "model": "m",
           "usage_type": "u", "channel": "bmp", "fee_type": "免费额度", "currency": "CNY", "usage_unit": "张",
           "list_unit_price": "0.20", "usage": Decimal(1), "list_cost": Decimal("0.2"), "discount": Decimal(0),
           "coupon": Decimal(0), "billed_cost": Decimal("0.2"), "line_count": 1}
    want = grain.rows_to_grain([row])
    assert grain.compare(grain.rows_to_grain([{**row, "list_unit_price": "0.2"}]), want) == []  # 0.20 == 0.2
    problems = grain.compare(grain.rows_to_grain([{**row, "billed_cost": Decimal("0.2000001")}]), want)
    assert problems[0].endswith("1 with other sums") and "0.2000001" in problems[1]
    assert "1 missing" in grain.compare({}, want)[0]


def test_peak_memory_is_the_childs_own_even_when_the_harness_is_large() -> None:
    ballast = bytearray(400 * 1024 * 1024)  # the harness holds 400 MB; a forked child would inherit the count
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    small = measure.measure([sys.executable, "-c", "pass"], timeout=60)
    big = measure.measure([sys.executable, "-c", "x = bytearray(200 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"],
                          timeout=60)
    del ballast
    assert small.returncode == 0 and small.peak_rss_mb < 100
    assert 200 < big.peak_rss_mb < 350 and big.cpu_seconds > 0 and big.seconds > 0
    failed = measure.measure([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], timeout=60)
    assert failed.returncode == 3 and failed.stdout == "out\n"
    slow = measure.measure([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert slow.returncode == -9 and slow.seconds < 10


def test_contenders_get_the_environment_the_harness_was_started_with(monkeypatch: pytest.MonkeyPatch) -> None:
    started_with = measure.launch_environment()
    assert started_with["PATH"] == os.environ["PATH"]
    # what importing polars does to the harness: it writes its allocator default into os.environ, which a
    # contender would then inherit as if a user had set it (and chargeback keeps what a user sets)
    monkeypatch.setenv("_RJEM_MALLOC_CONF", "dirty_decay_ms:500,muzzy_decay_ms:1000")
    monkeypatch.setenv("CHARGEBACK_BENCH_SET_LATER", "1")
    spawner = measure.Spawner()
    try:
        run = spawner.measure([sys.executable, "-c", "import json, os; print(json.dumps([os.environ.get(name) for "
                               "name in ('CHARGEBACK_BENCH_SET_LATER', '_RJEM_MALLOC_CONF', 'PATH')]))"], timeout=60)
    finally:
        spawner.close()
    assert json.loads(run.stdout) == [None, started_with.get("_RJEM_MALLOC_CONF"), os.environ["PATH"]]


FAKE_PIPELINE = '''
import json, sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse
import pyarrow as pa, pyarrow.parquet as pq

args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
warehouse, month = Path(urlparse(args["--warehouse"]).path), args["--month"]
rows = [json.loads(line) for line in open(sys.argv[1].split("=", 1)[1], encoding="utf-8")]
fee = {"云资源按量费用": "pay_as_you_go", "免费额度": "free_quota"}
amounts = ("usage", "list_cost", "discount", "coupon", "billed_cost")
rows[0]["billed_cost"] = str(Decimal(rows[0]["billed_cost"]) + Decimal("OFFSET"))
table = pa.table({
    **{k: [r[k] if k != "fee_type" else fee[r[k]] for r in rows] for k in rows[0] if k not in amounts + ("line_count",)},
    **{k: pa.array([Decimal(r[k]) for r in rows], pa.decimal128(38, 12)) for k in amounts},
    "line_count": [r["line_count"] for r in rows],
})
(warehouse / "lines" / f"billing_month={month}").mkdir(parents=True)
pq.write_table(table, warehouse / "lines" / f"billing_month={month}" / "lines.parquet")
total = sum(Decimal(r["billed_cost"]) for r in rows)
counts = json.loads(sys.argv[1].split("=", 1)[0])
(warehouse / "manifests" / f"billing_month={month}").mkdir(parents=True)
(warehouse / "manifests" / f"billing_month={month}" / "manifest.json").write_text(json.dumps(
    {"totals": {"CNY": format(total.normalize(), "f")}, "counts": counts}))
'''


@pytest.mark.parametrize(("offset", "agrees"), [("0", True), ("0.000001", False)])
def test_harness_measures_interleaved_and_fails_on_a_wrong_total(
        tmp_path: Path, dataset: billgen.Dataset, offset: str, agrees: bool) -> None:
    """A stand-in pipeline that writes the expected lines (or one cent-fraction off) in the warehouse layout."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    spec = billgen.BillSpec(rows=3_000)
    billgen.write_dataset(spec, data_dir / "rows-3000")  # reused by the harness: same spec, same generator
    kept = billgen.load_dataset(spec, data_dir / "rows-3000")
    assert kept is not None
    counts = json.dumps({"model_studio_rows": kept.expected["rows_model_studio"],
                         "other_product_rows": kept.expected["rows_other_product"]}).replace(" ", "")
    fake = tmp_path / "fake_pipeline.py"
    fake.write_text(FAKE_PIPELINE.replace("OFFSET", offset), encoding="utf-8")
    out = tmp_path / "results.json"
    code = run_bench.main([
        "--sizes", "3000", "--repeat", "2", "--contenders", "ours,duckdb", "--sections", "month",
        "--data-dir", str(data_dir), "--out", str(out), "--keep-data",
        "--chargeback", f"{sys.executable} {fake} '{counts}={kept.grain_path}'"])
    document = json.loads(out.read_text(encoding="utf-8"))
    blocks = document["sections"]["month"]["results"]
    assert [(b["rows"], b["form"]) for b in blocks] == [(3000, "plain"), (3000, "zip")]
    for block in blocks:
        ours, duck = block["contenders"]["ours"], block["contenders"]["duckdb"]
        assert len(ours["runs"]) == len(duck["runs"]) == 2
        assert duck["same_totals"] is True and block["faster_peer"] == "duckdb"
        assert ours["same_totals"] is agrees
        assert ours["vs_faster_peer"] == round(ours["median_seconds"] / duck["median_seconds"], 2)
        assert all(r["returncode"] == 0 and r["peak_rss_mb"] > 0 and r["load_after"] >= 0 for r in ours["runs"])
    assert code == (0 if agrees else 1)
    assert (data_dir / "rows-3000" / "dataset.json").exists()  # --keep-data


def test_harness_reports_a_failing_pipeline_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = run_bench.main(["--sizes", "2000", "--repeat", "1", "--forms", "plain", "--contenders", "ours,duckdb",
                           "--sections", "month", "--data-dir", str(tmp_path / "data"), "--out", str(out),
                           "--chargeback", f"{sys.executable} -c 'import sys; sys.exit(3)'"])
    (block,) = json.loads(out.read_text(encoding="utf-8"))["sections"]["month"]["results"]
    assert code == 1
    assert block["contenders"]["ours"]["error"].startswith("exit 3")
    assert block["contenders"]["duckdb"]["same_totals"] is True
    assert not (tmp_path / "data" / "rows-2000").exists()  # removed without --keep-data


def test_the_real_pipeline_runs_in_the_harness_and_the_readme_block_is_regenerated(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = run_bench.main(["--sizes", "2000", "--repeat", "1", "--forms", "zip", "--contenders", "ours",
                           "--data-dir", str(tmp_path / "data"), "--out", str(out), "--startup-repeat", "1",
                           "--warehouse-months", "2", "--warehouse-rows", "3000", "--query-repeat", "2"])
    document = json.loads(out.read_text(encoding="utf-8"))
    assert code == 0
    (block,) = document["sections"]["month"]["results"]
    assert block["contenders"]["ours"]["same_totals"] is True
    assert document["sections"]["startup"]["problems"] == []
    queried = document["sections"]["warehouse"]
    assert queried["problems"] == [] and queried["groups"] > 0  # every answer matched the generator's totals
    assert len(queried["costs"]["runs"]) == 2 and queried["duckdb_allocations"]["median_seconds"] > 0
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{report.BEGIN}\nold figures\n{report.END}\nafter\n", encoding="utf-8")
    report.update_readme(readme, document)
    text = readme.read_text(encoding="utf-8")
    assert "old figures" not in text and text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
    assert "| 2,000 | zip" in text and "`chargeback --help`" in text and "Asking the warehouse" in text
    assert report.BEGIN in (ROOT / "README.md").read_text(encoding="utf-8")


def test_targets_are_judged_from_the_medians() -> None:
    def block(rows: int, form: str, ours: float, duck: float, polars: float, rss: float) -> dict[str, object]:
        contenders = {"ours": {"median_seconds": ours, "peak_rss_mb": rss},
                      "duckdb": {"median_seconds": duck}, "polars": {"median_seconds": polars}}
        fastest = min(duck, polars)
        contenders["ours"]["vs_faster_peer"] = round(ours / fastest, 2)
        return {"rows": rows, "form": form, "contenders": contenders}

    results = [block(1_000_000, "plain", 2.0, 2.5, 2.2, 390), block(1_000_000, "zip", 3.0, 2.9, 4.0, 410),
               block(10_000_000, "plain", 23.0, 21.0, 25.0, 380)]
    verdicts = {t["target"]: (t["measured"], t["ok"]) for t in run_bench.month_targets(results)}
    assert verdicts["ours / faster peer, plain CSVs, 1M rows"] == (0.91, True)
    assert verdicts["ours / faster peer, plain CSVs, 10M rows"] == (1.1, False)
    assert verdicts["ours at 10M / ours at 1M rows (linear: within 11x)"] == (11.5, False)
    assert verdicts["ours / DuckDB (unzip + query), zip as pushed, 1M rows"] == (1.03, False)
    assert verdicts["ours / DuckDB (unzip + query), zip as pushed, 10M rows"] == (None, None)
    assert verdicts["ours peak RSS, 1M rows (both forms, worst run)"] == (410, False)
    assert verdicts["ours peak RSS, 10M rows (both forms, worst run)"] == (380, True)
