"""The hand-written DuckDB baseline the pipeline is measured against.

What a user would write instead of the pipeline: ONE SQL query over the bill CSV files that keeps Model Studio
rows (产品Code = 'sfm'), splits the instance ID with ``split_part`` and sums usage, list cost, discount and
payable as DECIMAL(38,12) by billing date, workspace, API key, model, usage type and channel (and currency, so
totals per currency stay apart).

DuckDB cannot read zip archives, so zipped members are first streamed to a temporary folder; that extraction
is timed on its own. The header line of the first file is read once to pin all columns as VARCHAR
(``auto_detect = false``): DuckDB's sniffer would otherwise sample 20,480 of these 1.5 KB rows per file,
which costs more than the query at small sizes. Amounts are cast to DECIMAL in the query, so nothing is
guessed. The result comes back as an Arrow table (exact decimals). The script prints one JSON object:
timings, row and group counts, and exact totals (payable per currency, per workspace, per API key, per
date, per model, per channel; list cost and discount per currency).

    python bench/duckdb_baseline.py DIR_OR_FILE... [--threads N] [--output result.parquet] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

# Column names of the v2 bill in both header languages (the English form is the one bench data uses when
# generated with header="en"; see chargeback.synth.HEADER_EN).
COLUMNS: dict[str, dict[str, str]] = {
    "zh": {
        "product_code": "产品信息/产品Code",
        "billing_date": "账单信息/账单日期",
        "instance_id": "资源信息/实例ID（出账粒度）",
        "currency": "定价信息/定价币种",
        "usage": "用量信息/用量",
        "list_cost": "费用信息/目录总价",
        "discount": "优惠信息/优惠金额",
        "payable": "应付信息/应付金额（含税）",
    },
    "en": {
        "product_code": "ProductDetails/ProductCode",
        "billing_date": "BillingDetails/BillingDate",
        "instance_id": "ResourceDetails/InstanceId",
        "currency": "PricingDetails/Currency",
        "usage": "UsageDetails/Usage",
        "list_cost": "FeeDetails/GrossAmount",
        "discount": "DiscountDetails/DiscountAmount",
        "payable": "PayableDetails/PayableAmount",
    },
}

MODEL_STUDIO = "sfm"


def build_query(header: Sequence[str]) -> str:
    """The one query for files with this header; ``$files`` is the list of CSV paths."""
    language = "en" if COLUMNS["en"]["instance_id"] in header else "zh"
    c = {key: '"' + name.replace('"', '""') + '"' for key, name in COLUMNS[language].items()}
    columns = ", ".join("'" + name.replace("'", "''") + "': 'VARCHAR'" for name in header)
    iid = c["instance_id"]

    def money(column: str) -> str:
        return f"sum(CAST(NULLIF({c[column]}, '') AS DECIMAL(38, 12)))"

    return f"""
SELECT
    strptime({c["billing_date"]}, '%Y%m%d')::DATE AS billing_date,
    split_part({iid}, ';', 2) AS workspace_id,
    split_part({iid}, ';', 1) AS api_key_id,
    split_part({iid}, ';', 3) AS model,
    split_part({iid}, ';', 4) AS usage_type,
    split_part({iid}, ';', 5) AS channel,
    {c["currency"]} AS currency,
    {money("usage")} AS usage,
    {money("list_cost")} AS list_cost,
    {money("discount")} AS discount,
    {money("payable")} AS billed_cost,
    count(*) AS line_count
FROM read_csv($files, header = true, delim = ',', quote = '"', escape = '"', auto_detect = false,
              columns = {{{columns}}})
