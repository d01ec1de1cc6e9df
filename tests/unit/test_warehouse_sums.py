"""``read_allocation_sums``: a month's billed cost per dimension, from its cost summary where it has one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chargeback.warehouse import layout
from chargeback.warehouse.read import read_allocation_sums
from tests.support.alert_tables import series
from tests.support.memory_store import MemoryObjectStore
from tests.support.warehouse import publish_month

BY = ("cost_center", "workspace_id", "currency")


def _rows() -> list[dict[str, object]]:
    return [*series(date(2026, 5, 1), ["1.25", "2.5"], cost_center="search", workspace_id="llm-search"),
            *series(date(2026, 5, 1), ["0.125"], cost_center="labs", workspace_id="llm-labs")]


def _sums(store: MemoryObjectStore) -> dict[tuple[str, ...], Decimal]:
    frame = read_allocation_sums(store, "2026-05", BY)
    assert frame is not None
    return {tuple(str(r[c]) for c in BY): r["billed_cost"] for r in frame.to_dict("records")}


def test_the_sums_come_from_the_cost_summary_and_equal_the_allocations() -> None:
    with_summary, without = MemoryObjectStore(), MemoryObjectStore()
    manifest = publish_month(with_summary, "2026-05", _rows())
    publish_month(without, "2026-05", _rows(), with_costs=False)  # a month published before cost summaries
    expected = {("labs", "llm-labs", "CNY"): Decimal("0.125"), ("search", "llm-search", "CNY"): Decimal("3.75")}
    assert _sums(without) == expected
    assert _sums(with_summary) == expected
    # the summary alone answers: without the allocation table's object the sums are the same
    with_summary.delete(manifest.objects[layout.allocations_key("2026-05")].key)
    assert _sums(with_summary) == expected


def test_an_unpublished_month_has_no_sums() -> None:
    assert read_allocation_sums(MemoryObjectStore(), "2026-05", BY) is None
