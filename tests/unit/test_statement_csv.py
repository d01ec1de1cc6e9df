"""The CSV attachment: the cost center's rows, summing to the statement total, with formulas neutralised."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.columns import ALLOCATION_COLUMNS
from chargeback.reporting.csvfile import csv_columns, neutralise, statement_csv
from chargeback.reporting.view import build_statement, cost_center_rows
from chargeback.warehouse.read import table_to_frame
from tests.support.allocations import MONTH, allocation_table, may_rows, sample_mapping
from tests.support.mail import csv_rows, csv_total
from tests.support.warehouse import manifest_for

MANIFEST = manifest_for(MONTH, may_rows(), status="final")


@pytest.fixture(scope="module")
def may():
    return table_to_frame(allocation_table(may_rows()))


@pytest.mark.parametrize("cost_center", ["search", "research", "ops", "unallocated"])
def test_csv_sums_to_the_statement_total_per_currency(may, cost_center):
    mapping = sample_mapping()
    data = statement_csv(cost_center_rows(may, cost_center), mapping)
    view = build_statement(may, None, MANIFEST, mapping, cost_center, locale="en")
    assert view.totals
    for currency, total in view.totals.items():
        assert csv_total(data, currency) == total
    assert len(csv_rows(data)) == view.rows


def test_csv_has_every_allocation_column_and_the_names(may):
    data = statement_csv(cost_center_rows(may, "search"), sample_mapping())
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert tuple(header) == csv_columns()
    assert set(ALLOCATION_COLUMNS) <= set(header)
    first = csv_rows(data)[0]
    assert (first["workspace_label"], first["cost_center_name"]) == ("Search production", "Search team")


def test_formula_cells_are_neutralised_but_negative_money_stays_a_number(may):
    mapping = sample_mapping()
    ops = csv_rows(statement_csv(cost_center_rows(may, "ops"), mapping))[0]
    assert ops["cost_center_name"] == "'=HYPERLINK(\"http://evil.example/\",\"click me\")"
    assert ops["model"] == "'=HYPERLINK(\"http://evil.example/\")"
    assert ops["api_key_id"] == "'-1+1"
    assert ops["workspace_label"] == "<img src=x onerror=alert(1)>"  # not a formula: left as it is
    research = csv_rows(statement_csv(cost_center_rows(may, "research"), mapping))[0]
    assert research["workspace_label"].startswith("'=HYPERLINK(")
    search = csv_rows(statement_csv(cost_center_rows(may, "search"), mapping))
    refunds = [r for r in search if r["billing_date"] == "2026-05-20"]
    assert [r["billed_cost"] for r in refunds] == ["-0.5"]
    assert Decimal(refunds[0]["billed_cost"]) == Decimal("-0.5")


@pytest.mark.parametrize(("text", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("qwen-plus", "qwen-plus"), ("", ""),
])
def test_neutralise(text, expected):
    assert neutralise(text) == expected
