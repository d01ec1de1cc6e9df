"""The costs question on hand-made months: exact sums per currency, filters, --top, the day, and months that
cannot be read (missing, not allocated, changed since their manifest, published before the cost summary)."""

from __future__ import annotations

import io
from decimal import Decimal

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from chargeback.errors import InputError
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.reconcile import reconcile
from chargeback.queries.costs import CostQuery, ask_costs, parse_by, parse_where
from chargeback.queries.scan import scan_allocations, scan_cost_summaries
from chargeback.queries.summary import cost_summary
from chargeback.storage import LocalObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import write_manifest
from chargeback.warehouse.publish import sha256
from chargeback.warehouse.read import read_allocations, table_to_frame
from tests.support.allocations import allocation_table, row
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import publish_month

MAY = [
    row("2026-05-01", "10.5", model="qwen-max", io_type="input", usage_type="input_token"),
    row("2026-05-01", "20.25", model="qwen-max", io_type="output", usage_type="output_token",
        list_unit_price="0.0024", discount="1.75"),
    row("2026-05-02", "1.1234567", model="qwen-max", io_type="input", usage_type="input_token",
        api_key_id="", call_source="console", channel="bmp", cost_center="unallocated",
        allocation_rule="unallocated"),
    row("2026-05-02", "3", model="qwen-plus", api_key_id="2100002", cost_center="research"),
    row("2026-05-03", "0", model="qwen-plus", fee_type="free_quota", usage="0", deducted_usage="500",
        list_unit_price="0"),
    row("2026-05-03", "7", model="qwen-max", currency="USD", list_unit_price="0.0016", cost_center="research"),
    row("2026-05-03", "5", model="wanx2.1-t2i-plus", io_type="unit", usage_type="images", usage_unit="张",
        list_unit_price="0.2", billing_item="image_number"),
]
APRIL = [row("2026-04-30", "2", model="qwen-max"), row("2026-04-30", "0.5", model="qwen-turbo")]


@pytest.fixture
def store() -> MemoryObjectStore:
    store = MemoryObjectStore()
    publish_month(store, "2026-04", APRIL)
    publish_month(store, "2026-05", MAY)
    return store


def totals(answer) -> dict[str, Decimal]:
    return {t.currency: t.billed_cost for t in answer.totals}


def test_by_model_sums_exactly_and_never_across_currencies(store):
    answer = ask_costs(store, CostQuery("2026-05", by=("model",)))
    assert answer.source == "costs" and answer.months == ["2026-05"] and not answer.problems
    by = {(r.keys["model"], r.currency): r.billed_cost for r in answer.rows}
    assert by == {("qwen-max", "CNY"): Decimal("31.8734567"), ("qwen-plus", "CNY"): Decimal("3"),
                  ("wanx2.1-t2i-plus", "CNY"): Decimal("5"), ("qwen-max", "USD"): Decimal("7")}
    assert totals(answer) == {"CNY": Decimal("39.8734567"), "USD": Decimal("7")}
    assert answer.rows[0].keys == {"model": "qwen-max", "currency": "CNY"}  # largest first
    cny = next(t for t in answer.totals if t.currency == "CNY")
    assert cny.amounts["discount"] == Decimal("1.75")
    assert cny.amounts["list_cost"] == Decimal("41.6234567")
    assert cny.share == Decimal(1)
    usd = next(r for r in answer.rows if r.currency == "USD")
    assert usd.share == Decimal(1)  # of its own currency's total


def test_tokens_count_token_units_only_free_quota_included(store):
    answer = ask_costs(store, CostQuery("2026-05", by=("model",)))
    tokens = {(r.keys["model"], r.currency): r.counts["tokens"] for r in answer.rows}
    plus_usage = Decimal("3") / Decimal("0.0008")  # the row builder's usage in 千tokens: billed / price
    assert tokens[("qwen-plus", "CNY")] == int(plus_usage.quantize(Decimal("0.001")) * 1000) + 500_000
    assert tokens[("wanx2.1-t2i-plus", "CNY")] == 0  # images are not tokens


def test_free_quota_is_valued_like_reconcile(store):
    answer = ask_costs(store, CostQuery("2026-05"))
    cny = next(t for t in answer.totals if t.currency == "CNY")
    lines = read_allocations(store, "2026-05")
    expected = reconcile(lines[lines["currency"] == "CNY"], load_catalog(), "cn").free_quota_savings
    assert expected > 0
    assert cny.amounts["free_quota_covered"] == expected


def test_where_globs_several_values_and_the_empty_value(store):
    only_max = ask_costs(store, CostQuery("2026-05", by=("io_type",), where=parse_where(["model=qwen-m*"])))
    assert {(r.keys["io_type"], r.currency): r.billed_cost for r in only_max.rows} == {
        ("input", "CNY"): Decimal("11.6234567"), ("output", "CNY"): Decimal("20.25"), ("input", "USD"): Decimal("7")}
    either = ask_costs(store, CostQuery("2026-05", where=parse_where(["model=qwen-plus", "model=wanx*"])))
    assert totals(either) == {"CNY": Decimal("8")}
    console = ask_costs(store, CostQuery("2026-05", where=parse_where(["api_key_id="])))
    assert totals(console) == {"CNY": Decimal("1.1234567")}
    both = ask_costs(store, CostQuery("2026-05", where=parse_where(["model=qwen-max", "currency=USD"])))
    assert totals(both) == {"USD": Decimal("7")}
    nothing = ask_costs(store, CostQuery("2026-05", where=parse_where(["model=qwen-max.*"])))  # '.' is literal
    assert nothing.totals == [] and nothing.months == ["2026-05"]


