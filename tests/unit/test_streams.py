"""download_stream(): SDK bodies become buffered file objects that resume where a body broke off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chargeback.errors import NotFoundError, StorageError
from chargeback.storage.policy import StoragePolicy
from chargeback.storage.retry import StorageCall
from chargeback.storage.streams import Part, download_stream

OBJECT = bytes(range(256)) * 40  # 10,240 bytes


class Transient(Exception):
    pass


class Gone(Exception):
    pass


class ChunkyBody:
    """A response body that hands out fixed chunks, ignoring how much was asked for; then fails or ends."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    def read(self, amt: int | None = None, /) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.error is not None:
            raise self.error
        return b""

    def close(self) -> None:
        self.closed = True


class ScriptedObject:
    """fetch(offset, etag) answering from OBJECT; each answer is cut after ``cuts[n]`` bytes while cuts last."""

    def __init__(self, cuts: list[int] | None = None, error: Exception | None = None, length: bool = True,
                 data: bytes = OBJECT) -> None:
        self.cuts = list(cuts or [])
        self.error = error
        self.length = length
        self.data = data
        self.fetches: list[tuple[int, str]] = []
        self.bodies: list[ChunkyBody] = []

    def __call__(self, offset: int, etag: str) -> Part:
        self.fetches.append((offset, etag))
        rest = self.data[offset:]
        if self.cuts:
            cut = self.cuts.pop(0)
            body = ChunkyBody([rest[:cut][i:i + 1000] for i in range(0, cut, 1000)], self.error)
        else:
            body = ChunkyBody([rest[i:i + 1000] for i in range(0, len(rest), 1000)])
        self.bodies.append(body)
        return Part(body, len(rest) if self.length else None, "etag-1")


def translate(exc: Exception) -> Exception:
    return NotFoundError("s3://b/k does not exist") if isinstance(exc, Gone) else exc


def call(sleeps: list[float], attempts: int = 4) -> StorageCall:
    policy = StoragePolicy(attempts=attempts, base_delay=0.5, max_delay=4.0)
    return StorageCall("GET of s3://b/k", policy, lambda exc: isinstance(exc, Transient), translate=translate,
                       sleep=sleeps.append)


def stream_of(fetch: Callable[[int, str], Part], sleeps: list[float], attempts: int = 4):  # type: ignore[no-untyped-def]
    return download_stream(fetch, call(sleeps, attempts))


def test_bytes_beyond_the_request_are_kept_not_lost() -> None:
    sleeps: list[float] = []
    stream = stream_of(ScriptedObject(), sleeps)
    assert stream.read(3) == OBJECT[:3]
    assert stream.read() == OBJECT[3:]
    assert stream.read() == b""
    assert sleeps == []


def test_tiny_reads_see_every_byte() -> None:
    data = b"abcdefghij"
    stream = stream_of(ScriptedObject(data=data), [])
    assert [stream.read(1) for _ in range(11)] == [bytes([c]) for c in data] + [b""]


def test_closing_the_stream_closes_the_body() -> None:
    fetch = ScriptedObject()
    with stream_of(fetch, []) as stream:
        assert stream.read(10) == OBJECT[:10]
    assert fetch.bodies[0].closed
    assert stream.closed


def test_a_truncated_body_is_fetched_again_from_where_it_broke_pinned_to_its_etag() -> None:
    sleeps: list[float] = []
    fetch = ScriptedObject(cuts=[4000, 3000])
    assert stream_of(fetch, sleeps).read() == OBJECT
    assert fetch.fetches == [(0, ""), (4000, "etag-1"), (7000, "etag-1")]
    assert sleeps == [0.5, 1.0]
    assert all(body.closed for body in fetch.bodies[:2])


def test_a_transient_read_error_resumes() -> None:
    sleeps: list[float] = []
    fetch = ScriptedObject(cuts=[2500], error=Transient("connection reset"))
    assert stream_of(fetch, sleeps).read() == OBJECT
    assert fetch.fetches == [(0, ""), (2500, "etag-1")]
    assert sleeps == [0.5]


def test_an_error_that_is_not_transient_is_translated_not_retried() -> None:
    sleeps: list[float] = []
    fetch = ScriptedObject(cuts=[1000], error=Gone())
    stream = stream_of(fetch, sleeps)
    with pytest.raises(NotFoundError, match="does not exist"):
        stream.read()
    assert (len(fetch.fetches), sleeps) == (1, [])


def test_a_body_that_keeps_breaking_fails_after_the_attempts_with_its_reason() -> None:
    sleeps: list[float] = []
    fetch = ScriptedObject(cuts=[100] * 10)
    stream = stream_of(fetch, sleeps, attempts=3)
    with pytest.raises(StorageError, match=r"GET of s3://b/k failed after 3 attempts .*"
                                           r"TruncatedBodyError: the answer ended after 300 of 10,240 bytes"):
        stream.read()
    assert [offset for offset, _ in fetch.fetches] == [0, 100, 200]
    assert sleeps == [0.5, 1.0]


def test_without_a_length_the_end_of_the_body_is_the_end() -> None:
    fetch = ScriptedObject(cuts=[5000], length=False)
    assert stream_of(fetch, []).read() == OBJECT[:5000]
    assert fetch.fetches == [(0, "")]


def test_a_missing_object_fails_when_opened() -> None:
    def missing(offset: int, etag: str) -> Part:
        raise Gone()

    with pytest.raises(NotFoundError):
        stream_of(missing, [])


def test_a_failing_first_fetch_is_retried() -> None:
    sleeps: list[float] = []
    fetch = ScriptedObject()
    failures = [Transient("503"), Transient("503")]

    def flaky(offset: int, etag: str) -> Part:
        if failures:
            raise failures.pop(0)
        return fetch(offset, etag)

    assert stream_of(flaky, sleeps).read() == OBJECT
    assert sleeps == [0.5, 1.0]
