"""Streaming, column-pruned reading of bill files into exact per-day aggregates.

Each CSV (plain, or a member of a zip found by its magic bytes) is read in blocks by pyarrow with only the
needed columns, as strings; amounts become ``decimal128`` and are summed per block to the grain of
(billing date, instance ID, fee type, currency, unit, list price, ...), so memory does not grow with the file.
Rows of other products are counted and totalled; rows of other months are counted; bill lines seen in an
earlier file (same ``账单明细ID``) count once. Bad input raises InputError naming the file, line and field.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from chargeback.bills.discovery import BillFile
from chargeback.bills.headers import AMOUNT_FIELDS, map_header
from chargeback.bills.normalize import accounts, amounts, fee_types, iso_dates, list_prices, owner_name
from chargeback.columns import MODEL_STUDIO_PRODUCT
from chargeback.errors import InputError
from chargeback.fee_types import FREE_QUOTA
from chargeback.memory import release_memory
from chargeback.money import MONEY_TYPE
from chargeback.storage import LocalObjectStore, ObjectStore
from chargeback.warehouse.manifest import MemberCounts

log = logging.getLogger(__name__)


ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
BLOCK_SIZE = 1 << 20  # small blocks keep memory flat; parallelism comes from reading members at once
COMPACT_ROWS = 20_000
PROCESS_ROWS = 8192  # rows worked on together: fewer, larger vectorized calls

GROUP_FIELDS = ("billing_date", "account_id", "account_name", "payer_account_id", "payer_account_name",
                "commodity_code", "billing_item", "instance_id", "fee_type", "currency", "usage_unit",
                "list_unit_price", "price_unit", "region")



@dataclass
class FileResult:
    """The aggregates and counts of one bill object."""

    bill: BillFile
    sha256: str = ""
    parts: list[MemberCounts] = field(default_factory=list)  # one per CSV: the file, or each zip member
    aggregates: list[pa.Table] = field(default_factory=list)
    excluded: list[pa.Table] = field(default_factory=list)
    line_hashes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    free_quota: dict[str, str] = field(default_factory=dict)  # instance ID -> a usage-detail JSON
    totals: dict[str, Decimal] = field(default_factory=dict)  # billed cost of its kept lines, per currency


@dataclass
class MonthRead:
    """Everything read for a month: the Model Studio aggregates and what was left out, by file."""

    aggregates: pa.Table
    excluded: pa.Table  # product_code, currency, rows, billed_cost
    files: list[FileResult]
    free_quota: dict[str, str] = field(default_factory=dict)  # instance ID -> a free-quota usage detail


# ---------------------------------------------------------------------------------------------------------
# opening objects


@contextmanager
def _local_file(store: ObjectStore, bill: BillFile, tmpdir: Path) -> Iterator[tuple[Path, Callable[[], str]]]:
    """A local path for the object (the file itself, or a download) and a function giving its SHA-256."""
    if isinstance(store, LocalObjectStore):
        path = store.local_path(bill.key)
        yield path, lambda: _sha256_file(path)
        return
    target = tmpdir / hashlib.sha256(bill.key.encode()).hexdigest()
    digest = hashlib.sha256()
    with store.open(bill.key) as source, target.open("wb") as out:
        while chunk := source.read(4 << 20):
            digest.update(chunk)
            out.write(chunk)
    try:
        yield target, digest.hexdigest
    finally:
        target.unlink(missing_ok=True)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()  # releases the GIL on large blocks, so it overlaps with parsing
    with path.open("rb") as stream:
        while chunk := stream.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _members(path: Path, name: str) -> list[str]:
    """The CSV members of a zip, or [''] for a plain file. InputError for an empty or broken file."""
    with path.open("rb") as stream:
        magic = stream.read(4)
    if not magic:
        raise InputError("the file is empty", source=name)
    if magic not in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
        return [""]
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m.filename for m in archive.infolist() if not m.is_dir()]
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable zip archive (truncated or damaged): {exc}", source=name) from None
    csvs = [m for m in members if not m.rsplit("/", 1)[-1].startswith(".")]
    if not csvs:
        raise InputError("the zip archive holds no bill file", source=name)
    return sorted(csvs)


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``head`` and then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _sniff(head: bytes, name: str) -> tuple[str, list[str]]:
    """(encoding, header cells) from the first bytes of a CSV."""
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError("the file is empty (no header row)", source=name, line=1)
    cut = head.rfind(b"\n")
    sample = head[: cut + 1] if cut >= 0 else head
    encoding = "utf-8"
    try:
        text = codecs.decode(sample, "utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = codecs.decode(sample, "gbk")
        except UnicodeDecodeError:
            raise InputError("neither UTF-8 nor GBK text", source=name, line=1) from None
        encoding = "gbk"
    first_line = text.split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([first_line]))
    return encoding, header


# ---------------------------------------------------------------------------------------------------------
# one CSV stream


def _month_forms(month: str) -> pa.Array:
    return pa.array([month.replace("-", ""), month, month.replace("-", "/")])


def _aggregate(table: pa.Table) -> pa.Table:
    sums = [(a, "sum") for a in (*AMOUNT_FIELDS, "line_count")]
    grouped = table.group_by(list(GROUP_FIELDS), use_threads=False).aggregate(sums)
    return grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])


def _aggregate_excluded(table: pa.Table) -> pa.Table:
    grouped = table.group_by(["product_code", "currency"], use_threads=False).aggregate(
        [("billed_cost", "sum"), ("line_count", "sum")]
    )
    return grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])


def _compact(parts: list[pa.Table], aggregate: Callable[[pa.Table], pa.Table]) -> list[pa.Table]:
    if sum(p.num_rows for p in parts) < COMPACT_ROWS or len(parts) < 2:
        return parts
    return [aggregate(pa.concat_tables(parts))]


def _hash_ids(ids: pa.Array) -> np.ndarray:
    values = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    return np.asarray(pd.util.hash_array(values), dtype=np.uint64)


@dataclass
class _Partial:
    """What one CSV stream contributes: aggregates, excluded totals, line hashes and its counts."""

    aggregates: list[pa.Table] = field(default_factory=list)
    excluded: list[pa.Table] = field(default_factory=list)
    hashes: list[np.ndarray] = field(default_factory=list)
    free_quota: dict[str, str] = field(default_factory=dict)  # instance ID -> a usage-detail JSON
    header: MemberCounts = field(default_factory=MemberCounts)  # the CSV's dialect, language and encoding
    counts: Counter[str] = field(default_factory=Counter)  # rows, model_studio_rows, ... (MemberCounts)

    def member_counts(self, member: str) -> MemberCounts:
        c = self.counts
        return replace(self.header, member=member, rows=c["rows"], model_studio_rows=c["model_studio_rows"],
                       other_product_rows=c["other_product_rows"], other_month_rows=c["other_month_rows"],
                       duplicate_rows=c["duplicate_rows"])


def read_csv_stream(
    source: Path | IO[bytes],
    name: str,
    month: str,
    *,
    default_currency: str,
    seen_lines: np.ndarray | None = None,
    collect_hashes: bool = False,
    use_threads: bool = True,
    bill_account: str = "",
) -> _Partial:
    """Read one CSV (a local path, read natively, or a stream) into a partial result with its counts.

    ``bill_account`` is the UID in the file name: the payer of rows whose bill names none.
    """
    partial = _Partial()
    if isinstance(source, Path):
        with source.open("rb") as stream:
            head = stream.read(1 << 16)
    else:
        head = source.read(1 << 16)
    encoding, header = _sniff(head, name)
    header_map, missing = map_header(header)
    if header_map is None:
        raise InputError("the header row is not a Model Studio bill header", source=name, line=1)
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", source=name, line=1)
    partial.header = MemberCounts(dialect=header_map.dialect, language=header_map.language, encoding=encoding)
    wanted = dict(header_map.columns)
    if not (collect_hashes or seen_lines is not None):
        wanted.pop("line_id", None)
    by_header = {v: k for k, v in wanted.items()}
    csv_input = str(source) if isinstance(source, Path) else _Prefixed(head, source)
    try:
        reader = pacsv.open_csv(
            csv_input,
            read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, encoding=encoding, use_threads=use_threads),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(wanted.values()),
                column_types={h: pa.string() for h in wanted.values()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"not a readable CSV: {exc}", source=name, line=1) from None
    forms = _month_forms(month)
    first_line = 2
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    while True:
        try:
            batch: pa.RecordBatch | None = reader.read_next_batch()
        except StopIteration:
            batch = None
        except (pa.ArrowInvalid, UnicodeDecodeError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"unreadable CSV after line {first_line + pending_rows - 1}: {exc}", source=name,
                             line=first_line + pending_rows) from None
        if batch is not None and batch.num_rows:
            pending.append(batch)
            pending_rows += batch.num_rows
        # small blocks keep parsing memory low; work on a few of them at once to spread per-call costs
        if pending and (batch is None or pending_rows >= PROCESS_ROWS):
            chunk = pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            _read_batch(chunk, by_header, wanted, forms, name, first_line, partial,
                        default_currency=default_currency, seen_lines=seen_lines, collect_hashes=collect_hashes,
                        bill_account=bill_account)
            first_line += pending_rows
            pending, pending_rows = [], 0
            release_memory(heap=False)
        if batch is None:
            return partial


def _read_batch(
    batch: pa.RecordBatch,
    by_header: dict[str, str],
    wanted: dict[str, str],
    forms: pa.Array,
    name: str,
    first_line: int,
    partial: _Partial,
    *,
    default_currency: str,
    seen_lines: np.ndarray | None,
    collect_hashes: bool,
    bill_account: str,
) -> None:
    n = batch.num_rows
    cols = {by_header[h]: batch.column(h) for h in batch.schema.names}
    for optional in GROUP_FIELDS:
        if optional not in cols:
            cols[optional] = pa.nulls(n, pa.string()).fill_null("")
    counts = partial.counts
    counts["rows"] += n
    in_month = pc.is_in(cols["billing_month"], value_set=forms)
    counts["other_month_rows"] += n - (pc.sum(in_month).as_py() or 0)
    dates = iso_dates(cols["billing_date"], wanted["billing_date"], name, first_line)
    if "list_unit_price" in wanted:
        cols["list_unit_price"] = list_prices(cols["list_unit_price"], wanted["list_unit_price"], name, first_line)
    cols["fee_type"] = fee_types(cols["fee_type"])
    cols["account_name"] = owner_name(cols["account_name"], cols["payer_account_name"], cols["account_id"])
    cols["payer_account_id"], cols["account_id"] = accounts(cols["payer_account_id"], cols["account_id"],
                                                            bill_account)
    if "line_id" in cols:
        hashes = _hash_ids(cols["line_id"])
        if collect_hashes:
            partial.hashes.append(hashes[in_month.to_numpy(zero_copy_only=False)])
        if seen_lines is not None and seen_lines.size:
            positions = np.searchsorted(seen_lines, hashes).clip(0, seen_lines.size - 1)
            fresh = pa.array(seen_lines[positions] != hashes)
            counts["duplicate_rows"] += pc.sum(pc.and_(in_month, pc.invert(fresh))).as_py() or 0
            in_month = pc.and_(in_month, fresh)
    is_ms = pc.equal(cols["product_code"], MODEL_STUDIO_PRODUCT)
    keep = pc.and_(in_month, is_ms)
    excluded = pc.and_(in_month, pc.invert(is_ms))
    kept = pc.sum(keep).as_py() or 0
    left_out = pc.sum(excluded).as_py() or 0
    if not kept and not left_out:
        return
    currency = pc.if_else(pc.equal(cols["currency"], ""), default_currency, cols["currency"])
    table = pa.table({
        **{f: cols[f] for f in GROUP_FIELDS},
        "billing_date": dates,
        "currency": currency,
        **{
            a: (amounts(cols[a], wanted[a], name, first_line) if a in cols
                else pa.array([Decimal(0)] * n, MONEY_TYPE))
            for a in AMOUNT_FIELDS
        },
        "line_count": pa.array(np.ones(n, dtype=np.int64)),
        "product_code": cols["product_code"],
    })
    if kept and "usage_detail" in cols:
        _collect_free_quota(cols, keep, partial)
    if kept:
        counts["model_studio_rows"] += kept
        partial.aggregates.append(_aggregate(table.filter(keep) if kept < n else table))
        partial.aggregates = _compact(partial.aggregates, _aggregate)
    if left_out:
        counts["other_product_rows"] += left_out
        partial.excluded.append(_aggregate_excluded(table.filter(excluded)))
        partial.excluded = _compact(partial.excluded, _aggregate_excluded)


def _collect_free_quota(cols: dict[str, pa.Array], keep: pa.Array, partial: _Partial) -> None:
    """Keep the first usage-detail JSON of each instance's free-quota rows: it names the grant."""
    free = pc.and_(keep, pc.equal(cols["fee_type"], FREE_QUOTA))
    if not pc.any(free).as_py():
        return
    table = pa.table({"instance_id": pc.filter(cols["instance_id"], free),
                      "detail": pc.filter(cols["usage_detail"], free)})
    firsts = table.group_by("instance_id", use_threads=False).aggregate([("detail", "first")])
    for instance_id, detail in zip(firsts.column("instance_id").to_pylist(),
                                   firsts.column("detail_first").to_pylist(), strict=True):
        partial.free_quota.setdefault(instance_id, detail)


