"""Usage files of shared API keys (``usage_splits``): who behind a gateway used how many tokens, and when.

A usage file is CSV (UTF-8, a header line) or Parquet with the columns ``date`` (YYYY-MM-DD, the billing day),
``consumer``, ``tokens`` (a whole number, at least 0) and optionally ``model`` (the bill's model name); other
columns are ignored and rows of one day, consumer and model add up. A bad cell is an InputError naming the file,
the line (CSV; the row for Parquet) and the column. ``SplitUsage.weights`` answers, for one bill line, the tokens
per consumer that split its cost, and on what basis:

    file with a model:    that day and model, else the month and model, else that day, else the month
    file without model:   that day, else the month

so a day without usage records falls back to the month's proportions. A month without any usage of the key
leaves its lines to the rules and mappings that follow.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chargeback.config.file import ConfigFile
from chargeback.errors import InputError
from chargeback.vectors import map_distinct, sum_by

USAGE_COLUMNS = ("date", "consumer", "tokens")
MODEL_COLUMN = "model"
PARQUET_MAGIC = b"PAR1"

Basis = Literal["day", "month", "day_all_models", "month_all_models"]
Tokens = dict[str, int]  # consumer -> tokens


@dataclass(frozen=True)
class SplitUsage:
    """One shared key's usage: tokens by (day, model, consumer); ``model`` '' when the file has none."""

    api_key: str
    location: str
    has_model: bool
    tokens: Mapping[tuple[str, str, str], int]  # (YYYY-MM-DD, model, consumer) -> tokens
    _by_day: dict[tuple[str, str], Tokens] = field(default_factory=dict, repr=False, compare=False)
    _by_month: dict[tuple[str, str], Tokens] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for (day, model, consumer), count in self.tokens.items():
            for key in ((day, model), (day, "")) if self.has_model else ((day, ""),):
                self._by_day.setdefault(key, defaultdict(int))[consumer] += count
            for key in ((day[:7], model), (day[:7], "")) if self.has_model else ((day[:7], ""),):
                self._by_month.setdefault(key, defaultdict(int))[consumer] += count

    def has_month(self, month: str) -> bool:
        """Whether any consumer used the key in ``month`` (YYYY-MM)."""
        return bool(self.month_tokens(month))

    def month_tokens(self, month: str) -> Tokens:
        """Tokens per consumer in ``month`` (YYYY-MM), all models."""
        return _positive(self._by_month.get((month, ""), {}))

    def weights(self, day: str, model: str) -> tuple[Tokens, Basis] | None:
        """Tokens per consumer that split a line of ``model`` billed on ``day``, and which usage they are (the
        day's, the month's, or with a model file those of all models); None when the month has no usage."""
        month = day[:7]
        steps: tuple[tuple[Basis, dict[tuple[str, str], Tokens], tuple[str, str]], ...] = (
            ("day", self._by_day, (day, model)), ("month", self._by_month, (month, model)),
            ("day_all_models", self._by_day, (day, "")), ("month_all_models", self._by_month, (month, "")),
        ) if self.has_model else (("day", self._by_day, (day, "")), ("month", self._by_month, (month, "")))
        for basis, table, key in steps:
            found = _positive(table.get(key, {}))
            if found:
                return found, basis
        return None


def _positive(tokens: Mapping[str, int]) -> Tokens:
    return {consumer: count for consumer, count in sorted(tokens.items()) if count > 0}


@dataclass(frozen=True)
class UsageData:
    """The usage of every shared key, and a digest of the files (a changed file re-allocates the month)."""

    splits: Mapping[str, SplitUsage] = field(default_factory=dict)
    digest: str = ""

    def of(self, api_key: str) -> SplitUsage | None:
        return self.splits.get(api_key)


NO_USAGE = UsageData()


def load_usage(mapping: ConfigFile) -> UsageData:
    """The usage files of the mapping's ``usage_splits``, read and checked; InputError for a bad file."""
    if not mapping.usage_splits:
        return NO_USAGE
    digest = hashlib.sha256()
    splits = {}
    for split in mapping.usage_splits:
        location, data = mapping.read_file(split.source)
        digest.update(split.api_key.encode() + b"\0" + hashlib.sha256(data).digest())
        splits[split.api_key] = read_usage(data, location, split.api_key)
    return UsageData(splits, digest.hexdigest())


