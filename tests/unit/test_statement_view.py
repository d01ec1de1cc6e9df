"""The statement view: exact totals, breakdowns that add up, the change explained, restatements."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargeback.reporting.ledger import LedgerEntry
from chargeback.reporting.view import (
    CurrencySection,
    allocation_hash,
    build_statement,
    cost_center_rows,
    explain_change,
)
from chargeback.warehouse.read import table_to_frame
from tests.support.allocations import (
    MAPPING_YAML,
    MONTH,
    PREVIOUS,
    allocation_table,
    april_rows,
    may_rows,
    row,
    sample_mapping,
)
from tests.support.warehouse import manifest_for

MANIFEST = manifest_for(MONTH, may_rows(), status="final")
MAPPING_YAML_WITH_OWNERS = MAPPING_YAML + "workspace_owners:\n  llm-search: [ws-lead@example.com]\n"


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows through Arrow and back, as read_allocations gives them."""
    return table_to_frame(allocation_table(rows))


@pytest.fixture(scope="module")
def may() -> pd.DataFrame:
    return frame(may_rows())


@pytest.fixture(scope="module")
def april() -> pd.DataFrame:
    return frame(april_rows())


def expected_total(cost_center: str, currency: str) -> Decimal:
    return sum((r["billed_cost"] for r in may_rows() if r["cost_center"] == cost_center
                and r["currency"] == currency), Decimal(0))


def breakdown_sums(section: CurrencySection) -> dict[str, Decimal]:
    return {
        name: sum((line.amount for line in getattr(section, name)), Decimal(0))
        for name in ("by_model", "by_io_type", "by_api_key", "by_call_source", "by_workspace")
    } | {"days": sum((d.amount for d in section.days), Decimal(0))}


@pytest.mark.parametrize("cost_center", ["search", "research", "ops", "unallocated"])
def test_every_section_total_equals_the_cost_centers_rows_exactly(may, april, cost_center):
    view = build_statement(may, april, MANIFEST, sample_mapping(), cost_center, top_n=3, locale="en")
    currencies = sorted({r["currency"] for r in may_rows() if r["cost_center"] == cost_center})
    assert [s.currency for s in view.sections] == currencies
    for section in view.sections:
        total = expected_total(cost_center, section.currency)
        assert section.total == total
        assert set(breakdown_sums(section).values()) == {total}
        assert section.rows == sum(1 for r in may_rows() if r["cost_center"] == cost_center
                                   and r["currency"] == section.currency)


def test_two_currencies_are_two_sections_never_mixed(may, april):
    view = build_statement(may, april, MANIFEST, sample_mapping(), "search", top_n=3, locale="en")
    assert view.totals == {"CNY": Decimal("17.3961333"), "USD": Decimal("1.25")}
    usd = view.sections[1]
    assert [line.amount for line in usd.by_model] == [Decimal("1.25")]
    assert usd.change is not None and usd.change.previous_total == Decimal("1.0")


def test_change_is_explained_by_effects_that_add_up_exactly(may, april):
    view = build_statement(may, april, MANIFEST, sample_mapping(), "search", top_n=3, locale="en")
    for section in view.sections:
        change = section.change
        assert change is not None
        assert change.change == section.total - change.previous_total
        assert change.volume + change.mix + change.price == change.change


