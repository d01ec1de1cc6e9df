"""Local folder adapter (``file://``): the embedded default for laptops and tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from chargeback.errors import NotFoundError, StorageError
from chargeback.storage.base import ObjectInfo, check_key


class LocalObjectStore:
    """Objects are files below ``root``; writes go to a temporary file and are renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root != path and self.root not in path.parents:
            raise StorageError(f"{key!r} resolves outside {self.root}")
        return path

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            check_key(prefix)
        if not self.root.is_dir():
            return
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".tmp-")]
            for name in filenames:
                if name.startswith(".tmp-"):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    found.append(ObjectInfo(key, stat.st_size, f"{stat.st_size}-{stat.st_mtime_ns}"))
        yield from sorted(found, key=lambda info: info.key)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFoundError(f"{self.url}/{key} does not exist") from exc

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def local_path(self, key: str) -> Path:
        """The file behind ``key`` (lets readers seek and memory-map instead of copying)."""
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