def read_usage(data: bytes, source: str, api_key: str = "") -> SplitUsage:
    """A usage file (CSV or Parquet, told apart by their bytes) as tokens by day, model and consumer."""
    parquet = data[:4] == PARQUET_MAGIC
    table = _parquet(data, source) if parquet else _csv(data, source)
    first_line = 1 if parquet else 2  # the rows of a Parquet file, the lines of a CSV after its header
    missing = [c for c in USAGE_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"missing column (a usage file has {', '.join(USAGE_COLUMNS)} and optionally model)",
                         source=source, line=None if parquet else 1, field=missing[0])
    has_model = MODEL_COLUMN in table.column_names
    days = _dates(table["date"], source, first_line)
    consumers = _text(table["consumer"], "consumer", source, first_line)
    _required(consumers, "consumer", source, first_line)
    models = _text(table[MODEL_COLUMN], MODEL_COLUMN, source, first_line) if has_model \
        else pa.array([""] * table.num_rows, pa.string())
    tokens = _tokens(table["tokens"], source, first_line)
    grouped = sum_by(pa.table({"date": days, "model": models, "consumer": consumers, "tokens": tokens}),
                     ("date", "model", "consumer"), ("tokens",))
    counts = {(d, m, c): int(t) for d, m, c, t in zip(
        grouped["date"].to_pylist(), grouped["model"].to_pylist(), grouped["consumer"].to_pylist(),
        grouped["tokens"].to_pylist(), strict=True)}
    return SplitUsage(api_key, source, has_model, counts)


def _csv(data: bytes, source: str) -> pa.Table:
    try:
        return pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in (*USAGE_COLUMNS, MODEL_COLUMN)}, strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV usage file: {exc}", source=source) from None


def _parquet(data: bytes, source: str) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet usage file: {exc}", source=source) from None


def _first_bad(mask: pa.Array) -> int:
    return int(pc.index(mask, True).as_py())


def _any(mask: pa.Array) -> bool:
    """Whether any value of a boolean column is true (False for none at all)."""
    return bool(pc.any(mask, min_count=0).as_py())


def _text(column: pa.ChunkedArray, name: str, source: str, first_line: int) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        values = column
    elif pa.types.is_integer(column.type) and name == "consumer":
        values = pc.cast(column, pa.string())  # user IDs written as numbers
    else:
        raise InputError(f"must be text, not {column.type}", source=source, field=name)
    nulls = pc.is_null(values)
    filled = pc.if_else(nulls, "", values)
    return pc.utf8_trim_whitespace(filled.combine_chunks() if isinstance(filled, pa.ChunkedArray) else filled)


def _required(values: pa.Array, name: str, source: str, first_line: int) -> None:
    empty = pc.equal(values, "")
    if _any(empty):
        raise InputError("required", source=source, line=first_line + _first_bad(empty), field=name)


def _iso_day(text: str) -> str | None:
    try:
        return date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None


def _dates(column: pa.ChunkedArray, source: str, first_line: int) -> pa.Array:
    if pa.types.is_date(column.type):
        days = pc.cast(column, pa.string()).combine_chunks()
        if days.null_count:
            raise InputError("required", source=source, line=first_line + _first_bad(pc.is_null(days)), field="date")
        return days
    if pa.types.is_timestamp(column.type):
        raise InputError("must be a date (YYYY-MM-DD), not a time: write the billing day (China time)",
                         source=source, field="date")
    text = _text(column, "date", source, first_line)
    parsed = map_distinct(text, _iso_day)
    bad = pc.is_null(parsed)
    if _any(bad):
        index = _first_bad(bad)
        raise InputError(f"{text[index].as_py()!r} is not a date (YYYY-MM-DD)", source=source,
                         line=first_line + index, field="date")
    return parsed


def _tokens(column: pa.ChunkedArray, source: str, first_line: int) -> pa.Array:
    values = column.combine_chunks()
    if pa.types.is_integer(values.type):
        counts = pc.cast(values, pa.int64())
        negative = pc.fill_null(pc.less(counts, 0), True)
        if _any(negative):
            index = _first_bad(negative)
            raise InputError(f"{counts[index].as_py()} is not a number of tokens (a whole number, at least 0)",
                             source=source, line=first_line + index, field="tokens")
        return counts
    text = pc.if_else(pc.is_null(values), "", pc.utf8_trim_whitespace(pc.cast(values, pa.string())))
    valid = pc.match_substring_regex(text, r"^\+?\d{1,18}(\.0*)?$")
    if _any(pc.invert(valid)):
        index = _first_bad(pc.invert(valid))
        raise InputError(f"{text[index].as_py()!r} is not a number of tokens (a whole number, at least 0)",
                         source=source, line=first_line + index, field="tokens")
    return pc.cast(pc.replace_substring_regex(text, r"\.0*$", ""), pa.int64())


__all__ = ["NO_USAGE", "SplitUsage", "UsageData", "load_usage", "read_usage"]
