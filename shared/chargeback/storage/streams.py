"""Turning an SDK response body (anything with ``read(n)`` and ``close()``) into a real ``BinaryIO``.

boto3's StreamingBody and oss2's GetObjectResult read and close but are not full file objects
(no ``readinto``, ``readline`` or ``seekable``). Wrapping them in a buffered reader gives callers
the standard interface, and read failures become StorageError naming the object.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Protocol, cast

from chargeback.errors import StorageError

STREAM_BUFFER_SIZE = 256 * 1024


class ResponseBody(Protocol):
    """The part of an SDK response body the wrapper uses."""

    def read(self, amt: int | None = ..., /) -> bytes: ...

    def close(self) -> None: ...


class _ResponseBodyReader(io.RawIOBase):
    """A raw reader over a response body; bytes the body returns beyond the request are kept for later."""

    def __init__(self, body: ResponseBody, what: str, read_errors: tuple[type[Exception], ...]) -> None:
        super().__init__()
        self._body = body
        self._what = what
        self._read_errors = read_errors
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = len(buffer)
        if wanted == 0:
            return 0
        chunk = self._pending
        if not chunk:
            try:
                chunk = self._body.read(wanted)
            except self._read_errors as exc:
                raise StorageError(f"reading {self._what} failed: {type(exc).__name__}: {exc}") from exc
        count = min(wanted, len(chunk))
        buffer[:count] = chunk[:count]
        self._pending = chunk[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()


def binary_stream(
    body: ResponseBody, *, what: str, read_errors: tuple[type[Exception], ...] = ()
) -> BinaryIO:
    """A buffered, closeable file object over ``body``.

    Exceptions of the ``read_errors`` types raised while reading become StorageError naming ``what``.
    """
    raw = _ResponseBodyReader(body, what, read_errors)
    return cast(BinaryIO, io.BufferedReader(raw, buffer_size=STREAM_BUFFER_SIZE))
