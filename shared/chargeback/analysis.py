"""The Python API for analysts: a warehouse's months as Arrow tables, and as pandas with exact money.

    import chargeback
    wh = chargeback.open_warehouse("s3://my-warehouse")          # or a folder, or oss://bucket/prefix
    may = wh.allocations(month="2026-05")                        # Arrow (``may.arrow`` is the pyarrow.Table)
    frame = may.to_pandas()                                      # money as pd.ArrowDtype(decimal128(p, s))
    frame.groupby("model")["billed_cost"].sum()                  # exact decimal sums
    year = wh.allocations(month="2026-01", to="2026-12", columns=["model", "currency", "billed_cost"])

Each month is read as ``chargeback costs`` reads it (``chargeback.queries.scan``): only the months and
columns asked for, each checked against its manifest; a month that is missing or does not match it raises
:class:`WarehouseMonthsError`, which names every such month and what to run (an analysis never silently
misses a month). Months published by older versions read in today's types (``chargeback.warehouse.tables``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.columns import PUBLISHED_ALLOCATION_COLUMNS, PUBLISHED_LINE_COLUMNS
from chargeback.errors import ChargebackError, InputError
from chargeback.money import finest_places
from chargeback.months import MONTH_PATTERN, check_month, months_between
from chargeback.queries.costs import MAX_MONTHS, CostAnswer, CostQuery, ask_costs, parse_where
from chargeback.queries.scan import MonthProblem, Scan, concat, scan_allocations, scan_lines
from chargeback.storage import ObjectStore, open_store

if TYPE_CHECKING:
    import pandas as pd

PANDAS_PRECISION = 18
"""Digits of the money columns in pandas: Arrow widens a decimal's precision in + - x /, and decimal128 stops at
38, so 38 digits would leave no room; 18 (up to a million million with 6 decimals, say) leaves it."""


class WarehouseMonthsError(ChargebackError):
    """Some months asked for cannot be read; ``problems`` says which and why."""

    def __init__(self, problems: Sequence[MonthProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(p.message for p in problems))


class Table:
    """An Arrow table of warehouse rows (``arrow``); ``to_pandas`` keeps money exact.

    It speaks the Arrow C stream interface (``pyarrow.table(t)``, DuckDB and polars read it as it is), and it
    answers what a ``pyarrow.Table`` answers (``num_rows``, ``schema``, ``column``, ``group_by``...).
    """

    def __init__(self, table: pa.Table) -> None:
        self.arrow = table

    def __getattr__(self, name: str) -> Any:
        return getattr(self.arrow, name)

    def __len__(self) -> int:
        return int(self.arrow.num_rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.arrow.columns)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.arrow.__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        return f"chargeback.Table({self.arrow.num_rows} rows: {', '.join(self.arrow.column_names)})"

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame whose money and usage columns are ``pd.ArrowDtype(decimal128(18, s))``, ``s`` the finest
        decimal places the column carries (exact: sums, group sums, + and -, x and / by numbers stay exact
        decimals), ``billing_date`` ``pd.ArrowDtype(date32)``, ``tokens`` ``pd.ArrowDtype(int64)`` (null where the
        unit counts no tokens), text as str. A column too large for 18 digits keeps ``decimal128(38, 12)``."""
        import pandas as pd

        table = self.arrow
        for index, field in enumerate(table.schema):
            if pa.types.is_decimal(field.type):
                narrow = pa.decimal128(PANDAS_PRECISION, finest_places(table.column(index)))
                try:
                    table = table.set_column(index, field.name, pc.cast(table.column(index), narrow))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    continue  # too large for 18 digits: kept as it is

        def dtype(kind: pa.DataType) -> Any:
            exact = pa.types.is_decimal(kind) or pa.types.is_date(kind) or pa.types.is_integer(kind)
            return pd.ArrowDtype(kind) if exact else None

        frame: pd.DataFrame = table.to_pandas(types_mapper=dtype)
        return frame


class Warehouse:
    """A published warehouse: its months, their allocations and lines, and the costs question."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.url = store.url

    def __repr__(self) -> str:
        return f"chargeback.Warehouse({self.url!r})"

    def months(self) -> list[str]:
        """The months with a manifest, oldest first."""
        found = {info.key.split("/")[1].removeprefix("billing_month=") for info in self.store.list("manifests/")
                 if info.key.count("/") == 2 and info.key.endswith("/manifest.json")}
        return sorted(m for m in found if MONTH_PATTERN.match(m))

    def _range(self, month: str, to: str | None) -> list[str]:
        check_month(month, field="month")
        if to is not None:
            check_month(to, field="to")
            if to < month:
                raise InputError(f"to {to} is before month {month}", field="to")
        months = months_between(month, to or month)
        if len(months) > MAX_MONTHS:
            raise InputError(f"{len(months)} months asked; at most {MAX_MONTHS} at once", field="to")
        return months

    @staticmethod
    def _table(scan: Scan, columns: Sequence[str]) -> Table:
        if scan.problems:
            raise WarehouseMonthsError(scan.problems)
        table = concat(scan)
        assert table is not None  # a scan without problems read every month asked for, at least one
        return Table(table.select(list(columns)))

    @staticmethod
    def _columns(columns: Sequence[str] | None, known: Sequence[str], what: str) -> list[str]:
        unknown = [c for c in columns or () if c not in known]
        if unknown:
            raise InputError(f"{', '.join(unknown)}: not a column of the {what} (chargeback.columns)",
                             field="columns")
        return list(columns or known)

    def allocations(self, month: str, to: str | None = None, *, columns: Sequence[str] | None = None) -> Table:
        """The allocation rows of ``month`` (to ``to``, inclusive): ``chargeback.columns.
        PUBLISHED_ALLOCATION_COLUMNS``, or only ``columns``."""
        wanted = self._columns(columns, PUBLISHED_ALLOCATION_COLUMNS, "allocations")
        return self._table(scan_allocations(self.store, self._range(month, to), wanted), wanted)

    def lines(self, month: str, to: str | None = None, *, columns: Sequence[str] | None = None) -> Table:
        """The normalized bill lines (``chargeback.columns.PUBLISHED_LINE_COLUMNS``, or only ``columns``)."""
        wanted = self._columns(columns, PUBLISHED_LINE_COLUMNS, "lines")
        return self._table(scan_lines(self.store, self._range(month, to), wanted), wanted)

    def costs(self, month: str, to: str | None = None, *, by: Sequence[str] = (), where: Sequence[str] = (),
              top: int | None = None) -> CostAnswer:
        """``chargeback costs`` in Python; ``where`` as on the command line (``["model=qwen-max*"]``)."""
        return ask_costs(self.store, CostQuery(month, to, tuple(by), parse_where(where), top))


def open_warehouse(url: str, **options: Any) -> Warehouse:
    """The warehouse at ``url`` (a folder, ``file://``, ``s3://`` or ``oss://``); ``options`` go to the store
    (e.g. a boto3 ``client=``, an OSS ``endpoint=``)."""
    return Warehouse(open_store(url, **options))


__all__ = ["PANDAS_PRECISION", "Table", "Warehouse", "WarehouseMonthsError", "open_warehouse"]
