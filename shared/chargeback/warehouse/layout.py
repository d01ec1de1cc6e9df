"""Where each table lives in the warehouse (a public contract: Athena, Spark and people read it).

    lines/billing_month=YYYY-MM/lines.parquet                normalized bill lines (day x instance grain)
    allocations/billing_month=YYYY-MM/allocations.parquet    who pays what (the Athena/Glue table)
    focus/billing_month=YYYY-MM/focus.parquet                FOCUS 1.2 view (1.0 by configuration)
    exports/billing_month=YYYY-MM/allocations.csv, focus.csv the same tables as CSV, for people and spreadsheets
    manifests/billing_month=YYYY-MM/manifest.json            published last: sources, counts, totals, status
    state/...                                                ledgers of sent statements and alerts
"""

from __future__ import annotations

from chargeback.months import check_month


def partition(table: str, month: str) -> str:
    return f"{table}/billing_month={check_month(month)}"


def lines_key(month: str) -> str:
    return f"{partition('lines', month)}/lines.parquet"


def allocations_key(month: str, ext: str = "parquet") -> str:
    """The Parquet table, or (ext='csv') its CSV copy under exports/.

    Athena and Spark read every object in a table's folder, so the CSV copies live apart from the Parquet.
    """
    if ext == "csv":
        return f"{partition('exports', month)}/allocations.csv"
    return f"{partition('allocations', month)}/allocations.{ext}"


def focus_key(month: str, ext: str = "parquet") -> str:
    """The FOCUS Parquet table (1.2, or 1.0 by configuration), or (ext='csv') its CSV copy under exports/."""
    if ext == "csv":
        return f"{partition('exports', month)}/focus.csv"
    return f"{partition('focus', month)}/focus.{ext}"


def manifest_key(month: str) -> str:
    return f"{partition('manifests', month)}/manifest.json"


def state_key(name: str) -> str:
    """A ledger or state document under state/, e.g. state_key('statements/ledger.json')."""
    return f"state/{name}"
