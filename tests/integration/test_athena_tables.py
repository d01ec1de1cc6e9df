"""Athena-shaped checks of template.yml: each Glue table reads the Parquet the product writes, and the FAQ's
named queries answer on the real export.

Athena (like Hive) resolves Parquet columns by name, case-insensitively, and reads each as the table's type: a
column whose Glue type differs from its Parquet type fails the query (or, for decimals of another scale, reads
wrong amounts). So for every ``AWS::Glue::Table`` the columns, in order, must be the Parquet file's lowercased
names with the Hive type of their Arrow type, the partition key ``billing_month`` aside (a partition's folder
names it). The files are the ones ``chargeback run`` publishes for the real export in ``tests/data/real-bills/``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cfnlint.decode import cfn_yaml

from chargeback.warehouse import layout
from chargeback.warehouse.tables import PUBLISHED_ALLOCATION_SCHEMA, PUBLISHED_LINE_SCHEMA
from tests.support.real_bills import MONTH

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"lines": layout.lines_key, "allocations": layout.allocations_key, "focus": layout.focus_key}
LAST_MONTH = "date_format(date_add('month', -1, current_date), '%Y-%m')"  # Athena's (Trino's) last month


def hive_type(kind: pa.DataType) -> str:
    """The Hive type Athena reads an Arrow (Parquet) type as; AssertionError for one it has none for."""
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    simple = {pa.string(): "string", pa.bool_(): "boolean", pa.int64(): "bigint", pa.float64(): "double",
              pa.date32(): "date"}
    assert kind in simple, f"no Hive type for {kind}"
    return simple[kind]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yml"))
    return loaded


@pytest.fixture
def warehouse(real_export: Path) -> Path:
    return real_export


def glue_tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
            for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Table"}


def test_every_published_table_has_a_glue_table(template):
    assert sorted(glue_tables(template)) == sorted(KEYS)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_glue_columns_names_order_and_types_match_the_parquet(template, warehouse, name):
    schema = pq.read_schema(warehouse / KEYS[name](MONTH))
    table = glue_tables(template)[name]
    names = [f.name.lower() for f in schema]
    assert len(set(names)) == len(names), "two Parquet columns that Athena would read as one"
    expected = [{"Name": f.name.lower(), "Type": hive_type(f.type)} for f in schema if f.name != "billing_month"]
    assert [dict(c) for c in table["StorageDescriptor"]["Columns"]] == expected
    assert [dict(c) for c in table["PartitionKeys"]] == [{"Name": "billing_month", "Type": "string"}]


def test_the_parquet_is_the_declared_published_schema(warehouse):
    """What the Glue tables are checked against is what chargeback.warehouse.tables declares, not this month's
    accident (a column of nulls, say)."""
    assert pq.read_schema(warehouse / layout.lines_key(MONTH)).remove_metadata() == PUBLISHED_LINE_SCHEMA
    assert (pq.read_schema(warehouse / layout.allocations_key(MONTH)).remove_metadata()
            == PUBLISHED_ALLOCATION_SCHEMA)
    allocations = pq.read_schema(warehouse / layout.allocations_key(MONTH))
    assert allocations.field("billing_date").type == pa.date32()
    assert allocations.names.index("tokens") == allocations.names.index("usage_unit") + 1


@pytest.mark.parametrize("name", sorted(KEYS))
def test_each_table_projects_billing_month_partitions_onto_its_folder(template, name):
    table = glue_tables(template)[name]
    parameters = table["Parameters"]
    assert parameters["classification"] == "parquet"
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.billing_month.type"] == "date"
    assert parameters["projection.billing_month.format"] == "yyyy-MM"
    assert parameters["projection.billing_month.interval"] == "1"
    assert parameters["projection.billing_month.interval.unit"] == "MONTHS"
    assert parameters["projection.billing_month.range"] == {"Fn::Sub": "${FirstBillingMonth},NOW"}
    folder = KEYS[name](MONTH).rsplit("/", 2)[0]
    assert parameters["storage.location.template"] == {
        "Fn::Sub": f"s3://${{WarehouseBucket}}/{folder}/billing_month=${{!billing_month}}/"}
    assert table["StorageDescriptor"]["Location"] == {"Fn::Sub": f"s3://${{WarehouseBucket}}/{folder}/"}
    assert "parquet" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].lower()


def named_queries(template: dict[str, Any]) -> dict[str, str]:
    found = {r["Properties"]["Name"]: r["Properties"]["QueryString"] for r in template["Resources"].values()
             if r["Type"] == "AWS::Athena::NamedQuery"}
    for query in found.values():
        assert LAST_MONTH in query  # every question is about last month
    return found


def ask(warehouse: Path, query: str, month: str = MONTH) -> list[tuple[Any, ...]]:
    """A named query run by DuckDB over the published allocations, last month being ``month``: the same SQL
    but for Trino's date functions, so its tables, columns and types are the ones the Parquet holds."""
    connection = duckdb.connect()
    folder = (warehouse / "allocations").as_posix()
    connection.execute(f"CREATE VIEW allocations AS SELECT * FROM read_parquet('{folder}/*/*.parquet', "
                       "hive_partitioning = true)")
    return connection.execute(query.replace(LAST_MONTH, f"'{month}'")).fetchall()


def test_the_faq_s_three_named_queries_answer_on_the_real_export(template, warehouse):
    queries = named_queries(template)
    assert sorted(queries) == ["model-calling-cost-last-month", "model-studio-cost-last-month",
                               "qwen-max-cost-last-month"]
    (total,) = ask(warehouse, queries["model-studio-cost-last-month"])
    assert total[:2] == ("CNY", Decimal("57.477867")) and total[-1] == 328_670  # the bill's payable, its tokens
    rows = ask(warehouse, queries["model-calling-cost-last-month"])
    by_model = {r[0]: r[2] for r in rows if r[0] is not None}
    (calling,) = [r[2] for r in rows if r[0] is None]
    assert sum(by_model.values()) == calling > 0
    assert by_model["qwen3-omni-flash"] == Decimal("0.020267")
    assert ask(warehouse, queries["qwen-max-cost-last-month"]) == []  # the export has no qwen-max: no row
    one_model = re.sub(r"model = 'qwen-max'", "model = 'qwen3-omni-flash'", queries["qwen-max-cost-last-month"])
    answer = {r[0]: (r[2], r[3]) for r in ask(warehouse, one_model)}
    assert answer == {"input": (Decimal("0.0046532"), 454), "output": (Decimal("0.0156138"), 1234),
                      None: (Decimal("0.020267"), 1688)}  # input plus output, as `chargeback costs` says
