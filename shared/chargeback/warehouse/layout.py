"""Where each table lives in the warehouse (a public contract: Athena, Spark and people read it).

    lines/billing_month=YYYY-MM/lines.parquet                normalized bill lines (day x instance grain)
    allocations/billing_month=YYYY-MM/allocations.parquet    who pays what (the Athena/Glue table)
    focus/billing_month=YYYY-MM/focus.parquet                FOCUS 1.2 view (1.0 by configuration)
    costs/billing_month=YYYY-MM/costs.parquet                allocations summed over the month's days (costs, dashboard)
    exports/billing_month=YYYY-MM/allocations.csv, focus.csv the same tables as CSV, for people and spreadsheets
    manifests/billing_month=YYYY-MM/manifest.json            published last: sources, counts, totals, status
    objects/billing_month=YYYY-MM/<table>/<name>-<sha256>.<ext>  every output's bytes, named by their hash
    state/...                                                ledgers of sent statements and alerts, leases
    dashboard/index.html, dashboard/billing_month=YYYY-MM/   the dashboard, and each month's last copy

The manifest names the objects under ``objects/`` that hold each output; our own readers read those. The
table keys above are copies of them for Athena, Spark and people, one object per partition, replaced whole
after the manifest (``chargeback.warehouse.publish``). ``objects/`` lies outside every table folder: Athena
reads every object in a partition's folder, and would otherwise count old versions too.
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


OBJECTS = "objects"


def objects_prefix(month: str) -> str:
    """The folder of the month's content-addressed objects."""
    return f"{partition(OBJECTS, month)}/"


def content_key(month: str, key: str, sha256: str) -> str:
    """Where the bytes of table key ``key`` whose SHA-256 is ``sha256`` are kept: the key under
    ``objects/billing_month=YYYY-MM/`` without its own partition folder, the hash before the extension.

    ``allocations/billing_month=2026-05/allocations.parquet`` -> ``objects/billing_month=2026-05/allocations/
    allocations-<sha256>.parquet``.
    """
    folders = [part for part in key.split("/")[:-1] if part != f"billing_month={check_month(month)}"]
    stem, dot, extension = key.rsplit("/", 1)[-1].rpartition(".")
    name = f"{stem}-{sha256}{dot}{extension}" if dot else f"{extension}-{sha256}"
    return "/".join([partition(OBJECTS, month), *folders, name])


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
