"""Small vectorized helpers over Arrow columns that more than one part of the pipeline needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def map_distinct(column: pa.ChunkedArray | pa.Array, convert: Callable[[Any], Any],
                 type_: pa.DataType | None = None) -> pa.Array:
    """``convert`` applied to each distinct value of ``column`` only, spread back over every row.

    For the per-value Python work (parsing an instance ID, a date, a label) on columns with few distinct values.
    """
    distinct = pc.unique(column)
    results = pa.array([convert(value) for value in distinct.to_pylist()], type_ or pa.string())
    return pc.take(results, pc.index_in(column, value_set=distinct))
