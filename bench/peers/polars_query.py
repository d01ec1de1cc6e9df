"""The polars peer: a lazy scan and one group_by, what a competent polars user writes instead of the pipeline.

``scan_csv`` of the bill CSVs with every column as text (``infer_schema=False``: nothing is guessed), keep
Model Studio (产品Code 'sfm') rows of the month, split the instance ID (``str.split_exact``), sum usage, list
cost, discount, coupon and payable as exact ``pl.Decimal(38, 12)`` by the allocation grain, and stream the
result to Parquet (``sink_parquet``). Zips are unpacked first by ``inputs.csv_files``, as for DuckDB. Prints
one JSON line: engine, threads, files and the unpack and query seconds.

    python bench/peers/polars_query.py --out result.parquet [--month 2026-05] BILL_OR_FOLDER...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import polars as pl
from inputs import csv_files

MONEY = pl.Decimal(38, 12)


def plan(files: list[Path], month: str) -> pl.LazyFrame:
    """The lazy query: the grouped month."""
    iid = pl.col("资源信息/实例ID（出账粒度）").str.split_exact(";", 5)

    def money(column: str, name: str) -> pl.Expr:
        return pl.col(column).cast(MONEY).sum().alias(name)  # empty cells are null: left out of the sum

    return (
        pl.scan_csv([str(p) for p in files], has_header=True, infer_schema=False)
        .filter((pl.col("产品信息/产品Code") == "sfm") & (pl.col("账单信息/账单月份") == month.replace("-", "")))
        .group_by(
            pl.col("账单信息/账单日期").str.strptime(pl.Date, "%Y%m%d").alias("billing_date"),
            pl.col("身份信息/资源归属账号ID").alias("account_id"),
            iid.struct.field("field_1").alias("workspace_id"),
            iid.struct.field("field_0").alias("api_key_id"),
            iid.struct.field("field_2").alias("model"),
            iid.struct.field("field_3").alias("usage_type"),
            iid.struct.field("field_4").alias("channel"),
            pl.col("账单信息/费用类型").alias("fee_type"),
            pl.col("定价信息/定价币种").alias("currency"),
            pl.col("用量信息/用量单位").alias("usage_unit"),
            pl.col("定价信息/官网目录价").alias("list_unit_price"),
        )
        .agg(
            money("用量信息/用量", "usage"),
            money("费用信息/目录总价", "list_cost"),
            money("优惠信息/优惠金额", "discount"),
            money("优惠券抵扣信息/优惠券抵扣金额", "coupon"),
            money("应付信息/应付金额（含税）", "billed_cost"),
            pl.len().alias("line_count"),
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bills", nargs="+", help="bill .csv/.zip files or folders holding them")
    parser.add_argument("--out", required=True, help="the Parquet file to write")
    parser.add_argument("--month", default="2026-05")
    args = parser.parse_args(argv)
    threads = pl.thread_pool_size()
    started = time.perf_counter()
    with csv_files(args.bills, threads=os.cpu_count()) as files:
        unpacked = time.perf_counter()
        plan(files, args.month).sink_parquet(args.out)
        done = time.perf_counter()
    print(json.dumps({"engine": f"polars {pl.__version__}", "threads": threads, "files": len(files),
                      "unpack_seconds": round(unpacked - started, 3), "query_seconds": round(done - unpacked, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
