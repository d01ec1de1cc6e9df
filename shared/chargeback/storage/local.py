"""Local folder adapter (``file://``): the embedded default for laptops and tests.

Only regular files are objects. A named pipe, a socket or a device in the folder is listed as unreadable, with
the reason, and never opened (opening a FIFO blocks until a writer comes); so is a symbolic link that leads out
of the folder or nowhere. Links to folders are listed, not followed.

A write goes to a temporary file (``.tmp-...``) beside its object, renamed or linked into place when whole;
a process killed in between leaves that file behind. The first write of a store into a folder removes such
files there once they are a day old (:data:`STALE_WRITE_AFTER`: no write takes that long), so dead runs do
not fill the disk; the listing never shows them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from chargeback.errors import NotFoundError, StorageError
from chargeback.storage.base import AlreadyExistsError, ObjectInfo, check_key

TEMPORARY_PREFIX = ".tmp-"
STALE_WRITE_AFTER = timedelta(days=1)
"""A temporary file this old is a dead write's: unchanged for so long, no live write owns it."""

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def _info(key: str, status: os.stat_result) -> ObjectInfo:
    return ObjectInfo(key, status.st_size, f"{status.st_size}-{status.st_mtime_ns}",
                      modified=datetime.fromtimestamp(status.st_mtime, UTC))


class LocalObjectStore:
    """Objects are files below ``root``; writes go to a temporary file and are renamed into place (``create``
    links it into place instead, which fails when a file is there: an exclusive create)."""

    def __init__(self, root: str | Path, *, stale_write_after: timedelta = STALE_WRITE_AFTER) -> None:
        self.root = Path(root).resolve()
        self.url = self.root.as_uri()
        self.stale_write_after = stale_write_after
        self._swept: set[Path] = set()  # the folders whose dead writes this store has removed

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not self._inside(path):
            raise StorageError(f"{key!r} resolves outside {self.root}")
        return path

    def _inside(self, path: Path) -> bool:
        return self.root == path or self.root in path.parents

    def _regular_file(self, key: str) -> Path:
        """The path of ``key`` if it is a regular file: NotFoundError if missing, StorageError if special."""
        path = self._path(key)
        try:
            mode = path.stat().st_mode
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFoundError(f"{self.url}/{key} does not exist") from exc
        if stat.S_ISDIR(mode):
            raise NotFoundError(f"{self.url}/{key} does not exist (it is a folder)")
        if not stat.S_ISREG(mode):
            raise StorageError(f"{self.url}/{key} is {file_kind(mode)}, not a regular file: not opened")
        return path

    def _entry(self, path: Path) -> ObjectInfo:
        """The listing entry of a file the walk found: an object, or an unreadable entry with the reason."""
        key = path.relative_to(self.root).as_posix()
        try:
            status = path.lstat()
            if stat.S_ISLNK(status.st_mode):
                target = path.resolve(strict=True)
                if not self._inside(target):
                    return ObjectInfo(key, 0, "", unreadable="a symbolic link to a file outside the folder: not read")
                status = target.stat()
        except (OSError, RuntimeError):  # a dangling link, a loop, or gone since the walk saw it
            return ObjectInfo(key, 0, "", unreadable="a broken symbolic link: not read")
        if not stat.S_ISREG(status.st_mode):
            return ObjectInfo(key, 0, "", unreadable=f"{file_kind(status.st_mode)}, not a regular file: not read")
        return _info(key, status)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            check_key(prefix)
        if not self.root.is_dir():
            return
        found: list[ObjectInfo] = []
        # walk only the prefix's folder, unless a link lies on the way there (then walk all: links are not followed)
        start = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if start != self.root and start.resolve() == start and not start.is_dir():
            return
        if start.resolve() != start:
            start = self.root
        for dirpath, dirnames, filenames in os.walk(start):  # followlinks=False
            kept = []
            for name in dirnames:
                if name.startswith(TEMPORARY_PREFIX):
                    continue
                path = Path(dirpath) / name
                if path.is_symlink():
                    key = path.relative_to(self.root).as_posix()
                    found.append(ObjectInfo(key, 0, "", unreadable="a symbolic link to a folder: not followed"))
                else:
                    kept.append(name)
            dirnames[:] = kept
            found += [self._entry(Path(dirpath) / name) for name in filenames if not name.startswith(TEMPORARY_PREFIX)]
        yield from sorted((info for info in found if info.key.startswith(prefix)), key=lambda info: info.key)

    def open(self, key: str) -> BinaryIO:
        path = self._regular_file(key)
        # O_NONBLOCK: should a FIFO be swapped in after the check, opening it returns at once instead of
        # waiting for a writer; fstat then refuses it.
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError as exc:
            raise NotFoundError(f"{self.url}/{key} does not exist") from exc
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise StorageError(f"{self.url}/{key} is {file_kind(mode)}, not a regular file: not opened")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def _written(self, path: Path, data: bytes | BinaryIO) -> str:
        """A temporary file beside ``path`` holding ``data`` (bytes or a stream), on disk; the caller moves or
        removes it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._sweep(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def _sweep(self, folder: Path) -> None:
        """Remove the temporary files in ``folder`` that dead writes left (older than ``stale_write_after``),
        once per folder and store. Their age is their status change time: ``copy`` dates its file back to the
        source's modification time just before the rename, and that does not make the file old."""
        if folder in self._swept:
            return
        self._swept.add(folder)
        cutoff = datetime.now(UTC) - self.stale_write_after
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if not entry.name.startswith(TEMPORARY_PREFIX):
                continue
            try:
                status = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(status.st_mode) and datetime.fromtimestamp(status.st_ctime, UTC) < cutoff:
                    os.unlink(entry.path)
            except OSError:  # gone already (another store swept it), or not ours to remove
                continue

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._replace(key, data)

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        with open(path, "rb") as source:
            self._replace(key, source)

    def _replace(self, key: str, data: bytes | BinaryIO) -> None:
        """Replace the object with ``data`` (bytes or a stream), whole: written beside it, then renamed."""
        path = self._path(key)
        tmp = self._written(path, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        tmp = self._written(path, data)
        try:
            os.link(tmp, path)  # atomic, and refuses an existing name: the file appears whole or not at all
        except FileExistsError:
            raise AlreadyExistsError(f"{self.url}/{key} already exists") from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    def copy(self, source: str, key: str) -> None:
        origin = self._regular_file(source)
        path = self._path(key)
        if self._linked(origin, path):
            return
        with origin.open("rb") as stream:
            tmp = self._written(path, stream)
        try:
            status = origin.stat()
            # like cp -p: the copy keeps the source's time, so its ETag (size and time) is the source's
            os.utime(tmp, ns=(status.st_atime_ns, status.st_mtime_ns))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _linked(self, origin: Path, path: Path) -> bool:
        """Replace ``path`` by a hard link to ``origin`` (one rename, no bytes copied: the source was written and
        synced whole already, and every write here replaces a file rather than changing it, so the two names
        never diverge in place); False where the file system has no hard links."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._sweep(path.parent)
        tmp = path.parent / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
        try:
            os.link(origin, tmp)
        except OSError:
            return False
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            return _info(key, self._regular_file(key).stat())
        except NotFoundError:
            return None

    def local_path(self, key: str) -> Path:
        """The regular file behind ``key`` (lets readers seek and memory-map instead of copying)."""
        return self._regular_file(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
