"""Reading a month's authoritative bill files into exact aggregates, every row counted, every line once.

For each bill object (:mod:`chargeback.bills.sources`): its bytes as fetched are hashed, a zip is opened once
and its CSV members inflated in turn; each CSV's header is mapped (:mod:`chargeback.bills.headers`: a missing
needed column or an ambiguous one is an error) and its rows summed to raw groups by the fast path
(:mod:`chargeback.bills.scan`, polars) or, where that declines, the exact reader (:mod:`chargeback.bills.exact`,
pyarrow); the groups' text fields are checked (:mod:`chargeback.bills.checks`), an error naming the file, the
line and the field. Rows of other months are counted; rows of other products counted and totalled.

A bill line (``账单明细ID``) counts once across files and zip members alike. Only where two inputs can overlap
(the month has more than one CSV with line IDs) are the IDs hashed, and only the CSVs that share an ID with
another are read again to hash their lines' contents as well; when two CSVs share a line, the copy in
the newest input wins (the newest console export, then the later file and member name) and the others'
copies are dropped by reading their CSV again without them; a dropped copy that said something else (another
amount) is a restated line, counted in the run summary and the manifest.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from chargeback.bills import exact
from chargeback.bills.checks import first_problem, month_forms
from chargeback.bills.discovery import BillFile
from chargeback.bills.exact import CsvSource
from chargeback.bills.headers import AMOUNT_FIELDS, HeaderMap, map_header
from chargeback.bills.normalize import accounts, fee_types, iso_dates, list_prices, normalize_tags, owner_name
from chargeback.bills.scan import (
    DETAIL,
    CsvPart,
    DetailsRead,
    Groups,
    ScanDeclined,
    empty_groups,
    hash_series,
    merge_groups,
    scan_groups,
)
from chargeback.bills.sources import (
    DEFAULT_MAX_UNCOMPRESSED_BYTES,
    Member,
    ZipBill,
    is_zip,
    local_object,
    split_pieces,
)
from chargeback.columns import MODEL_STUDIO_PRODUCT
from chargeback.errors import InputError
from chargeback.memory import release_memory
from chargeback.money import MONEY_TYPE
from chargeback.scratch import scratch_dir
from chargeback.storage import ObjectStore
from chargeback.vectors import from_polars, sum_by
from chargeback.warehouse.manifest import MemberCounts

log = logging.getLogger(__name__)

HEAD_BYTES = 1 << 16
GROUP_FIELDS = ("billing_date", "account_id", "account_name", "payer_account_id", "payer_account_name",
                "commodity_code", "billing_item", "instance_id", "fee_type", "currency", "usage_unit",
                "list_unit_price", "price_unit", "region", "tags", "resource_group", "cost_unit")
"""The reader's aggregate grain: parsed text fields (ISO dates, the warehouse's fee types, ...)."""


@dataclass
class FileResult:
    """The counts and totals of one bill object (its aggregates go straight into the month's)."""

    bill: BillFile
    content_hash: str = ""
    parts: list[MemberCounts] = field(default_factory=list)  # one per CSV: the file, or each zip member
    free_quota: dict[str, str] = field(default_factory=dict)  # instance ID -> a usage-detail JSON
    totals: dict[str, Decimal] = field(default_factory=dict)  # billed cost of its kept lines, per currency


@dataclass
class MonthRead:
    """Everything read for a month: the Model Studio aggregates and what was left out, by file."""

    aggregates: pa.Table
    excluded: pa.Table  # product_code, currency, rows, billed_cost
    files: list[FileResult]
    free_quota: dict[str, str] = field(default_factory=dict)  # instance ID -> a free-quota usage detail
    restated_lines: int = 0  # lines whose dropped copy said something else than the copy that counts


# ---------------------------------------------------------------------------------------------------------
# one CSV


@dataclass
class _Csv:
    """One CSV of a bill object: where its bytes are, its header, and what reading it gave."""

    bill: BillFile
    member: str
    source: CsvSource
    parts: Callable[[], Iterator[CsvPart]]  # the local files the fast path scans, in order, produced as needed
    header: HeaderMap
    counts: MemberCounts
    precedence: tuple[str, str, str] = ("", "", "")
    groups: Groups | None = None
    set_aside: Path | None = None  # where its groups' table waits on disk until it is finished


def _set_aside(item: _Csv, path: Path | None) -> None:
    """Write the CSV's groups' table to ``path`` until :func:`_taken_back` (None: keep it in memory; meanwhile
    the groups count no rows). A month of many CSVs then holds one CSV's groups at a time, not every CSV's
    (about 16 MB each at 1M rows)."""
    if path is None:
        return
    assert item.groups is not None
    item.groups.table.write_ipc(path)
    item.groups.table = empty_groups()
    item.set_aside = path


def _taken_back(item: _Csv) -> Groups:
    """The CSV's groups, their table read back where it was set aside."""
    assert item.groups is not None
    if item.set_aside is not None:
        item.groups.table = pl.read_ipc(item.set_aside)
        item.set_aside.unlink()
        item.set_aside = None
    return item.groups


class _Folded:
    """The month's aggregates, summed to the reader's grain as each CSV is finished: one table, not one a CSV."""

    def __init__(self) -> None:
        self.aggregates: pa.Table | None = None
        self.excluded: list[pa.Table] = []  # a few rows each (product x currency)

    def add(self, aggregates: pa.Table, excluded: pa.Table) -> None:
        """Add one CSV's aggregates (at the grain already: a month of one CSV is never summed again)."""
        if aggregates.num_rows:
            self.aggregates = aggregates if self.aggregates is None else \
                aggregate(pa.concat_tables([self.aggregates, aggregates]))
        if excluded.num_rows:
            self.excluded.append(excluded)


def _sniff(head: bytes, name: str) -> tuple[str, list[str]]:
    """(encoding, header cells) from the first bytes of a CSV."""
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError("the file is empty (no header row)", source=name, line=1)
    cut = head.find(b"\n")
    first = head[: cut + 1] if cut >= 0 else head
    encoding = "utf-8"
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = first.decode("gbk")
        except UnicodeDecodeError:
            raise InputError("the header row is neither UTF-8 nor GBK text", source=name, line=1) from None
        encoding = "gbk"
    if encoding == "utf-8" and cut >= 0:
        try:
            head[: head.rfind(b"\n") + 1].decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                head[: head.rfind(b"\n") + 1].decode("gbk")
                encoding = "gbk"
            except UnicodeDecodeError:
                pass  # mixed: the reader names the first line that is not UTF-8
    header = next(csv.reader([text.rstrip("\r\n")]))
    return encoding, header


def _header(head: bytes, name: str) -> tuple[str, HeaderMap]:
    encoding, cells = _sniff(head, name)
    try:
        header_map, missing = map_header(cells)
    except InputError as exc:
        raise InputError(str(exc).removeprefix("line 1: "), source=name, line=1) from None
    if header_map is None:
        raise InputError("the header row is not a Model Studio bill header", source=name, line=1)
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", source=name, line=1)
    return encoding, header_map


def _read_groups(item: _Csv, forms: tuple[str, ...], *, collect_ids: bool, contents: bool,
                 superseded: np.ndarray | None = None) -> Groups:
    """The CSV's groups: the fast path where it vouches for its reading, else the exact reader."""
    options = {"collect_ids": collect_ids, "contents": contents, "superseded": superseded}
    if item.source.encoding == "utf-8":
        try:
            details = DetailsRead()  # the pieces of the CSV share it
            pieces = [scan_groups(part, item.header, forms, details=details, **options)  # type: ignore[arg-type]
                      for part in item.parts()]
            return _merged(pieces)
        except ScanDeclined as why:
            log.info("%s: read by the exact reader (%s)", item.source.name, why)
    return exact.read_groups(item.source, item.header, forms, **options)  # type: ignore[arg-type]


def _merged(pieces: list[Groups]) -> Groups:
    if len(pieces) == 1:
        return pieces[0]
    merged = Groups(merge_groups([p.table for p in pieces]))
    merged.superseded_rows = sum(p.superseded_rows for p in pieces)
    if any(p.ids.size for p in pieces):
        merged.ids = np.concatenate([p.ids for p in pieces])
    if any(p.contents.size for p in pieces):
        merged.contents = np.concatenate([p.contents for p in pieces])
    return merged


def _check(item: _Csv, groups: Groups) -> None:
    problem = first_problem(groups.table)
    if problem is None:
        return
    line = exact.locate(item.source, item.header, problem.field, problem.matches)
    raise InputError(problem.message, source=item.source.name, line=line, field=item.header.columns[problem.field])


# ---------------------------------------------------------------------------------------------------------
# groups -> the reader's aggregates


def _finish(groups: Groups, month: str, *, default_currency: str, bill_account: str
            ) -> tuple[pa.Table, pa.Table, dict[str, int], dict[str, str]]:
    """(Model Studio aggregates, excluded products, counts, free-quota details) of one CSV's checked groups."""
    table = groups.table
    forms = month_forms(month)
    month_rows = table.filter(pl.col("billing_month").is_in(list(forms)))
    counts = {"rows": groups.rows, "duplicate_rows": groups.superseded_rows,
              "other_month_rows": int(table["line_count"].sum()) - int(month_rows["line_count"].sum())}
    is_ms = pl.col("product_code") == MODEL_STUDIO_PRODUCT
    kept, others = month_rows.filter(is_ms), month_rows.filter(~is_ms)
    counts["model_studio_rows"] = int(kept["line_count"].sum())
    counts["other_product_rows"] = int(others["line_count"].sum())
    free_quota: dict[str, str] = {}
    details = kept.filter(pl.col(DETAIL).is_not_null()).select("instance_id", DETAIL)
    for instance_id, detail in details.iter_rows():
        free_quota.setdefault(instance_id, detail)
    return (_parsed(kept, default_currency, bill_account), _excluded(others, default_currency), counts,
            free_quota)


def _currency(column: pa.Array, default_currency: str) -> pa.Array:
    return pc.if_else(pc.equal(column, ""), default_currency, column)


def _parsed(kept: pl.DataFrame, default_currency: str, bill_account: str) -> pa.Table:
    """The kept groups with parsed text (ISO dates, fee types, accounts, tags) summed to the reader's grain."""
    if not kept.height:
        return _empty_aggregate()
    raw = from_polars(kept.drop(DETAIL))
    col = {name: raw[name].chunk(0) for name in raw.column_names}  # one chunk a column, shared, not copied
    payer, owner = accounts(col["payer_account_id"], col["account_id"], bill_account)
    parsed = {
        "billing_date": iso_dates(col["billing_date"], "billing_date", "", 0),
        "account_id": owner, "payer_account_id": payer,
        "account_name": owner_name(col["account_name"], col["payer_account_name"], col["account_id"]),
        "fee_type": fee_types(col["fee_type"]),
        "currency": _currency(col["currency"], default_currency),
        "list_unit_price": list_prices(col["list_unit_price"], "list_unit_price", "", 0),
        "tags": normalize_tags(col["tags"]),
    }
    table = pa.table({
        **{name: parsed.get(name, col.get(name)) for name in GROUP_FIELDS},
        **{a: pc.cast(raw[a], MONEY_TYPE) for a in AMOUNT_FIELDS},
        "line_count": pc.cast(raw["line_count"], pa.int64()),
    })
    return aggregate(table)


def _excluded(others: pl.DataFrame, default_currency: str) -> pa.Table:
    if not others.height:
        return _empty_excluded()
    raw = from_polars(others.select("product_code", "currency", "billed_cost", "line_count"))
    table = pa.table({"product_code": raw["product_code"], "currency": _currency(raw["currency"], default_currency),
                      "billed_cost": pc.cast(raw["billed_cost"], MONEY_TYPE),
                      "line_count": pc.cast(raw["line_count"], pa.int64())})
    return aggregate_excluded(table)


def aggregate(table: pa.Table) -> pa.Table:
    """Aggregates summed to the reader's grain (``GROUP_FIELDS``)."""
    return sum_by(table, GROUP_FIELDS, (*AMOUNT_FIELDS, "line_count"))


def aggregate_excluded(table: pa.Table) -> pa.Table:
    return sum_by(table, ("product_code", "currency"), ("billed_cost", "line_count"))


def _empty_aggregate() -> pa.Table:
    fields = [pa.field(f, pa.string()) for f in GROUP_FIELDS]
    fields += [pa.field(a, MONEY_TYPE) for a in AMOUNT_FIELDS] + [pa.field("line_count", pa.int64())]
    return pa.schema(fields).empty_table()


def _empty_excluded() -> pa.Table:
    return pa.schema([("product_code", pa.string()), ("currency", pa.string()), ("billed_cost", MONEY_TYPE),
                      ("line_count", pa.int64())]).empty_table()


def _totals(aggregates: list[pa.Table], totals: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Billed cost per currency of some aggregates (added to ``totals``, when given), exact."""
    totals = dict(totals or {})
    for table in aggregates:
        grouped = sum_by(table, ("currency",), ("billed_cost",))
        for currency, amount in zip(grouped["currency"].to_pylist(), grouped["billed_cost"].to_pylist(),
                                    strict=True):
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    return dict(sorted(totals.items()))


# ---------------------------------------------------------------------------------------------------------
# bill objects -> CSVs


class _Opened:
    """The bill objects of a month held locally while they are read (downloads kept until the end)."""

    def __init__(self, store: ObjectStore, tmpdir: Path, max_uncompressed: int) -> None:
        self.store, self.tmpdir, self.max_uncompressed = store, tmpdir, max_uncompressed
        self.stack = ExitStack()
        self.digests: dict[str, Callable[[], str]] = {}
        self.hashes: dict[str, Future[str]] = {}
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="content-hash")
        self.stack.callback(self.pool.shutdown)

    def csvs(self, bill: BillFile) -> list[_Csv]:
        path, digest = self.stack.enter_context(local_object(self.store, bill.key, self.tmpdir))
        self.digests[bill.key] = digest  # a local file's is computed by hash_beside; a download's on the way in
        if not is_zip(path, bill.key):
            return [self._plain(bill, path)]
        archive = ZipBill(path, bill.key, max_uncompressed=self.max_uncompressed)
        return [self._member(bill, archive, member) for member in archive.members]

    def _plain(self, bill: BillFile, path: Path) -> _Csv:
        source = CsvSource(bill.key, lambda: path.open("rb"))
        with path.open("rb") as stream:
            encoding, header = _header(stream.read(HEAD_BYTES), bill.key)
        source = replace(source, encoding=encoding)

        def parts() -> Iterator[CsvPart]:
            yield CsvPart(str(path), has_header=True)

        return _Csv(bill, "", source, parts, header, MemberCounts(dialect=header.dialect,
                                                                 language=header.language, encoding=encoding))

    def _member(self, bill: BillFile, archive: ZipBill, member: Member) -> _Csv:
        name = archive.member_name(member)

        def open_member() -> BinaryIO:
            return archive.open_member(member)

        with open_member() as stream:
            encoding, header = _header(stream.read(HEAD_BYTES), name)
        source = CsvSource(name, open_member, encoding)
        tmpdir = self.tmpdir

        def parts() -> Iterator[CsvPart]:
            with archive.open_member(member) as stream:
                for piece in split_pieces(stream, name, tmpdir):
                    try:
                        yield CsvPart(str(piece.path), has_header=False)
                    finally:
                        piece.path.unlink(missing_ok=True)

        return _Csv(bill, member.name, source, parts, header, MemberCounts(dialect=header.dialect,
                                                                          language=header.language,
                                                                          encoding=encoding))

    def hash_beside(self, key: str) -> None:
        """Start taking a bill's content hash, to run beside its scan. One file at a time, not all at the start:
        the scan leaves a tenth of the cores idle, which absorbs one file's hash, while the hashes of a 10M-row
        month's ten CSVs at once slowed its first scan from about 1.0 to 1.9 s."""
        if key not in self.hashes:
            self.hashes[key] = self.pool.submit(self.digests[key])

    def content_hash(self, key: str) -> str:
        self.hash_beside(key)
        return self.hashes[key].result()


# ---------------------------------------------------------------------------------------------------------
# the month


class _LineHashes:
    """The month's line-ID hashes, spilled to disk as they are read: each CSV's hashes go to 16 buckets by their
    top bits, with the CSV's index beside each, so finding the repeated ones holds one bucket in memory at a
    time. At 8 bytes a row, kept in memory, they were the one part of a read that grew with the month's rows."""

    BUCKETS = 16

    def __init__(self, folder: Path, csvs: int) -> None:
        folder.mkdir()
        self.folder = folder
        self.owner_type = np.uint16 if csvs <= 1 << 16 else np.uint32  # 10 bytes a row on disk, as a rule

    def _paths(self, bucket: int) -> tuple[Path, Path]:
        return self.folder / f"ids-{bucket}.bin", self.folder / f"owners-{bucket}.bin"

    def add(self, index: int, ids: np.ndarray) -> None:
        """Spill the hashes of CSV ``index``."""
        buckets = (ids >> np.uint64(60)).astype(np.uint8)
        for bucket in range(self.BUCKETS):
            chosen = ids[buckets == bucket]
            if chosen.size:
                id_path, owner_path = self._paths(bucket)
                with id_path.open("ab") as out:
                    chosen.tofile(out)
                with owner_path.open("ab") as out:
                    np.full(chosen.size, index, dtype=self.owner_type).tofile(out)

    def repeated(self) -> tuple[np.ndarray, set[int]]:
        """(the hashes found more than once, the indexes of the CSVs holding them): usually none."""
        found: list[np.ndarray] = []
        owners: set[int] = set()
        for bucket in range(self.BUCKETS):
            id_path, owner_path = self._paths(bucket)
            if not id_path.exists():
                continue
            ids = np.fromfile(id_path, dtype=np.uint64)
            ordered = hash_series(ids).sort().to_numpy()  # polars' sort: about 7x NumPy's argsort, measured
            if not (ordered[1:] == ordered[:-1]).any():
                continue  # no hash repeated: the usual case, and the owners are not needed
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            twice = np.zeros(ids.size, dtype=bool)
            twice[1:] = ids[1:] == ids[:-1]
            twice[:-1] |= twice[1:]  # both copies of a repeated hash
            if twice.any():
                found.append(_distinct_sorted(ids[twice]))
                holders = np.fromfile(owner_path, dtype=self.owner_type)[order][twice]
                owners.update(np.flatnonzero(np.bincount(holders)).tolist())
        return (np.concatenate(found) if found else np.empty(0, dtype=np.uint64)), owners


def _overlaps(items: list[_Csv]) -> tuple[dict[int, np.ndarray], int]:
    """For each CSV (by index), the line-ID hashes of lines a higher-precedence CSV holds; and how many of
    those lines the lower copy restates (says something else)."""
    order = sorted(range(len(items)), key=lambda i: items[i].precedence, reverse=True)
    ids = [items[i].groups.ids for i in order]  # type: ignore[union-attr]
    owner = np.concatenate([np.full(a.size, rank, dtype=np.int32) for rank, a in enumerate(ids)])
    content = np.concatenate([items[i].groups.contents if items[i].groups.contents.size  # type: ignore[union-attr]
                              else np.zeros(items[i].groups.ids.size, dtype=np.uint64) for i in order])  # type: ignore[union-attr]
    flat = np.concatenate(ids)
    sort = np.argsort(flat, kind="stable")  # equal IDs stay in precedence order: the first is the winner
    flat, owner, content = flat[sort], owner[sort], content[sort]
    starts = np.ones(flat.size, dtype=bool)
    starts[1:] = flat[1:] != flat[:-1]
    run = np.cumsum(starts) - 1
    winner_owner = owner[starts][run]
    winner_content = content[starts][run]
    dropped = owner != winner_owner
    restated_rows = dropped & (content != winner_content)
    restated = int(_distinct_sorted(flat[restated_rows]).size)
    superseded: dict[int, np.ndarray] = {}
    for rank, index in enumerate(order):
        mine = dropped & (owner == rank)
        if mine.any():
            superseded[index] = _distinct_sorted(flat[mine])
    return superseded, restated


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """A sorted array without its repeats (``np.unique`` would sort it again)."""
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def read_month(
    store: ObjectStore,
    bills: list[BillFile],
    month: str,
    *,
    default_currency: str = "CNY",
    workers: int = 2,
    progress: Callable[[BillFile], None] | None = None,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
) -> MonthRead:
    """Read every authoritative file of a month; a bill line in two inputs counts once, the newest copy's."""
    del workers  # each scan uses every core; files are read one after the other
    forms = month_forms(month)
    with scratch_dir() as tmp, ExitStack() as stack:
        opened = _Opened(store, tmp, max_uncompressed)
        stack.enter_context(opened.stack)
        items: list[_Csv] = []
        by_bill: dict[str, list[_Csv]] = {}
        for bill in bills:
            found = opened.csvs(bill)
            for item in found:
                item.precedence = (bill.snapshot, bill.key, item.member)
            by_bill[bill.key] = found
            items += found
        dedupe = sum(1 for i in items if "line_id" in i.header.positions) > 1
        hashes = _LineHashes(tmp / "line-hashes", len(items))

        def aside(position: int) -> Path | None:
            return tmp / f"groups-{position:06d}.arrow" if len(items) > 1 else None

        position = 0  # of each CSV in ``items``, which lists them in this order
        for bill in bills:
            opened.hash_beside(bill.key)
            for item in by_bill[bill.key]:
                item.groups = _read_groups(item, forms, collect_ids=dedupe, contents=False)
                _check(item, item.groups)
                hashes.add(position, item.groups.ids)
                item.groups.ids = np.empty(0, dtype=np.uint64)
                _set_aside(item, aside(position))
                position += 1
                release_memory()  # the C heap too: without it a 10M-row zip's reading climbed ~15 MB a member
            if progress:
                progress(bill)
        restated = 0
        shared, sharing = hashes.repeated() if dedupe else (np.empty(0, dtype=np.uint64), set())
        if shared.size:
            # some line is in two inputs: those inputs are read again for the contents of their lines too,
            # which tell a restated line from a repeated one (the others, sharing no line, take no part)
            for position in sorted(sharing):
                items[position].groups = _read_groups(items[position], forms, collect_ids=True, contents=True)
                _set_aside(items[position], aside(position))
            superseded, restated = _overlaps(items)
            for index, drop in superseded.items():
                item = items[index]
                log.info("reading %s again without %d line(s) a newer input holds", item.source.name, drop.size)
                item.groups = _read_groups(item, forms, collect_ids=False, contents=False, superseded=drop)
                _set_aside(item, aside(index))
        for item in items:  # the hashes of the CSVs read again have done their work: free them before the outputs
            assert item.groups is not None
            item.groups.ids = item.groups.contents = np.empty(0, dtype=np.uint64)
        release_memory()
        results = []
        folded = _Folded()
        for bill in bills:
            result = FileResult(bill, content_hash=opened.content_hash(bill.key))
            for item in by_bill[bill.key]:
                aggregates, excluded, counts, details = _finish(_taken_back(item), month,
                                                                default_currency=default_currency,
                                                                bill_account=bill.account)
                result.parts.append(replace(
                    item.counts, member=item.member, rows=counts["rows"],
                    model_studio_rows=counts["model_studio_rows"], other_product_rows=counts["other_product_rows"],
                    other_month_rows=counts["other_month_rows"], duplicate_rows=counts["duplicate_rows"]))
                result.totals = _totals([aggregates], result.totals)
                folded.add(aggregates, excluded)
                for instance_id, detail in details.items():
                    result.free_quota.setdefault(instance_id, detail)
                item.groups = None
            results.append(result)
    release_memory()
    free_quota: dict[str, str] = {}
    for result in results:
        for instance_id, detail in result.free_quota.items():
            free_quota.setdefault(instance_id, detail)
    return MonthRead(
        aggregates=folded.aggregates if folded.aggregates is not None else _empty_aggregate(),
        excluded=aggregate_excluded(pa.concat_tables(folded.excluded)) if folded.excluded else _empty_excluded(),
        files=results,
        free_quota=free_quota,
        restated_lines=restated,
    )


__all__ = ["GROUP_FIELDS", "FileResult", "MonthRead", "aggregate", "read_month"]
