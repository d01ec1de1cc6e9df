"""``chargeback.open_warehouse`` as an analyst uses it: Arrow tables of the months asked for, pandas with exact
money, on file, S3 (moto) and OSS (the emulator) warehouses; months published before the analysts' columns read in
today's types; and the statements already sent stay unchanged when a month is re-published in the new shape."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

import chargeback
from chargeback.analysis import WarehouseMonthsError
from chargeback.columns import PUBLISHED_ALLOCATION_COLUMNS, PUBLISHED_LINE_COLUMNS
from chargeback.errors import InputError
from chargeback.reporting.view import allocation_hash, cost_center_rows
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.read import read_allocations
from tests.support.allocations import row
from tests.support.fixtures import StoreBackend
from tests.support.real_bills import MONTH, publish_real_export
from tests.support.warehouse import publish_month

MAY = [
    row("2026-05-01", "10.5", model="qwen-max", io_type="input", usage_type="input_token", usage="1.2345"),
    row("2026-05-02", "20.25", model="qwen-max", io_type="output", usage_type="output_token", usage="3",
        deducted_usage="0.5", cost_center="research", api_key_id="2100002"),
    row("2026-05-03", "5", model="wanx2.1-t2i-plus", io_type="unit", usage_type="images", usage_unit="张",
        usage="25", list_unit_price="0.2", billing_item="image_number"),
    row("2026-05-03", "0.3", model="videogen", io_type="unit", usage_type="1080P", usage_unit="秒", usage="12.5"),
    row("2026-05-04", "1", model="odd", io_type="other", usage_type="furlongs", usage_unit="furlong", usage="2"),
]


def test_the_real_export_on_every_backend(backend: StoreBackend, monkeypatch):
    publish_real_export(backend.store())
    options = dict(backend.url_options)
    if backend.name == "oss":
        monkeypatch.setenv("CHARGEBACK_ALLOW_INSECURE", "true")  # the emulator speaks http on 127.0.0.1
    warehouse = chargeback.open_warehouse(backend.store_url, **options)
    assert warehouse.months() == [MONTH]
    may = warehouse.allocations(month=MONTH)
    assert isinstance(may.arrow, pa.Table) and may.column_names == list(PUBLISHED_ALLOCATION_COLUMNS)
    assert pa.table(may).num_rows == len(may) > 0  # the Arrow C stream: pyarrow, DuckDB, polars read it as it is
    assert may.schema.field("billing_date").type == pa.date32()
    frame = may.to_pandas()
    assert isinstance(frame["billed_cost"].dtype, pd.ArrowDtype)
    assert pa.types.is_decimal(frame["billed_cost"].dtype.pyarrow_dtype)
    total = frame["billed_cost"].sum()
    assert total == Decimal("57.477867")  # exact, the bill's payable
    assert (frame["billed_cost"] * 2).sum() == Decimal("114.955734")  # arithmetic stays exact decimals
    assert (frame["list_cost"] - frame["discount"]).sum() >= total
    by_model = frame.groupby("model")["billed_cost"].sum()
    assert by_model["qwen3-omni-flash"] == Decimal("0.020267") and by_model.sum() == total
    assert frame["tokens"].sum() == 328_670  # what `chargeback costs` counts, free quota included
    assert frame["billing_date"].dtype == pd.ArrowDtype(pa.date32())
    assert date(2026, 5, 1) <= frame["billing_date"].min() <= frame["billing_date"].max() <= date(2026, 5, 31)
    lines = warehouse.lines(month=MONTH, columns=["billing_date", "usage_unit", "tokens", "billed_cost"])
    assert lines.column_names == ["billing_date", "usage_unit", "tokens", "billed_cost"]
    assert sum(lines.column("billed_cost").to_pylist()) == Decimal("57.477867")


def test_the_usage_measures_per_unit(tmp_path):
    publish_month(LocalObjectStore(tmp_path), MONTH, MAY)
    frame = chargeback.open_warehouse(str(tmp_path)).allocations(month=MONTH).to_pandas().set_index("model")
    measures = frame[["usage_unit", "tokens", "usage_quantity", "usage_unit_normalized"]]
    assert measures.loc["qwen-max", "tokens"].tolist() == [1234, 3500]  # 千tokens x 1000, free quota included
    assert measures.loc["wanx2.1-t2i-plus"].tolist() == ["张", pd.NA, Decimal(25), "image"]
    assert measures.loc["videogen"].tolist() == ["秒", pd.NA, Decimal("12.5"), "second"]
    odd = measures.loc["odd"]  # a unit chargeback.units does not know: never guessed
    assert odd["usage_unit"] == "furlong" and pd.isna(odd["tokens"]) and pd.isna(odd["usage_quantity"])
    assert pd.isna(odd["usage_unit_normalized"])


def test_a_month_published_before_reads_in_today_s_types(tmp_path):
    old, new = LocalObjectStore(tmp_path / "old"), LocalObjectStore(tmp_path / "new")
    publish_month(old, MONTH, MAY, analyst_tables=False)
    publish_month(new, MONTH, MAY)
    before = chargeback.open_warehouse(old.url).allocations(month=MONTH)
    after = chargeback.open_warehouse(new.url).allocations(month=MONTH)
    assert before.schema == after.schema
    assert before.arrow.equals(after.arrow)
    lines = chargeback.open_warehouse(old.url).lines(month=MONTH)
    assert lines.column_names == list(PUBLISHED_LINE_COLUMNS) and lines.schema.field("billing_date").type == pa.date32()


def test_statements_already_sent_keep_their_content_hash(tmp_path):
    """A month re-published with billing_date as a DATE and the usage measures is the same statement: the
    hash its ledger recorded still matches, so nothing is resent as a correction."""
    old, new = LocalObjectStore(tmp_path / "old"), LocalObjectStore(tmp_path / "new")
    publish_month(old, MONTH, MAY, analyst_tables=False)
    publish_month(new, MONTH, MAY)
    for center in ("search", "research"):
        sent = cost_center_rows(read_allocations(old, MONTH), center)
        now = cost_center_rows(read_allocations(new, MONTH), center)
        assert sent and allocation_hash(sent) == allocation_hash(now)
    changed = [dict(r, billing_date="2026-05-04") for r in cost_center_rows(read_allocations(new, MONTH), "search")]
    assert allocation_hash(changed) != allocation_hash(cost_center_rows(read_allocations(new, MONTH), "search"))


def test_months_that_cannot_be_read_and_mistakes(tmp_path):
    publish_month(LocalObjectStore(tmp_path), MONTH, MAY)
    warehouse = chargeback.open_warehouse(str(tmp_path))
    with pytest.raises(WarehouseMonthsError) as missing:
        warehouse.allocations(month="2026-04", to=MONTH)
    assert [p.month for p in missing.value.problems] == ["2026-04"]
    assert "chargeback run --month 2026-04" in str(missing.value)
    with pytest.raises(InputError, match="to 2026-03 is before month 2026-05"):
        warehouse.allocations(month=MONTH, to="2026-03")
    with pytest.raises(InputError, match="billed_costs: not a column of the allocations"):
        warehouse.allocations(month=MONTH, columns=["billed_costs"])
    answer = warehouse.costs(MONTH, by=["model"], where=["model=qwen-*"])
    assert sum(r.billed_cost for r in answer.rows) == Decimal("30.75")
