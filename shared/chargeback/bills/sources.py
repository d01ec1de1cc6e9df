"""A bill object as CSV inputs: a local path for every CSV, the bytes hashed as fetched, zips read in one pass.

- **The object as fetched.** A local file is read where it lies; an object in S3 or OSS is downloaded once to a
  temporary file (a zip needs random access to its central directory), and the same bytes are hashed as they
  arrive. The manifest records the store's listing (size, ETag) and this content hash: xxHash3-128 of the bytes
  as fetched, compressed where the object is a zip. What each guarantees is said in the README ("Which bill
  files count"); none of it is a cryptographic proof.
- **Zip archives** are opened once: the central directory is read one time and the members are inflated in turn
  from one file handle (linear in the number of members), with ISA-L's inflate (``isal``), about twice zlib's
  speed, and every member's CRC-32 checked. Encrypted members, unsupported compression methods, members that
  inflate past the limit (:data:`DEFAULT_MAX_UNCOMPRESSED_BYTES`, configurable) and rows longer than
  :data:`MAX_ROW_BYTES` are InputErrors naming the object and member, so a zip bomb fills neither disk nor
  memory.
- **Pieces.** A member is inflated into row-aligned pieces of about :data:`PIECE_BYTES` on the local disk, each
  read by the scan as soon as it is complete and deleted after, so the disk holds two pieces at a time, not the
  member. A row ends at a newline outside quotes (quote parity is carried across pieces), so quoted newlines
  never split a row.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import queue
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import xxhash
from isal import isal_zlib  # ISA-L's inflate: about twice as fast as zlib's, measured here

from chargeback.errors import InputError
from chargeback.storage import LocalObjectStore, ObjectStore

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
CONTENT_HASH = "xxh3-128"
DEFAULT_MAX_UNCOMPRESSED_BYTES = 32 << 30  # per bill object: about 23M rows of v2 bill; a month may have many
MAX_ROW_BYTES = 64 << 20  # a real bill row is about 1.5 KB
PIECE_BYTES = 128 << 20
_CHUNK = 1 << 20  # inflated bytes the piece writer takes at a time (see _OUT)
_READ = 1 << 18  # compressed bytes fed to inflate at a time
_OUT = 1 << 20  # the most one inflate call may produce (a bomb cannot balloon one call)
# Measured on the 1M-row zip, inflating and cutting alone: 1 MiB chunks and inflate calls of 1 MiB hold 8 MB
# above the start and take 1.37 s; 4 and 8 MiB held 29 MB and took 1.67 to 1.84 s.
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_ENCRYPTED = 0x1
_QUOTE, _NEWLINE = ord('"'), ord("\n")


class ContentHash:
    """The content hash of the bytes as fetched (``xxh3-128:<hex>``), fed as they are read."""

    def __init__(self) -> None:
        self._hash = xxhash.xxh3_128()

    def update(self, data: bytes | memoryview | mmap.mmap) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return f"{CONTENT_HASH}:{self._hash.hexdigest()}"


_HASH_WINDOW = 8 << 20  # bytes of a local file mapped at a time while it is hashed (a multiple of any page size)


def hash_file(path: Path) -> str:
    """The content hash of a local file, up to the size it had when opened (xxHash3 releases the GIL: it runs
    beside the scan).

    The file is mapped a window at a time, not read: hashing reads the page cache in place instead of copying it.
    Measured on the benchmark's cached 1.4 GB CSV: 0.17 s instead of 0.42 s, nearly all of it the copy's system
    time, CPU that the scan beside it gets back. A file truncated while it is hashed ends the process (SIGBUS, as
    with any mapping): the run stops as if killed, and the next one starts again from the published state.
    """
    digest = ContentHash()
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        for offset in range(0, size, _HASH_WINDOW):
            with mmap.mmap(stream.fileno(), min(_HASH_WINDOW, size - offset), offset=offset,
                           access=mmap.ACCESS_READ) as window:
                digest.update(window)
    return digest.hexdigest()


@contextlib.contextmanager
def local_object(store: ObjectStore, key: str, tmpdir: Path) -> Iterator[tuple[Path, Callable[[], str]]]:
    """A local path holding the object's bytes and a function giving their content hash.

    A local store's file is used in place (hashed when asked); another store's object is downloaded to
    ``tmpdir`` and hashed on the way, and the copy is removed afterwards.
    """
    if isinstance(store, LocalObjectStore):
        path = store.local_path(key)
        yield path, lambda: hash_file(path)
        return
    target = tmpdir / hashlib.sha256(key.encode()).hexdigest()
    digest = ContentHash()
    try:
        with store.open(key) as source, target.open("wb") as out:
            while chunk := source.read(4 << 20):
                digest.update(chunk)
                out.write(chunk)
        yield target, digest.hexdigest
    finally:
        target.unlink(missing_ok=True)


def is_zip(path: Path, name: str) -> bool:
    """Whether the file is a zip archive (by its magic bytes). InputError for an empty file."""
    with path.open("rb") as stream:
        magic = stream.read(4)
    if not magic:
        raise InputError("the file is empty", source=name)
    return magic in (ZIP_MAGIC, EMPTY_ZIP_MAGIC)


@dataclass(frozen=True)
class Member:
    """One CSV member of a zip, as its central directory describes it."""

    name: str
    info: zipfile.ZipInfo


class ZipBill:
    """A zip archive read in one pass: the central directory once, each member inflated from one handle."""

    def __init__(self, path: Path, name: str, *, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED_BYTES) -> None:
        self.path = path
        self.name = name
        self.max_uncompressed = max_uncompressed
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
            raise InputError(f"not a readable zip archive (truncated or damaged): {exc}", source=name) from None
        self.members = sorted((Member(i.filename, i) for i in infos
                               if not i.is_dir() and not i.filename.rsplit("/", 1)[-1].startswith(".")),
                              key=lambda m: m.name)
        if not self.members:
            raise InputError("the zip archive holds no bill file", source=name)
        declared = sum(m.info.file_size for m in self.members)
        if declared > max_uncompressed:
            raise InputError(f"the archive would inflate to {declared:,} bytes, more than the limit of "
                             f"{max_uncompressed:,} (raise it with --max-uncompressed-gib or "
                             "CHARGEBACK_MAX_UNCOMPRESSED_GIB if the bill is real)", source=name)
        self._inflated = 0
        self._lock = threading.Lock()

    def member_name(self, member: Member) -> str:
        return f"{self.name}!{member.name}"

    def open_member(self, member: Member) -> io.BufferedReader:
        """A stream of the member's inflated bytes, CRC-checked at its end. Each call opens its own handle."""
        return io.BufferedReader(_MemberStream(self, member), buffer_size=1 << 20)

    def count(self, n: int, member: Member) -> None:
        """Count inflated bytes against the archive's limit (a zip's declared sizes may lie)."""
        with self._lock:
            self._inflated += n
            over = self._inflated > self.max_uncompressed
        if over:
            raise InputError(f"the archive inflates past the limit of {self.max_uncompressed:,} bytes (a zip bomb, "
                             "or a bill larger than the limit: raise it with --max-uncompressed-gib or "
                             "CHARGEBACK_MAX_UNCOMPRESSED_GIB)", source=self.member_name(member))


