"""A deadline on one request attempt, enforced even when the answer trickles in a byte at a time.

Socket timeouts bound each wait for bytes, not a whole answer: a server sending one byte every few seconds never
trips them. So every attempt is an ``Attempt`` with a deadline, watched by one background thread: when the
deadline passes, the sockets the attempt used are shut down, the blocked read returns at once, and the adapter
reports the attempt as ``DeadlineExceeded``.

The sockets are found without touching the SDKs' internals beyond their connection classes: the adapters install
connection classes (``TrackedConnection`` mixed into urllib3's, which both botocore and requests use) that
register their socket with the attempt running in the current thread (``Attempt.tracking``) whenever they
connect or send a request. DNS look-ups happen before a socket exists and are bounded by the resolver alone.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class DeadlineExceeded(Exception):
    """An attempt ran past its deadline; its connections were shut down."""

    def __init__(self, seconds: float, *, call_deadline: float | None = None) -> None:
        if call_deadline is None:
            super().__init__(f"no complete answer within {seconds:.3g} s")
        else:  # the attempt had only what was left of the call's time
            super().__init__(f"no complete answer before the call's time limit of {call_deadline:.3g} s")
        self.seconds = seconds


class Attempt:
    """One request attempt and the sockets it uses, with a deadline in ``time.monotonic`` seconds.

    ``tracking()`` makes it the current attempt of the calling thread while an SDK call runs; ``close()`` ends
    it (a download keeps it open until its body is read). An attempt that is never closed is dropped by the
    watchdog at its deadline.
    """

    def __init__(self, seconds: float, *, cut_short: bool = False) -> None:
        self.seconds = seconds
        self.cut_short = cut_short  # the call's deadline, not the request deadline, set this one's
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self.closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        _watchdog.watch(self)

    def extend(self, seconds: float) -> None:
        """Move the deadline ``seconds`` later (a download, once its size is known)."""
        if seconds <= 0:
            return
        with self._lock:
            if self.expired or self.closed:
                return
            self.seconds += seconds
            self.expires_at += seconds
        _watchdog.watch(self)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def check(self) -> None:
        """Raise DeadlineExceeded if the deadline has passed."""
        if self.expired or self.remaining() <= 0:
            self._expire()
            raise DeadlineExceeded(self.seconds)

    @contextmanager
    def tracking(self) -> Iterator[Attempt]:
        """Register the sockets that connections open or reuse in this thread, while the block runs."""
        previous = getattr(_current, "attempt", None)
        _current.attempt = self
        try:
            yield self
        finally:
            _current.attempt = previous

    def track(self, sock: Any) -> None:
        with self._lock:
            if self.closed:
                return
            if not self.expired:
                self._sockets.append(sock)
                return
        _shut_down(sock)  # a connection opened after the deadline must not hang either

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._sockets.clear()

    def _expire(self) -> None:
        with self._lock:
            if self.closed or self.expired:
                return
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut_down(sock)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _shut_down(sock: Any) -> None:
    """Wake every reader of ``sock`` (the base-class call also works on a TLS socket in another thread's read)."""
    # OSError: already closed, or detached into its TLS wrapper (which is tracked too)
    with contextlib.suppress(OSError, TypeError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()


def track_socket(sock: Any) -> None:
    """Register ``sock`` with the current thread's attempt, if there is one."""
    attempt: Attempt | None = getattr(_current, "attempt", None)
    if attempt is not None and sock is not None:
        attempt.track(sock)


class _Watchdog:
    """One daemon thread that expires attempts at their deadlines."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Attempt]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, attempt: Attempt) -> None:
        with self._condition:
            heapq.heappush(self._heap, (attempt.expires_at, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="storage-deadlines", daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap:
                    self._condition.wait()
                expires_at, _, attempt = self._heap[0]
                wait = expires_at - time.monotonic()
                if wait > 0 and not attempt.closed:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
            # an entry from before an extension is stale: the newer entry expires the attempt
            if not attempt.closed and attempt.expires_at <= expires_at:
                attempt._expire()


_watchdog = _Watchdog()


class TrackedConnection:
    """Mixed in front of a urllib3 connection class: its sockets join the current ``Attempt``."""

    sock: Any

    def _new_conn(self) -> Any:
        sock = super()._new_conn()  # type: ignore[misc]
        track_socket(sock)
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        track_socket(self.sock)  # the TLS socket, when connect() wrapped the plain one

    def request(self, *args: Any, **kwargs: Any) -> Any:
        track_socket(self.sock)  # a kept-alive connection from the pool
        return super().request(*args, **kwargs)  # type: ignore[misc]


class TrackedHTTPConnection(TrackedConnection, HTTPConnection):
    pass


class TrackedHTTPSConnection(TrackedConnection, HTTPSConnection):
    pass


class TrackedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = TrackedHTTPConnection


class TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = TrackedHTTPSConnection


TRACKED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": TrackedHTTPConnectionPool,
    "https": TrackedHTTPSConnectionPool,
}
