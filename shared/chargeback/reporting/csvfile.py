"""The CSV attached to a statement: the cost center's allocation rows, safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a
formula; such text cells get a leading apostrophe. Money and usage columns hold exact decimals written by
us, so a negative amount stays a number (``-1.5``). UTF-8 with a byte-order mark, so Excel reads Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from chargeback.columns import ALLOCATION_AMOUNTS, ALLOCATION_COLUMNS
from chargeback.config.file import ConfigFile
from chargeback.money import format_decimal
from chargeback.warehouse.publish import FORMULA_PREFIXES

NUMERIC_COLUMNS = frozenset(ALLOCATION_AMOUNTS)


def csv_columns() -> tuple[str, ...]:
    """ALLOCATION_COLUMNS with the readable names beside the ids they explain."""
    columns: list[str] = []
    for column in ALLOCATION_COLUMNS:
        columns.append(column)
        if column == "workspace_id":
            columns.append("workspace_label")
        elif column == "cost_center":
            columns.append("cost_center_name")
    return tuple(columns)


def neutralise(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading apostrophe before a formula character."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _cell(column: str, value: Any) -> str:
    if column in NUMERIC_COLUMNS:
        return format_decimal(value)
    if column == "share":
        return repr(float(value))
    return neutralise(str(value))


def statement_csv(rows: Iterable[Mapping[str, Any]], config: ConfigFile) -> bytes:
    """The rows (as ``cost_center_rows`` gives them) as CSV bytes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = csv_columns()
    writer.writerow(columns)
    for row in rows:
        values = dict(row)
        values["workspace_label"] = config.workspace_labels.get(row["workspace_id"], "")
        values["cost_center_name"] = config.cost_center_name(row["cost_center"])
        writer.writerow([_cell(c, values[c]) for c in columns])
    return out.getvalue().encode("utf-8-sig")
