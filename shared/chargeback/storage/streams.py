"""Downloads as real ``BinaryIO`` streams that detect a cut-off body and resume where it broke.

boto3's StreamingBody and oss2's GetObjectResult read and close but are not full file objects (no ``readinto``,
``readline`` or ``seekable``); ``download_stream`` wraps the adapter's ``fetch`` in a buffered reader that also:

- counts the bytes against the answer's length (Content-Length): a body that ends early is truncated;
- on a truncated body, a dropped connection, a read error that the call calls transient, or an attempt past
  its deadline (checked before every read, so a slow reader counts too), fetches the rest again from the byte
  where it broke (a ranged GET), pinned to the first answer's ETag (If-Match), so the bytes handed out always
  belong to one version of the object;
- counts every such restart, and every failed fetch, against the one ``StorageCall`` of the download: its
  attempts and its deadline (the call deadline plus the object's size at the policy's download rate).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from chargeback.storage.deadline import Attempt
from chargeback.storage.retry import StorageCall

STREAM_BUFFER_SIZE = 256 * 1024


class ResponseBody(Protocol):
    """The part of an SDK response body the wrapper uses."""

    def read(self, amt: int | None = ..., /) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class Part:
    """One GET answer: its body, the bytes it announces (None when unknown) and the object's ETag."""

    body: ResponseBody
    length: int | None
    etag: str


# fetch(offset, etag): the object from byte ``offset`` on ('' etag: any version; else only that version)
Fetch = Callable[[int, str], Part]


class TruncatedBodyError(Exception):
    """An answer ended before the length it announced."""

    def __init__(self, received: int, expected: int) -> None:
        super().__init__(f"the answer ended after {received:,} of {expected:,} bytes")


class _ResumingReader(io.RawIOBase):
    def __init__(self, fetch: Fetch, call: StorageCall) -> None:
        super().__init__()
        self._fetch = fetch
        self._call = call
        self._position = 0
        self._size: int | None = None
        self._etag = ""
        self._body: ResponseBody | None = None
        self._attempt: Attempt | None = None
        self._fetched = False
        self._open()

    def _open(self) -> None:
        """(Re)fetch the object from the current position, with the call's retries."""

        def fetch(attempt: Attempt) -> Part:
            self._attempt = attempt
            return self._fetch(self._position, self._etag)

        part = self._call.run(fetch, keep_open=True)
        assert self._attempt is not None
        if not self._fetched and part.length is not None:
            self._size = part.length
            self._call.allow(self._call.policy.download_allowance(part.length))
        if part.length is not None:
            self._attempt.extend(self._call.policy.download_allowance(part.length))
        self._fetched = True
        self._etag = self._etag or part.etag
        self._body = part.body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = len(buffer)
        while wanted:
            if self._size is not None and self._position >= self._size:
                self._finish()
                return 0
            assert self._body is not None and self._attempt is not None
            try:
                self._attempt.check()  # also without a tracked socket (a slow reader, an in-process fake)
                chunk = self._body.read(wanted)
            except Exception as exc:  # filtered just below: what is not transient propagates, translated
                if not self._attempt.expired and not self._call.is_transient(exc):
                    self._call.raise_translated(exc)
                self._resume(exc)
                continue
            if not chunk:
                if self._size is None and not self._attempt.expired:
                    self._finish()
                    return 0
                self._resume(TruncatedBodyError(self._position, self._size or 0))
                continue
            count = min(wanted, len(chunk))
            buffer[:count] = chunk[:count]
            self._position += count
            if count < len(chunk):  # a body that returns more than asked: keep the rest for the next read
                self._body = _Prefixed(chunk[count:], self._body)
            return count
        return 0

    def _resume(self, exc: Exception) -> None:
        attempt = self._attempt
        self._close_body()
        self._call.failed(exc, attempt)  # counts the failure and waits, or raises StorageError
        self._open()

    def _finish(self) -> None:
        if self._attempt is not None:
            self._attempt.close()

    def _close_body(self) -> None:
        body, self._body = self._body, None
        if self._attempt is not None:
            self._attempt.close()
        if body is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is discarded anyway
                body.close()

    def close(self) -> None:
        if not self.closed:
            try:
                self._close_body()
            finally:
                super().close()


class _Prefixed:
    """A body with some bytes already read from it put back in front."""

    def __init__(self, head: bytes, body: ResponseBody) -> None:
        self._head = head
        self._body = body

    def read(self, amt: int | None = None, /) -> bytes:
        if self._head:
            if amt is None:
                head, self._head = self._head, b""
                return head + self._body.read()
            head, self._head = self._head[:amt], self._head[amt:]
            return head
        return self._body.read(amt)

    def close(self) -> None:
        self._body.close()


def download_stream(fetch: Fetch, call: StorageCall) -> BinaryIO:
    """A buffered, closeable file object over the object that ``fetch`` returns, resumed on failures.

    The first fetch happens now (so a missing object fails here); errors that are not transient come out of
    the call's ``translate`` (the adapter's NotFoundError or StorageError), the exhausted retries as StorageError.
    """
    raw = _ResumingReader(fetch, call)
    return cast(BinaryIO, io.BufferedReader(raw, buffer_size=STREAM_BUFFER_SIZE))
