"""binary_stream(): SDK bodies become buffered file objects; read failures become StorageError."""

from __future__ import annotations

import pytest

from chargeback.errors import StorageError
from chargeback.storage.streams import binary_stream


class ChunkyBody:
    """A response body that hands out fixed chunks, ignoring how much was asked for."""

    def __init__(self, chunks: list[bytes], fail_after: int | None = None) -> None:
        self.chunks = list(chunks)
        self.reads = 0
        self.fail_after = fail_after
        self.closed = False

    def read(self, amt: int | None = None, /) -> bytes:
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise ConnectionResetError("peer reset")
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        self.closed = True


def test_bytes_beyond_the_request_are_kept_not_lost() -> None:
    body = ChunkyBody([b"0123456789" * 100, b"tail"])
    stream = binary_stream(body, what="s3://b/k")
    assert stream.read(3) == b"012"
    assert stream.read() == (b"0123456789" * 100)[3:] + b"tail"
    assert stream.read() == b""


def test_tiny_buffer_reads_see_every_byte() -> None:
    body = ChunkyBody([b"abc", b"defgh", b"ij"])
    stream = binary_stream(body, what="s3://b/k")
    assert [stream.read(1) for _ in range(11)] == [bytes([c]) for c in b"abcdefghij"] + [b""]


def test_closing_the_stream_closes_the_body() -> None:
    body = ChunkyBody([b"x"])
    with binary_stream(body, what="s3://b/k") as stream:
        assert stream.read() == b"x"
    assert body.closed
    assert stream.closed


def test_a_read_failure_names_the_object() -> None:
    body = ChunkyBody([b"x"], fail_after=1)
    stream = binary_stream(body, what="oss://bills/2024-05.csv", read_errors=(ConnectionError,))
    with pytest.raises(StorageError, match=r"reading oss://bills/2024-05.csv failed: ConnectionResetError"):
        stream.read()


def test_errors_not_declared_propagate_unchanged() -> None:
    body = ChunkyBody([], fail_after=0)
    stream = binary_stream(body, what="s3://b/k", read_errors=(TimeoutError,))
    with pytest.raises(ConnectionResetError):
        stream.read()
