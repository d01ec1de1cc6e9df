"""Where each table lives in the warehouse (a public contract: Athena, Spark and people read it).

    lines/billing_month=YYYY-MM/lines.parquet                normalized bill lines (day x instance grain)
    allocations/billing_month=YYYY-MM/allocations.parquet    who pays what (the Athena/Glue table)
    focus/billing_month=YYYY-MM/focus.parquet                FOCUS 1.0 view
    costs/billing_month=YYYY-MM/costs.parquet                allocations summed over the month's days (costs, dashboard)
    exports/billing_month=YYYY-MM/allocations.csv, focus.csv the same tables as CSV, for people and spreadsheets
    manifests/billing_month=YYYY-MM/manifest.json            published last: sources, counts, totals, status
    state/...                                                ledgers of sent statements and alerts
    dashboard/index.html, dashboard/billing_month=YYYY-MM/   the dashboard, and each month's last copy
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
    """The FOCUS 1.0 Parquet table, or (ext='csv') its CSV copy under exports/."""
    if ext == "csv":
        return f"{partition('exports', month)}/focus.csv"
    return f"{partition('focus', month)}/focus.{ext}"


def costs_key(month: str) -> str:
    """The month's cost summary (``chargeback.queries.summary``)."""
    return f"{partition('costs', month)}/costs.parquet"


def dashboard_key(month: str | None = None) -> str:
    """The dashboard (``dashboard/index.html``), or the copy kept for ``month``."""
    return f"{partition('dashboard', month)}/index.html" if month else "dashboard/index.html"


def manifest_key(month: str) -> str:
    return f"{partition('manifests', month)}/manifest.json"


def state_key(name: str) -> str:
    """A ledger or state document under state/, e.g. state_key('statements/ledger.json')."""
    return f"state/{name}"