def test_effects_on_simple_cases():
    def rows(month: str, *specs: tuple[str, str, str]) -> list[dict[str, Any]]:
        return [row(f"{month}-01", billed, model=model, usage=usage, list_unit_price="")
                for model, usage, billed in specs]

    # Twice the usage at the same price: all volume.
    change = explain_change(rows(MONTH, ("a", "200", "2")), rows(PREVIOUS, ("a", "100", "1")), MONTH)
    assert (change.volume, change.mix, change.price) == (Decimal(1), 0, 0)
    # Same usage, higher price: all price.
    change = explain_change(rows(MONTH, ("a", "100", "1.5")), rows(PREVIOUS, ("a", "100", "1")), MONTH)
    assert (change.volume, change.mix, change.price) == (0, 0, Decimal("0.5"))
    # Same total usage moved from a cheap model to a dear one at unchanged prices: all mix.
    change = explain_change(rows(MONTH, ("a", "0", "0"), ("b", "100", "3")),
                            rows(PREVIOUS, ("a", "100", "1"), ("b", "0", "0")), MONTH)
    assert (change.volume, change.mix, change.price) == (0, Decimal(2), 0)
    # A model not used last month counts as mix, at its own price.
    change = explain_change(rows(MONTH, ("a", "100", "1"), ("new", "100", "5")),
                            rows(PREVIOUS, ("a", "100", "1")), MONTH)
    assert change.volume + change.mix == Decimal(5) and change.price == 0


amounts = st.decimals(min_value=Decimal("-5"), max_value=Decimal("500"), places=7, allow_nan=False,
                      allow_infinity=False)
usages = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=3, allow_nan=False,
                     allow_infinity=False)
items = st.tuples(st.sampled_from(["qwen-plus", "qwen-max", "qwen-turbo"]),
                  st.sampled_from(["input_token", "output_token"]), st.sampled_from(["千tokens", "张"]),
                  usages, amounts)


@settings(max_examples=200, deadline=None)
@given(st.lists(items, max_size=12), st.lists(items, max_size=12))
def test_effects_always_add_up_to_the_change(now_items, before_items):
    def rows(month: str, specs: list[tuple[str, str, str, Decimal, Decimal]]) -> list[dict[str, Any]]:
        return [row(f"{month}-02", str(billed), model=model, usage_type=usage_type, usage_unit=unit,
                    usage=str(usage)) for model, usage_type, unit, usage, billed in specs]

    current, previous = rows(MONTH, now_items), rows(PREVIOUS, before_items)
    change = explain_change(current, previous, MONTH)
    assert change.volume + change.mix + change.price == change.change
    assert change.change == sum((r["billed_cost"] for r in current), Decimal(0)) - sum(
        (r["billed_cost"] for r in previous), Decimal(0))


def test_no_previous_month_means_no_comparison(may):
    view = build_statement(may, None, MANIFEST, sample_mapping(), "search", top_n=3, locale="en")
    assert all(s.change is None for s in view.sections)
    assert view.previous_period == "April 2026"


def test_a_cost_center_new_this_month_changes_by_its_whole_total(may, april):
    view = build_statement(may, april, MANIFEST, sample_mapping(), "ops", top_n=3, locale="en")
    change = view.sections[0].change
    assert change is not None
    assert (change.previous_total, change.change, change.percent) == (0, Decimal(2), None)
    assert change.volume + change.mix + change.price == Decimal(2)


def test_api_keys_top_n_then_others(may):
    view = build_statement(may, None, MANIFEST, sample_mapping(), "search", top_n=3, locale="en")
    keys = view.sections[0].by_api_key
    assert [line.key for line in keys] == ["2100002", "2100001", "2100003", ""]
    assert keys[-1].label == "Others (4)"
    assert keys[-1].amount == Decimal("0.16") + Decimal("0.08") + Decimal("0.04") + Decimal("0.3333333")


def test_console_key_label_and_call_sources(may):
    view = build_statement(may, None, MANIFEST, sample_mapping(), "research", top_n=3, locale="zh")
    section = view.sections[0]
    assert [(line.label, line.amount) for line in section.by_call_source] == [
        ("API", Decimal("15.6234567")), ("控制台", Decimal("0.1666667"))]
    assert section.by_api_key[-1].label == "控制台（无 API Key）"


def test_free_quota_saving_at_list_price_or_unknown(may):
    section = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en").sections[0]
    plus, vl = section.free_quota
    assert (plus.model, plus.deducted, plus.list_price, plus.saved) == (
        "qwen-plus", Decimal(500), Decimal("0.0008"), Decimal("0.4"))
    assert (vl.model, vl.list_price, vl.saved) == ("qwen-vl-max", None, None)
    assert section.free_quota_saved == Decimal("0.4")
    assert section.free_quota_unpriced == 1


