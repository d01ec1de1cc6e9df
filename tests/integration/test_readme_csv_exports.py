"""The README's snippets that read the allocations CSV with exact types, run as written: DuckDB's and pandas'
(Spark's is not run: pyspark is not installed here), on the CSV the real export publishes."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from chargeback.columns import ALLOCATION_AMOUNTS, PUBLISHED_ALLOCATION_COLUMNS, USAGE_QUANTITY

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### The CSV exports with exact types"


def snippets(fence: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION):]
    section = section[:section.index("\n## ")]
    return re.findall(rf"```{fence}\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture
def warehouse(real_export: Path) -> Path:
    return real_export


def test_duckdb_reads_the_csv_with_exact_types(warehouse, monkeypatch):
    (sql,) = snippets("sql")
    monkeypatch.chdir(warehouse)
    connection = duckdb.connect()
    create, select = [s for s in sql.split(";") if s.strip()]
    connection.execute(create)
    types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_name = 'allocations' ORDER BY ordinal_position").fetchall())
    assert list(types) == list(PUBLISHED_ALLOCATION_COLUMNS)
    assert {c for c, t in types.items() if t == "DECIMAL(38,12)"} == {*ALLOCATION_AMOUNTS, USAGE_QUANTITY}
    assert types["billing_date"] == "DATE" and types["api_key_id"] == "VARCHAR" and types["tokens"] == "BIGINT"
    rows = connection.execute(select).fetchall()
    assert sum(r[2] for r in rows) == Decimal("57.477867")
    assert ("qwen3-omni-flash", "CNY", Decimal("0.020267")) in rows


def test_pandas_reads_the_csv_with_exact_types(warehouse, monkeypatch):
    python = snippets("python")[0]
    monkeypatch.chdir(warehouse)
    namespace: dict[str, Any] = {}
    exec(compile(python, "README.md (pandas)", "exec"), namespace)  # the README's own snippet
    assert set(namespace["MONEY"]) == {*ALLOCATION_AMOUNTS, USAGE_QUANTITY}
    frame: pd.DataFrame = namespace["frame"]
    assert list(frame.columns) == list(PUBLISHED_ALLOCATION_COLUMNS)
    assert frame["billed_cost"].dtype == pd.ArrowDtype(pa.decimal128(38, 12))
    assert frame["billed_cost"].sum() == Decimal("57.477867")
    assert namespace["by_model"][("qwen3-omni-flash", "CNY")] == Decimal("0.020267")
    assert frame["billing_date"].min() >= date(2026, 5, 1) and frame["tokens"].sum() == 328_670
    assert (frame["api_key_id"] == "").any()  # console calls keep their empty key, not NaN
    billed = namespace["billed"]
    assert (billed * 3).sum() == Decimal("172.433601") and (billed / 2).sum() > 0
