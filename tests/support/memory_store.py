"""An in-memory ObjectStore for unit tests: the port's behaviour without files or a network."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from chargeback.errors import NotFoundError
from chargeback.storage import AlreadyExistsError, ObjectInfo, check_key


class MemoryObjectStore:
    def __init__(self, url: str = "memory://warehouse") -> None:
        self.url = url
        self.objects: dict[str, bytes] = {}
        self.modified: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def _info(self, key: str) -> ObjectInfo:
        data = self.objects[key]
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), modified=self.modified.get(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield self._info(key)

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read_bytes(key))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.objects[check_key(key)]
        except KeyError:
            raise NotFoundError(f"{self.url}/{key} does not exist") from None

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._lock:
            self.objects[check_key(key)] = bytes(data)
            self.modified[key] = datetime.now(UTC)

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self.write_bytes(key, Path(path).read_bytes(), content_type)

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._lock:
            if check_key(key) in self.objects:
                raise AlreadyExistsError(f"{self.url}/{key} already exists")
            self.objects[key] = bytes(data)
            self.modified[key] = datetime.now(UTC)

    def copy(self, source: str, key: str) -> None:
        with self._lock:
            if check_key(source) not in self.objects:
                raise NotFoundError(f"{self.url}/{source} does not exist")
            self.objects[check_key(key)] = self.objects[source]
            self.modified[key] = self.modified.get(source, datetime.now(UTC))

    def stat(self, key: str) -> ObjectInfo | None:
        return self._info(key) if check_key(key) in self.objects else None

    def exists(self, key: str) -> bool:
        return check_key(key) in self.objects

    def delete(self, key: str) -> None:
        with self._lock:
            self.objects.pop(check_key(key), None)
            self.modified.pop(key, None)