def test_free_quota_is_priced_by_other_cost_centers_paid_rows():
    rows = [row("2026-05-01", "0.8", cost_center="search"),
            row("2026-05-01", "0", cost_center="research", fee_type="free_quota", list_unit_price="0", usage="0",
                deducted_usage="100"),
            row("2026-05-01", "0", cost_center="research", fee_type="free_quota", list_unit_price="0", usage="0",
                deducted_usage="100", currency="USD")]
    view = build_statement(frame(rows), None, MANIFEST, sample_mapping(), "research", locale="en")
    cny, usd = view.sections
    assert cny.free_quota[0].saved == Decimal("0.08")
    assert usd.free_quota[0].saved is None  # a CNY price says nothing about USD


def test_discounts_and_shared_costs(may):
    section = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en").sections[0]
    assert (section.discount, section.coupon) == (Decimal("1.6"), Decimal("0.1"))
    assert section.list_cost == Decimal("19.5961333")  # the refund of 0.50 has no list cost
    [shared] = section.shared
    assert shared.rule == "console:proportional"
    assert shared.amount == Decimal("0.3333333")
    assert "in proportion" in shared.description


def test_unallocated_lines_are_not_shared_costs(may):
    view = build_statement(may, None, MANIFEST, sample_mapping(), "unallocated", locale="en")
    assert view.sections[0].shared == ()
    assert (view.name, view.owners) == ("unallocated", ())


def test_fixed_shares_name_the_percentage(may):
    mapping = sample_mapping(
        "cost_centers: {search: {}, research: {}}\n"
        "shared_costs: {console: {fixed: {search: 62.5, research: 37.5}}}\n")
    rows = [row("2026-05-01", "5", api_key_id="", call_source="console", allocation_rule="console:fixed")]
    section = build_statement(frame(rows), None, MANIFEST, mapping, "search", locale="en").sections[0]
    assert section.shared[0].description.endswith("62.5% to this cost center")


def test_effective_cost_per_thousand_tokens_only_for_token_rows(may):
    section = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en").sections[0]
    lines = {u.model: u for u in section.unit_costs}
    assert "wanx2.1-t2i-turbo" not in lines  # images are not tokens
    plus = lines["qwen-plus"]
    paid = [r for r in may_rows() if r["cost_center"] == "search" and r["model"] == "qwen-plus"
            and r["currency"] == "CNY"]
    assert plus.amount == sum((r["billed_cost"] for r in paid), Decimal(0))
    assert plus.tokens_k == sum((r["usage"] + r["deducted_usage"] for r in paid), Decimal(0))
    assert plus.per_1k == (plus.amount / plus.tokens_k).quantize(Decimal("0.00000001"))


def test_days_cover_the_whole_month(may):
    section = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en").sections[0]
    assert [d.day for d in section.days] == [f"2026-05-{n:02d}" for n in range(1, 32)]
    assert {d.day: d.amount for d in section.days}["2026-05-20"] == Decimal("-0.5")


def test_status_and_names(may):
    mapping = sample_mapping()
    provisional = build_statement(may, None, MANIFEST.replace(status="open"), mapping, "search", locale="en")
    assert provisional.status == "provisional"
    final = build_statement(may, None, MANIFEST, mapping, "research", locale="zh")
    assert (final.status, final.period, final.owners) == (
        "final", "2026年5月", ("ana@research.example.com", "bo@research.example.com"))
    assert final.name == "<script>alert('x')</script> Research"  # escaping is the template's job


def test_hash_ignores_row_order_and_decimal_padding():
    rows = [row("2026-05-01", "1.50"), row("2026-05-02", "2")]
    padded = [dict(rows[1]), {**rows[0], "billed_cost": Decimal("1.500000")}]
    assert allocation_hash(rows) == allocation_hash(padded)
    assert allocation_hash(rows) != allocation_hash([rows[0], {**rows[1], "billed_cost": Decimal("2.01")}])