def merge_samples(into: dict[str, str], more: dict[str, str]) -> None:
    for instance_id, detail in more.items():
        into.setdefault(instance_id, detail)


def read_bill_file(
    store: ObjectStore,
    bill: BillFile,
    month: str,
    *,
    default_currency: str,
    tmpdir: Path,
    seen_lines: np.ndarray | None = None,
    collect_hashes: bool = False,
    workers: int = 1,
) -> FileResult:
    """Read one bill object (plain CSV or zip of CSVs); zip members are read in parallel."""
    result = FileResult(bill)
    with _local_file(store, bill, tmpdir) as (path, digest), ThreadPoolExecutor(1) as hasher:
        hashing = hasher.submit(digest)
        members = _members(path, bill.key)

        def read_member(member: str) -> tuple[str, _Partial]:
            name = f"{bill.key}!{member}" if member else bill.key
            options = {"default_currency": default_currency, "seen_lines": seen_lines,
                       "collect_hashes": collect_hashes, "bill_account": bill.account,
                       # Arrow's own threads for a lone CSV; several members are read side by side instead
                       "use_threads": len(members) == 1}
            if not member:
                return member, read_csv_stream(path, name, month, **options)  # type: ignore[arg-type]
            try:
                with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
                    return member, read_csv_stream(stream, name, month, **options)  # type: ignore[arg-type]
            except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
                raise InputError(f"damaged zip member: {exc}", source=name) from None

        if workers > 1 and len(members) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes = list(pool.map(read_member, members))
        else:
            outcomes = [read_member(m) for m in members]
        for member, partial in outcomes:
            merge_samples(result.free_quota, partial.free_quota)
            result.parts.append(partial.member_counts(member))
            result.aggregates.extend(partial.aggregates)
            result.excluded.extend(partial.excluded)
        hashes = [h for _, partial in outcomes for h in partial.hashes]
        if hashes:
            result.line_hashes = np.concatenate(hashes)
        result.sha256 = hashing.result()
    result.totals = _totals(result.aggregates)
    return result


