"""An in-memory ObjectStore for unit tests: the port's behaviour without files or a network."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from chargeback.errors import NotFoundError
from chargeback.storage import ObjectInfo, check_key


class MemoryObjectStore:
    def __init__(self, url: str = "memory://warehouse") -> None:
        self.url = url
        self.objects: dict[str, bytes] = {}

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                data = self.objects[key]
                yield ObjectInfo(key, len(data), hashlib.md5(data).hexdigest())

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read_bytes(key))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.objects[check_key(key)]
        except KeyError:
            raise NotFoundError(f"{self.url}/{key} does not exist") from None

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.objects[check_key(key)] = bytes(data)

    def exists(self, key: str) -> bool:
        return check_key(key) in self.objects

    def delete(self, key: str) -> None:
        self.objects.pop(check_key(key), None)