def test_rows_read_back_from_arrow_hash_like_the_originals(may):
    originals = [r for r in may_rows() if r["cost_center"] == "search"]
    assert allocation_hash(cost_center_rows(may, "search")) == allocation_hash(originals)


def test_a_missing_column_is_named(may):
    from chargeback.errors import InputError

    with pytest.raises(InputError, match="billed_cost"):
        cost_center_rows(may.drop(columns=["billed_cost"]), "search")


def _entry(view_hash: str, totals: dict[str, str], by_model: dict[str, dict[str, str]]) -> LedgerEntry:
    return LedgerEntry(month=MONTH, cost_center="search", channel="mail", version=2, content_hash=view_hash,
                       totals=totals, by_model=by_model, status="provisional",
                       to=("lead@search.example.com",), cc=(), message_id="<m@x>", delivery_id="id",
                       sent_at="2026-06-05T02:00:00+00:00")


def test_same_hash_keeps_the_version_and_says_nothing(may):
    first = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en")
    again = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en",
                            ledger_entry=_entry(first.content_hash, {}, {}))
    assert (again.version, again.restatement) == (2, None)


def test_a_changed_month_is_the_next_version_and_says_what_changed(may):
    entry = _entry("an-older-hash", {"CNY": "15", "EUR": "1"},
                   {"CNY": {"qwen-max": "8.70", "qwen-plus": "6"}})
    view = build_statement(may, None, MANIFEST, sample_mapping(), "search", locale="en", ledger_entry=entry)
    assert view.version == 3
    restated = view.restatement
    assert restated is not None
    assert [(t.label, t.old, t.new) for t in restated.totals] == [
        ("Total CNY", Decimal(15), Decimal("17.3961333")),
        ("Total EUR", Decimal(1), Decimal(0)),
        ("Total USD", Decimal(0), Decimal("1.25")),
    ]
    changed = {t.label: (t.old, t.new) for t in restated.models}
    assert "qwen-max (CNY)" not in changed  # unchanged models are not listed
    assert changed["qwen-plus (CNY)"] == (Decimal(6), Decimal("8.1361333"))
    assert (restated.previous_version, restated.previous_status) == (2, "provisional")


def test_a_roll_up_is_a_statement_over_several_cost_centers_rows(may, april):
    from chargeback.reporting.view import rollup_scope

    scope = rollup_scope("science", "Science division", ["research", "ops"], owners=["head@example.com"])
    view = build_statement(may, april, MANIFEST, sample_mapping(), scope)
    assert (view.cost_center, view.kind, view.owners) == ("rollup:science", "rollup", ("head@example.com",))
    (cny,) = view.sections
    assert cny.total == expected_total("research", "CNY") + expected_total("ops", "CNY")
    assert {line.key: line.amount for line in cny.by_cost_center} == {
        "research": expected_total("research", "CNY"), "ops": expected_total("ops", "CNY")}
    assert cny.change is not None and cny.change.previous_total == Decimal(9)  # research's April


def test_a_workspace_statement_covers_every_cost_center_that_used_it(may):
    from chargeback.reporting.view import workspace_scope

    mapping = sample_mapping(MAPPING_YAML_WITH_OWNERS)
    view = build_statement(may, None, MANIFEST, mapping, workspace_scope(mapping, "llm-search"))
    assert (view.cost_center, view.name, view.owners) == ("workspace:llm-search", "Search production",
                                                         ("ws-lead@example.com",))
    cny = view.sections[0]
    assert cny.total == sum((r["billed_cost"] for r in may_rows() if r["workspace_id"] == "llm-search"
                             and r["currency"] == "CNY"), Decimal(0))
    assert [(p.rule, p.cost_center, p.amount) for p in cny.pools] == [
        ("console:proportional", "search", Decimal("0.3333333"))]