def test_top_keeps_the_largest_and_sums_the_rest_so_rows_add_up(store):
    answer = ask_costs(store, CostQuery("2026-04", "2026-05", by=("model", "billing_month"), top=2))
    cny_rows = [r for r in answer.rows if r.currency == "CNY"]
    assert [r.billed_cost for r in cny_rows] == [Decimal("31.8734567"), Decimal("5")]
    [others] = [o for o in answer.others if o.currency == "CNY"]
    assert others.rows == 3 and others.billed_cost == Decimal("5.5")
    total = next(t for t in answer.totals if t.currency == "CNY")
    for name in ("billed_cost", "list_cost", "discount", "free_quota_covered"):
        assert sum((r.amounts[name] for r in cny_rows), others.amounts[name]) == total.amounts[name]
    assert total.billed_cost == Decimal("42.3734567")


def test_the_day_reads_the_allocations_and_agrees_with_the_summary(store):
    by_day = ask_costs(store, CostQuery("2026-05", by=("billing_date",)))
    assert by_day.source == "allocations"
    days = {(r.keys["billing_date"], r.currency): r.billed_cost for r in by_day.rows}
    assert days[("2026-05-01", "CNY")] == Decimal("30.75")
    summary = ask_costs(store, CostQuery("2026-05"))
    assert [t.to_dict() for t in by_day.totals] == [t.to_dict() for t in summary.totals]
    one_day = ask_costs(store, CostQuery("2026-05", where=parse_where(["billing_date=2026-05-0[12]*"])))
    assert one_day.totals == []  # '[' is literal, only '*' is a wildcard
    one_day = ask_costs(store, CostQuery("2026-05", where=parse_where(["billing_date=2026-05-02"])))
    assert totals(one_day) == {"CNY": Decimal("4.1234567")}


def test_the_day_over_months_is_summed_month_by_month_with_conditions_on_other_dimensions(store):
    answer = ask_costs(store, CostQuery("2026-04", "2026-05", by=("billing_date",),
                                        where=parse_where(["model=qwen-max"])))
    assert {(r.keys["billing_date"], r.currency): r.billed_cost for r in answer.rows} == {
        ("2026-04-30", "CNY"): Decimal("2"), ("2026-05-01", "CNY"): Decimal("30.75"),
        ("2026-05-02", "CNY"): Decimal("1.1234567"), ("2026-05-03", "USD"): Decimal("7")}
    assert totals(answer) == {"CNY": Decimal("33.8734567"), "USD": Decimal("7")}
    kept = scan_allocations(store, ["2026-04", "2026-05"], ["model", "billed_cost", "currency"],
                            reduce=lambda table: table.filter(pc.equal(table["model"], "qwen-turbo")))
    assert {m: t.num_rows for m, t in kept.tables.items()} == {"2026-04": 1, "2026-05": 0}  # what reduce kept


def test_cost_center_path_reads_as_the_cost_center_without_a_hierarchy(store):
    answer = ask_costs(store, CostQuery("2026-05", by=("cost_center_path",)))
    assert {(r.keys["cost_center_path"], r.currency) for r in answer.rows} == {
        ("search", "CNY"), ("research", "CNY"), ("unallocated", "CNY"), ("research", "USD")}


def test_missing_and_unreadable_months_are_named_never_guessed(store):
    answer = ask_costs(store, CostQuery("2026-03", "2026-05"))
    assert answer.months == ["2026-04", "2026-05"]
    assert [(p.month, p.reason) for p in answer.problems] == [("2026-03", "missing")]
    assert "chargeback run --month 2026-03" in answer.problems[0].message

    key = layout.costs_key("2026-05")  # a summary rewritten after its manifest (a run in progress)
    store.objects[key] = store.objects[key] + b"\n"
    answer = ask_costs(store, CostQuery("2026-05"))
    assert answer.months == [] and answer.problems[0].reason == "changed"
    assert "differs from what the manifest of 2026-05 recorded" in answer.problems[0].message


def test_a_month_published_before_the_summary_is_summed_from_its_allocations():
    old, new = MemoryObjectStore(), MemoryObjectStore()
    publish_month(old, "2026-05", MAY, with_costs=False)
    publish_month(new, "2026-05", MAY)
    query = CostQuery("2026-05", by=("model", "cost_center", "fee_type"))
    assert [r.to_dict() for r in ask_costs(old, query).rows] == [r.to_dict() for r in ask_costs(new, query).rows]


