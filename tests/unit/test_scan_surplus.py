"""The fast path (``bills.scan``) declines a CSV with a field after the last column, so the exact reader, which
refuses such a row with its line, decides the bill in UTF-8 as it does in GBK."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.bills.checks import month_forms
from chargeback.bills.reader import _header
from chargeback.bills.scan import CsvPart, ScanDeclined, scan_groups
from tests.support.malformed import HEADER, REAL_TOTAL, ROWS, encode


def _scan(tmp_path: Path, rows: list[list[str]]) -> Decimal:
    data = encode(HEADER, rows)
    path = tmp_path / "bill.csv"
    path.write_bytes(data)
    _, header = _header(data[:1 << 16], path.name)
    groups = scan_groups(CsvPart(str(path), has_header=True), header, month_forms("2026-05"))
    return Decimal(str(groups.table["billed_cost"].sum()))


def test_the_real_export_is_read_by_the_fast_path(tmp_path: Path) -> None:
    assert _scan(tmp_path, [list(r) for r in ROWS]) == REAL_TOTAL


@pytest.mark.parametrize("row", [0, 77, len(ROWS) - 1])
def test_a_field_after_the_last_column_declines_the_scan(tmp_path: Path, row: int) -> None:
    rows = [list(r) for r in ROWS]
    rows[row] += ["extra"]
    with pytest.raises(ScanDeclined, match="a field after the last column"):
        _scan(tmp_path, rows)
