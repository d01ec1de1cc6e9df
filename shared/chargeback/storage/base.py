"""The object store port: one small interface that the local, S3 and OSS adapters implement.

Keys are '/'-separated and relative to the store's root (the URL's path). They are checked by
``check_key`` before any use, so a key taken from data can never escape the root.

Every write replaces an object whole (readers see the old bytes or the new, never a part). ``create`` is the
one conditional write all three backends share (S3 ``If-None-Match: *``, OSS ``x-oss-forbid-overwrite``, an
exclusive link on a local disk): the leases and the done-once records (``chargeback.once``) are built on it.
A create whose answer was lost and that the adapter retried fails with AlreadyExistsError for its own
object, so a caller that must tell its own object from another's puts a token inside it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from chargeback.errors import InputError, StorageError


class AlreadyExistsError(StorageError):
    """``create`` found an object at the key (perhaps its own, when a lost answer was retried)."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing says of one object."""

    key: str
    size: int
    etag: str  # changes when the content changes (S3/OSS ETag; size+mtime locally)
    # why the entry cannot be read (a FIFO, a socket, a device, a link out of the root); '' when it can
    unreadable: str = ""
    modified: datetime | None = field(default=None, compare=False)  # when it was last written (aware)


@runtime_checkable
class ObjectStore(Protocol):
    """Read and write objects under one root."""

    url: str

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, recursively, in key order, across pages.

        Entries that are not objects to read (special files in a folder) are listed with ``unreadable`` set.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """A stream of the object's bytes; the caller closes it. NotFoundError when it is missing."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The whole object. NotFoundError when it is missing."""
        ...

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Create or replace the object; readers see the old or the new content, never a part."""
        ...

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Create or replace the object with the bytes of the local file ``path``, read from disk as they go
        (never held whole in memory; a retry reads the file again); readers see the old or the new content."""
        ...

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Write the object only if no object has the key; AlreadyExistsError otherwise."""
        ...

    def copy(self, source: str, key: str) -> None:
        """Replace ``key`` with a copy of ``source`` made inside the store (the bytes do not travel through us).

        The copy carries the source's ETag here (S3 and OSS: the MD5 of a single-PUT object without KMS
        encryption; a local disk: the same file), which lets a reader see that it is current. NotFoundError
        when ``source`` is missing."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's size, ETag and time, or None when it is missing."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...


def check_key(key: str, *, allow_empty: bool = False) -> str:
    """Return ``key`` if it is a safe relative object key, else raise InputError.

    Rejects absolute keys, backslashes, NUL and control characters, and '.' or '..' segments.
    """
    if key == "" and allow_empty:
        return key
    if not key or key.startswith("/") or "\\" in key or any(ord(c) < 32 for c in key):
        raise InputError(f"unsafe object key {key!r}")
    parts = key.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InputError(f"unsafe object key {key!r}")
    if posixpath.normpath(key.rstrip("/")) != key.rstrip("/"):
        raise InputError(f"unsafe object key {key!r}")
    return key


def join_key(*parts: str) -> str:
    """Join key parts with '/', dropping empty parts and duplicate slashes."""
    joined = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return check_key(joined)