class _MemberStream(io.RawIOBase):
    """The inflated bytes of one member, as a raw binary stream (pyarrow and the piece writer read it)."""

    def __init__(self, archive: ZipBill, member: Member) -> None:
        super().__init__()
        info = member.info
        self._archive, self._member, self._name = archive, member, archive.member_name(member)
        if info.flag_bits & _ENCRYPTED:
            raise InputError("the zip member is encrypted: export the bill without a password", source=self._name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InputError(f"the zip member uses compression method {info.compress_type}; bills are stored "
                             "or deflated", source=self._name)
        self._file: IO[bytes] = archive.path.open("rb")
        try:
            self._file.seek(info.header_offset)
            header = self._file.read(_LOCAL_HEADER.size)
            if len(header) != _LOCAL_HEADER.size or header[:4] != ZIP_MAGIC:
                raise InputError("damaged zip member (bad local header)", source=self._name)
            fields = _LOCAL_HEADER.unpack(header)
            self._file.seek(fields[9] + fields[10], os.SEEK_CUR)  # file name and extra field
        except BaseException:
            self._file.close()
            raise
        self._left = info.compress_size
        self._inflate = isal_zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        self._pending = memoryview(b"")
        self._crc = 0
        self._size = 0
        self._done = False

    def _next(self) -> bytes:
        if self._inflate is not None and self._inflate.unconsumed_tail:
            data = self._inflate.decompress(self._inflate.unconsumed_tail, _OUT)
        elif self._left > 0:
            chunk = self._file.read(min(self._left, _READ))
            if not chunk:
                raise InputError("damaged zip member: the archive ends inside it", source=self._name)
            self._left -= len(chunk)
            data = chunk if self._inflate is None else self._inflate.decompress(chunk, _OUT)
        else:
            if self._inflate is not None:
                data = self._inflate.flush()
                if data:
                    return self._account(data)
            self._finish()
            return b""
        return self._account(data)

    def _account(self, data: bytes) -> bytes:
        self._crc = isal_zlib.crc32(data, self._crc)
        self._size += len(data)
        self._archive.count(len(data), self._member)
        return data

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        info = self._member.info
        if self._size != info.file_size or (self._crc & 0xFFFFFFFF) != info.CRC:
            raise InputError(f"damaged zip member: {self._size:,} bytes with CRC {self._crc:08x} where the archive "
                             f"says {info.file_size:,} bytes with CRC {info.CRC:08x}", source=self._name)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            while not self._pending and not self._done:
                self._pending = memoryview(self._next())
        except (zlib.error, isal_zlib.error) as exc:  # type: ignore[misc]  # isal's stubs type its error loosely
            raise InputError(f"damaged zip member: {exc}", source=self._name) from None
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


# ---------------------------------------------------------------------------------------------------------
# row-aligned pieces


@dataclass(frozen=True)
class Piece:
    """A row-aligned piece of a CSV on local disk, without the header row."""

    path: Path
    first_line: int  # the physical line its first row starts on (the header is line 1)


class RowTooLongError(InputError):
    """A row longer than :data:`MAX_ROW_BYTES`, or a file that is not line-based text at all."""


def _count(values: np.ndarray, byte: int, scratch: np.ndarray) -> int:
    """How many times ``byte`` occurs in ``values`` (bytes as uint8), compared into ``scratch`` where it fits
    (a reused array is not faulted in again): about ten times ``bytes.count``."""
    if values.size > scratch.size:
        return int(np.count_nonzero(values == byte))
    matches = scratch[:values.size]
    np.equal(values, byte, out=matches)
    return int(np.count_nonzero(matches))


def _record_end(buffer: bytearray, n: int, parity: int, scratch: np.ndarray) -> int:
    """The offset after the last newline outside quotes in ``buffer[:n]`` (``parity``: the quote parity at its
    start), or -1 when every newline there is inside quotes."""
    values = np.frombuffer(buffer, np.uint8, count=n)
    cut = buffer.rfind(b"\n", 0, n)
    if cut < 0:
        return -1
    quotes = parity + _count(values[:cut], _QUOTE, scratch)
    while quotes & 1:  # that newline is inside a quoted cell: try the one before it
        before = buffer.rfind(b"\n", 0, cut)
        if before < 0:
            return -1
        quotes -= _count(values[before:cut], _QUOTE, scratch)
        cut = before
    return cut + 1


def split_pieces(stream: io.BufferedIOBase, name: str, tmpdir: Path, *, skip_header: bool = True,
                 piece_bytes: int = PIECE_BYTES, max_row: int = MAX_ROW_BYTES,
                 chunk_bytes: int = _CHUNK) -> Iterator[Piece]:
    """Write ``stream`` (a CSV) as row-aligned pieces under ``tmpdir``, yielding each when complete.

    The consumer deletes each piece when done with it; a producer thread keeps at most one piece ahead. The
    stream is read ``chunk_bytes`` at a time into one reused buffer, and each chunk's complete rows are written
    from it without a copy.
    """
    ready: queue.Queue[Piece | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for piece in _pieces(stream, name, tmpdir, skip_header, piece_bytes, max_row, chunk_bytes, stop):
                ready.put(piece)
            ready.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    worker = threading.Thread(target=produce, name=f"pieces:{name[-40:]}", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # unblock the producer, then drop what it left
                leftover = ready.get_nowait()
                if isinstance(leftover, Piece):
                    leftover.path.unlink(missing_ok=True)
        worker.join()
        for path in tmpdir.glob(f"{_piece_stem(name)}-*"):
            path.unlink(missing_ok=True)


def _piece_stem(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _pieces(stream: io.BufferedIOBase, name: str, tmpdir: Path, skip_header: bool, piece_bytes: int, max_row: int,
            chunk_bytes: int, stop: threading.Event) -> Iterator[Piece]:
    stem = _piece_stem(name)
    buffer = bytearray(chunk_bytes)  # every chunk is read into this one buffer
    scratch = np.empty(chunk_bytes, dtype=bool)  # and its bytes compared into this one
    tail = bytearray()  # a row begun in an earlier chunk and not ended yet (it starts outside quotes)
    tail_quotes = 0  # the quotes in ``tail``
    line, index = 1, 0  # ``line``: the physical line the next byte written starts on (the header is line 1)
    header_pending = skip_header
    out: IO[bytes] | None = None
    path: Path | None = None
    written = 0
    first_line = 1

    def close_piece() -> Piece | None:
        nonlocal out, path, written
        if out is None or path is None:
            return None
        out.close()
        piece = Piece(path, first_line)
        out, path, written = None, None, 0
        return piece

    while not stop.is_set():
        n = stream.readinto(buffer)
        cut = _record_end(buffer, n, tail_quotes & 1, scratch) if n else 0  # at the end, the tail is the last row
        if cut < 0:  # the chunk ends inside the tail's row
            tail += memoryview(buffer)[:n]
            tail_quotes += _count(np.frombuffer(buffer, np.uint8, count=n), _QUOTE, scratch)
            if len(tail) > max_row:
                raise RowTooLongError(f"a row longer than {max_row >> 20} MiB (from line {line}): not a bill, or "
                                      "a damaged file", source=name, line=line)
            continue
        rows: list[bytes | bytearray | memoryview] = [tail, memoryview(buffer)[:cut]]
        if header_pending:  # once: the header row is dropped from the first complete rows
            first = bytes(tail) + buffer[:cut]
            end, _ = _first_record_end(first)
            if end < 0:  # the header row alone, unterminated, or nothing: no data rows
                rows, header_pending = [], False
            else:
                line += first.count(b"\n", 0, end)
                rows, header_pending = [memoryview(first)[end:]], False
        for part in rows:
            if not len(part):
                continue
            if out is None:
                index += 1
                path = tmpdir / f"{stem}-{index:06d}"
                out = path.open("wb")
                first_line = line
            out.write(part)
            written += len(part)
            line += _count(np.frombuffer(part, np.uint8), _NEWLINE, scratch)
        tail = bytearray(memoryview(buffer)[cut:n])
        tail_quotes = _count(np.frombuffer(tail, np.uint8), _QUOTE, scratch)
        if written >= piece_bytes or not n:
            piece = close_piece()
            if piece is not None:
                yield piece
        if not n:
            return
    close_piece()


def _first_record_end(rows: bytes) -> tuple[int, int]:
    """Offset after the first newline outside quotes (the end of the header row), or (-1, 0)."""
    parity, start = 0, 0
    while True:
        cut = rows.find(b"\n", start)
        if cut < 0:
            return -1, parity
        parity = (parity + rows.count(b'"', start, cut)) & 1
        if not parity:
            return cut + 1, 0
        start = cut + 1


__all__ = ["CONTENT_HASH", "DEFAULT_MAX_UNCOMPRESSED_BYTES", "MAX_ROW_BYTES", "ContentHash", "Member", "Piece",
           "RowTooLongError", "ZipBill", "hash_file", "is_zip", "local_object", "split_pieces"]