def test_a_summary_published_before_one_of_its_columns_is_summed_from_the_allocations():
    """Only the columns a question names are decoded, but a summary without one of today's columns (an older
    version's) is still recognised as such, whichever columns are asked for."""
    store, today = MemoryObjectStore(), MemoryObjectStore()
    manifest = publish_month(store, "2026-05", MAY)
    publish_month(today, "2026-05", MAY)
    key = layout.costs_key("2026-05")
    older = pq.read_table(io.BytesIO(store.objects[key])).drop_columns(["free_quota_unvalued_lines"])
    store.objects[key] = _parquet(older)
    write_manifest(store, manifest.replace(outputs={**manifest.outputs, key: sha256(store.objects[key])}))
    query = CostQuery("2026-05", by=("model",))
    answer = ask_costs(store, query)
    assert answer.months == ["2026-05"] and not answer.problems
    assert [r.to_dict() for r in answer.rows] == [r.to_dict() for r in ask_costs(today, query).rows]


def test_a_summary_reads_only_the_columns_asked_for():
    store = MemoryObjectStore()
    publish_month(store, "2026-05", MAY)
    scan = scan_cost_summaries(store, ["2026-05"], columns=("model", "cost_center_path", "billed_cost"))
    assert scan.tables["2026-05"].column_names == ["model", "cost_center_path", "billed_cost"]
    whole = scan_cost_summaries(store, ["2026-05"]).tables["2026-05"]
    assert scan.tables["2026-05"] == whole.select(["model", "cost_center_path", "billed_cost"])
    del store.objects[layout.allocations_key("2026-05")]  # a question without the day never reads them
    answer = ask_costs(store, CostQuery("2026-05", by=("model",)))
    assert answer.months == ["2026-05"] and answer.source == "costs" and not answer.problems
    with pytest.raises(ValueError, match="not columns of the cost summary: billing_date"):
        scan_cost_summaries(store, ["2026-05"], columns=("model", "billing_date"))


def test_a_damaged_or_missing_table_is_named_with_the_command_that_repairs_it(tmp_path):
    store = LocalObjectStore(tmp_path)
    manifest = publish_month(store, "2026-05", MAY)
    allocations = tmp_path / layout.allocations_key("2026-05")
    allocations.write_bytes(b"not parquet")  # a local table is read in place: its columns, not its bytes
    [problem] = ask_costs(store, CostQuery("2026-05", by=("billing_date",))).problems
    assert problem.reason == "damaged" and "allocations.parquet is not a readable Parquet file" in problem.message
    assert "chargeback run --month 2026-05 --force" in problem.message
    allocations.unlink()
    [problem] = ask_costs(store, CostQuery("2026-05", by=("billing_date",))).problems
    assert problem.reason == "damaged" and "named by the manifest of 2026-05 but missing" in problem.message
    key = layout.costs_key("2026-05")  # a summary whose bytes the manifest vouches for, but not Parquet
    store.write_bytes(key, b"not parquet either")
    write_manifest(store, manifest.replace(outputs={**manifest.outputs, key: sha256(b"not parquet either")}))
    [problem] = ask_costs(store, CostQuery("2026-05", by=("model",))).problems
    assert problem.reason == "damaged" and "costs.parquet is not a readable Parquet file" in problem.message


def test_allocations_changed_behind_the_manifest_are_refused():
    store = MemoryObjectStore()
    publish_month(store, "2026-05", MAY, with_costs=False)
    key = layout.allocations_key("2026-05")
    table = pq.read_table(io.BytesIO(store.objects[key]))
    store.objects[key] = _parquet(table.slice(1))
    answer = ask_costs(store, CostQuery("2026-05", by=("billing_date",)))
    assert answer.months == [] and answer.problems[0].reason == "changed"


def _parquet(table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_bad_dimensions_and_options_are_input_errors():
    with pytest.raises(InputError, match="unknown dimension 'modle'; did you mean 'model'"):
        parse_by("modle")
    with pytest.raises(InputError, match="is not DIM=VALUE"):
        parse_where(["model"])
    with pytest.raises(InputError, match="did you mean 'api_key_id'"):
        parse_where(["api_key=1"])
    with pytest.raises(InputError, match="before --month"):
        CostQuery("2026-05", "2026-04")
    with pytest.raises(InputError, match="--top must be at least 1"):
        CostQuery("2026-05", top=0)
    with pytest.raises(InputError, match="is not YYYY-MM"):
        CostQuery("2026-5")
    assert parse_by("model, currency,model") == ("model", "currency")


def test_the_summary_adds_up_to_the_allocations_it_sums():
    table = allocation_table([*MAY, row("2026-05-04", "1.01", model="qwen-max", io_type="input",
                                        usage_type="input_token")])  # the first row's instance, a day later
    summary = cost_summary(table, load_catalog())
    frame = table_to_frame(summary)
    allocations = table_to_frame(table)
    for name in ("billed_cost", "list_cost", "discount", "coupon", "usage", "deducted_usage"):
        assert sum(frame[name], Decimal(0)) == sum(allocations[name], Decimal(0))
    assert int(frame["line_count"].sum()) == int(allocations["line_count"].sum())
    assert summary.num_rows < table.num_rows