def _totals(aggregates: list[pa.Table]) -> dict[str, Decimal]:
    """Billed cost per currency of some aggregates, exact."""
    totals: dict[str, Decimal] = {}
    for table in aggregates:
        grouped = table.group_by("currency", use_threads=False).aggregate([("billed_cost", "sum")])
        for currency, amount in zip(grouped["currency"].to_pylist(), grouped["billed_cost_sum"].to_pylist(),
                                    strict=True):
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    return dict(sorted(totals.items()))


def read_month(
    store: ObjectStore,
    bills: list[BillFile],
    month: str,
    *,
    default_currency: str = "CNY",
    workers: int = 2,
    progress: Callable[[BillFile], None] | None = None,
) -> MonthRead:
    """Read every authoritative file of a month, in parallel; lines seen in an earlier file count once."""
    dedupe = len(bills) > 1
    with tempfile.TemporaryDirectory(prefix="chargeback-") as tmp:
        tmpdir = Path(tmp)

        def read_one(bill: BillFile) -> FileResult:
            result = read_bill_file(store, bill, month, default_currency=default_currency, tmpdir=tmpdir,
                                    collect_hashes=dedupe, workers=workers)
            if progress:
                progress(bill)
            return result

        if workers > 1 and len(bills) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(read_one, bills))
        else:
            results = [read_one(b) for b in bills]
        if dedupe:
            seen = np.empty(0, dtype=np.uint64)
            for index, result in enumerate(results):
                if seen.size and np.isin(result.line_hashes, seen).any():
                    log.info("re-reading %s without lines seen in earlier files", result.bill.key)
                    results[index] = read_bill_file(store, result.bill, month, default_currency=default_currency,
                                                    tmpdir=tmpdir, seen_lines=seen, workers=workers)
                seen = np.union1d(seen, result.line_hashes)
                results[index].line_hashes = np.empty(0, dtype=np.uint64)
    release_memory()
    free_quota: dict[str, str] = {}
    for result in results:
        merge_samples(free_quota, result.free_quota)
    aggregates = [t for r in results for t in r.aggregates]
    excluded = [t for r in results for t in r.excluded]
    return MonthRead(
        aggregates=_aggregate(pa.concat_tables(aggregates)) if aggregates else _empty_aggregate(),
        excluded=_aggregate_excluded(pa.concat_tables(excluded)) if excluded else _empty_excluded(),
        files=results,
        free_quota=free_quota,
    )


def _empty_aggregate() -> pa.Table:
    fields = [pa.field(f, pa.string()) for f in GROUP_FIELDS]
    fields += [pa.field(a, MONEY_TYPE) for a in AMOUNT_FIELDS] + [pa.field("line_count", pa.int64())]
    return pa.schema(fields).empty_table()


def _empty_excluded() -> pa.Table:
    return pa.schema([("product_code", pa.string()), ("currency", pa.string()), ("billed_cost", MONEY_TYPE),
                      ("line_count", pa.int64())]).empty_table()


__all__ = ["FileResult", "MonthRead", "read_bill_file", "read_month"]