WHERE {c["product_code"]} = '{MODEL_STUDIO}'
GROUP BY ALL
ORDER BY ALL
"""


def find_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every .zip and .csv file named or found (recursively) under the given paths, in name order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.suffix.lower() in (".zip", ".csv"))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    if not found:
        raise FileNotFoundError("no .zip or .csv bill files found")
    return found


def extract(inputs: Sequence[Path], workdir: Path) -> tuple[list[Path], int]:
    """CSV paths DuckDB can read: zip members streamed into ``workdir``, plain CSVs as they are.

    Returns the paths and the total CSV size in bytes.
    """
    csv_paths: list[Path] = []
    total = 0
    for n, path in enumerate(inputs):
        if path.suffix.lower() != ".zip":
            csv_paths.append(path)
            total += path.stat().st_size
            continue
        with zipfile.ZipFile(path) as archive:
            for m, info in enumerate(archive.infolist()):
                if info.is_dir() or not info.filename.lower().endswith(".csv"):
                    continue
                target = workdir / f"{n:04d}-{m:04d}-{Path(info.filename).name}"
                with archive.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                csv_paths.append(target)
                total += info.file_size
    return csv_paths, total


def read_header(csv_path: Path) -> list[str]:
    """The column names on the first line (BOM dropped)."""
    with open(csv_path, encoding="utf-8-sig", newline="") as stream:
        return next(csv.reader(stream))


def run_query(csv_paths: Sequence[Path], *, threads: int | None = None) -> Any:
    """Run the query over ``csv_paths``; the result as a pyarrow Table with decimal128(38, 12) amounts."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
        files = [str(p) for p in csv_paths]
        return con.sql(build_query(read_header(csv_paths[0])), params={"files": files}).to_arrow_table()
    finally:
        con.close()


def summarize(table: Any) -> dict[str, Any]:
    """Exact totals from the grouped result (Python Decimals; the amounts never pass through float)."""
    def add(into: dict[str, Decimal], key: str, value: Decimal | None) -> None:
        into[key] = into.get(key, Decimal(0)) + (value or Decimal(0))

    payable: dict[str, Decimal] = {}
    list_cost: dict[str, Decimal] = {}
    discount: dict[str, Decimal] = {}
    by_workspace: dict[str, Decimal] = {}
    by_key: dict[str, Decimal] = {}
    by_date: dict[str, Decimal] = {}
    by_model: dict[str, Decimal] = {}
    by_channel: dict[str, Decimal] = {}
    rows = 0
    columns = table.to_pydict()
    for i in range(table.num_rows):
        cost = columns["billed_cost"][i]
        currency = columns["currency"][i]
        add(payable, currency, cost)
        add(list_cost, currency, columns["list_cost"][i])
        add(discount, currency, columns["discount"][i])
        add(by_workspace, columns["workspace_id"][i], cost)
        add(by_key, columns["api_key_id"][i], cost)
        add(by_date, columns["billing_date"][i].isoformat(), cost)
        add(by_model, columns["model"][i], cost)
        add(by_channel, columns["channel"][i], cost)
        rows += columns["line_count"][i]
    return {
        "groups": table.num_rows,
        "rows_model_studio": rows,
        "payable": payable,
        "list_cost": list_cost,
        "discount": discount,
        "payable_by_workspace": dict(sorted(by_workspace.items())),
        "payable_by_api_key": dict(sorted(by_key.items())),
        "payable_by_date": dict(sorted(by_date.items())),
        "payable_by_model": dict(sorted(by_model.items())),
        "payable_by_channel": dict(sorted(by_channel.items())),
    }


def plain(value: Decimal) -> str:
    """A Decimal in plain notation without trailing zeros."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def run(paths: Sequence[str | os.PathLike[str]], *, threads: int | None = None,
        output: str | None = None) -> dict[str, Any]:
    """Extract, query and summarize; the report the command line prints (Decimals left as Decimals)."""
    import duckdb

    started = time.perf_counter()
    inputs = find_inputs(paths)
    with tempfile.TemporaryDirectory(prefix="duckdb-baseline-") as tmp:
        t0 = time.perf_counter()
        csv_paths, csv_bytes = extract(inputs, Path(tmp))
        extract_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = run_query(csv_paths, threads=threads)
        query_seconds = time.perf_counter() - t0
    if output:
        import pyarrow.parquet as pq

        pq.write_table(table, output)
    report: dict[str, Any] = {
        "engine": f"duckdb {duckdb.__version__}",
        "threads": int(threads or os.cpu_count() or 1),
        "inputs": [str(p) for p in inputs],
        "csv_files": len(csv_paths),
        "csv_bytes": csv_bytes,
        "extract_seconds": round(extract_seconds, 4),
        "query_seconds": round(query_seconds, 4),
        "seconds": 0.0,
    }
    report.update(summarize(table))
    report["seconds"] = round(time.perf_counter() - started, 4)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="bill .zip/.csv files or folders holding them")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--output", help="write the grouped result to this Parquet file")
    parser.add_argument("--json", dest="json_path", help="also write the report to this file")
    args = parser.parse_args(argv)
    report = run(args.paths, threads=args.threads, output=args.output)
    text = json.dumps(report, ensure_ascii=False, indent=2, default=plain)
    if args.json_path:
        Path(args.json_path).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
