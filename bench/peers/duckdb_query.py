"""The DuckDB peer: the one SQL query a competent user writes instead of the pipeline.

``read_csv`` of the bill CSVs (every column declared VARCHAR from the header line, so nothing is guessed and
no sniffer samples rows), keep Model Studio (产品Code 'sfm') rows of the month, ``split_part`` the instance
ID, sum usage, list cost, discount, coupon and payable as exact DECIMAL(38, 12) by the allocation grain, and
``COPY`` the result to Parquet. Zips are unpacked first by ``inputs.csv_files`` (timed: it is part of the
job). Prints one JSON line: engine, threads, files and the unpack and query seconds.

    python bench/peers/duckdb_query.py --out result.parquet [--month 2026-05] BILL_OR_FOLDER...
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import duckdb
from inputs import csv_files

INSTANCE_ID = "资源信息/实例ID（出账粒度）"


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def query(files: list[Path], out: Path, month: str) -> str:
    """The COPY statement: the grouped month written to ``out``."""
    with files[0].open(encoding="utf-8-sig", newline="") as stream:
        header = next(csv.reader(stream))
    columns = ", ".join(f"{sql_text(name)}: 'VARCHAR'" for name in header)
    paths = ", ".join(sql_text(str(p)) for p in files)
    iid = f'"{INSTANCE_ID}"'

    def money(column: str) -> str:
        return f"sum(CAST(NULLIF(\"{column}\", '') AS DECIMAL(38, 12)))"

    return f"""
COPY (
    SELECT
        strptime("账单信息/账单日期", '%Y%m%d')::DATE AS billing_date,
        "身份信息/资源归属账号ID" AS account_id,
        split_part({iid}, ';', 2) AS workspace_id,
        split_part({iid}, ';', 1) AS api_key_id,
        split_part({iid}, ';', 3) AS model,
        split_part({iid}, ';', 4) AS usage_type,
        split_part({iid}, ';', 5) AS channel,
        "账单信息/费用类型" AS fee_type,
        "定价信息/定价币种" AS currency,
        "用量信息/用量单位" AS usage_unit,
        "定价信息/官网目录价" AS list_unit_price,
        {money("用量信息/用量")} AS usage,
        {money("费用信息/目录总价")} AS list_cost,
        {money("优惠信息/优惠金额")} AS discount,
        {money("优惠券抵扣信息/优惠券抵扣金额")} AS coupon,
        {money("应付信息/应付金额（含税）")} AS billed_cost,
        count(*) AS line_count
    FROM read_csv([{paths}], header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
                  columns = {{{columns}}})
    WHERE "产品信息/产品Code" = 'sfm' AND "账单信息/账单月份" = {sql_text(month.replace("-", ""))}
    GROUP BY ALL
) TO {sql_text(str(out))} (FORMAT parquet)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bills", nargs="+", help="bill .csv/.zip files or folders holding them")
    parser.add_argument("--out", required=True, help="the Parquet file to write")
    parser.add_argument("--month", default="2026-05")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with csv_files(args.bills, threads=args.threads) as files:
        unpacked = time.perf_counter()
        con = duckdb.connect()
        con.execute(f"SET threads = {args.threads}")
        con.execute(query(files, Path(args.out), args.month))
        con.close()
        done = time.perf_counter()
    print(json.dumps({"engine": f"duckdb {duckdb.__version__}", "threads": args.threads, "files": len(files),
                      "unpack_seconds": round(unpacked - started, 3), "query_seconds": round(done - unpacked, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
