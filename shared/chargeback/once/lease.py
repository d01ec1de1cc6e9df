"""One writer per month and job: a lease taken with an exclusive create, renewed by a heartbeat, released at the
end, and taken over when its holder is gone.

    with hold_lease(warehouse, "run", "2026-05"):
        ...  # nobody else runs 'run' for 2026-05 meanwhile

The lease is a chain (``chargeback.once.chain``) under ``state/leases/<job>/billing_month=YYYY-MM/``: a holder
writes the next generation to take it (state ``held``, with an expiry), to renew it (every quarter of its
time to live, from a background thread) and to release it (state ``released``). Another run that finds it held
waits, polling, up to ``LeasePolicy.wait`` seconds, then gives up with LeaseBusyError; it takes the lease over
once it is released, expired, or held by a process of the same machine that has died (``Holder.is_gone``:
``kill -9``, an out-of-memory kill). A holder that could not renew in time (a pause longer than the time to
live) has lost the lease: ``check`` raises LeaseLostError, and the publish and the sends call it before they
commit. Old generations are removed by the bucket's lifecycle rule a day later (template.yml; OSS: the rule in
infra/aliyun/README.md), never by code.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chargeback.errors import ChargebackError
from chargeback.months import check_month
from chargeback.once.chain import Chain, Generation, Holder
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]
JOBS = ("run", "report", "alert")
_HELD: set[str] = set()  # the tokens of the leases this process holds now


def system_clock() -> datetime:
    return datetime.now(UTC)


class LeaseBusyError(ChargebackError):
    """Another run of the same job and month held the lease for longer than this run would wait."""


class LeaseLostError(ChargebackError):
    """This run's lease expired and another run took it over: this run must not commit anything more."""


@dataclass(frozen=True)
class LeasePolicy:
    """How long a lease lives without renewal, and how long a run waits for another's."""

    ttl: float = 120.0  # seconds; renewed every quarter of it
    wait: float = 300.0  # seconds a second run waits for the first before it gives up
    poll: float = 1.0  # seconds between looks while waiting


DEFAULT_LEASES = LeasePolicy()


def lease_folder(job: str, month: str) -> str:
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    return layout.state_key(f"leases/{job}/billing_month={check_month(month)}")


def _when(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unreadable: as good as expired


class Lease:
    """The lease of one job and month in one warehouse; ``acquire`` it, ``check`` it, ``release`` it (or use
    ``hold_lease``)."""

    def __init__(self, store: ObjectStore, job: str, month: str, policy: LeasePolicy = DEFAULT_LEASES, *,
                 clock: Clock = system_clock, sleep: Sleep = time.sleep, heartbeat: bool = True) -> None:
        self.job, self.month, self.policy = job, month, policy
        self.chain = Chain(store, lease_folder(job, month))
        self.token = uuid.uuid4().hex
        self._clock, self._sleep, self._heartbeat = clock, sleep, heartbeat
        self._current: Generation | None = None
        self._lost = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.waited = 0.0  # seconds this run waited for another's lease

    @property
    def expires_at(self) -> datetime | None:
        return _when(self._current.document["expires_at"]) if self._current else None

    def _document(self, state: str) -> dict[str, Any]:
        now = self._clock()
        return {"job": self.job, "month": self.month, "token": self.token, "state": state,
                "holder": Holder.this_process().to_json(), "at": now.isoformat(),
                "expires_at": (now + timedelta(seconds=self.policy.ttl)).isoformat()}

    def _free(self, head: Generation | None) -> bool:
        if head is None:
            return True
        document = head.document
        holder = Holder.from_json(document.get("holder"))
        # a lease of this very process that it no longer holds: its run ended without releasing it (it failed
        # while releasing it, as a process about to die would)
        abandoned = holder == Holder.this_process() and document.get("token") not in _HELD
        return (document.get("state") != "held" or document.get("token") == self.token or abandoned
                or _when(document.get("expires_at")) <= self._clock() or (holder is not None and holder.is_gone()))

    def acquire(self) -> Lease:
        """Take the lease, waiting while another live run holds it; LeaseBusyError after ``policy.wait``."""
        started = self._clock()
        told = False
        while True:
            head = self.chain.head()
            if self._free(head):
                _HELD.add(self.token)
                try:
                    taken = self.chain.append(head, self._document("held"))
                finally:
                    if self._current is None:
                        _HELD.discard(self.token)
                if taken is not None:
                    _HELD.add(self.token)
                    self._current = taken
                    self.waited = (self._clock() - started).total_seconds()
                    if head is not None and head.document.get("state") == "held" and head.document.get(
                            "token") != self.token:
                        log.warning("took over the %s lease of %s from %s (it expired or its process is gone)",
                                    self.job, self.month, self._describe(head), extra={"month": self.month})
                    self._start_heartbeat()
                    return self
                continue  # another run took it between our look and our write: look again
            assert head is not None
            waited = (self._clock() - started).total_seconds()
            if waited >= self.policy.wait:
                raise LeaseBusyError(
                    f"another 'chargeback {self.job}' of {self.month} ({self._describe(head)}) has been running "
                    f"for longer than this run waits ({self.policy.wait:g} s; its lease runs until "
                    f"{head.document.get('expires_at')} unless it renews it): try again when it has finished")
            if not told:
                log.info("waiting for another 'chargeback %s' of %s (%s) to finish", self.job, self.month,
                         self._describe(head), extra={"month": self.month, "job": self.job})
                told = True
            self._sleep(min(self.policy.poll, self.policy.wait - waited))

    @staticmethod
    def _describe(head: Generation) -> str:
        holder = Holder.from_json(head.document.get("holder"))
        since = head.document.get("at", "")
        return f"{holder.describe() if holder else 'an unknown process'}, lease renewed {since}"

    def renew(self) -> bool:
        """Write a new generation with a later expiry; False (and the lease is lost) when another run took it."""
        with self._lock:
            if self._current is None or self._lost:
                return False
            renewed = self.chain.append(self._current, self._document("held"))
            if renewed is None:
                self._lost = "another run took the lease over"
                return False
            self._current = renewed
            return True

    def check(self) -> None:
        """LeaseLostError when this run no longer holds the lease (it could not renew it in time)."""
        with self._lock:
            if self._current is None:
                raise LeaseLostError(f"the {self.job} lease of {self.month} is not held")
            if not self._lost and _when(self._current.document["expires_at"]) <= self._clock():
                self._lost = "it expired before it could be renewed"
            if self._lost:
                raise LeaseLostError(f"this run lost the {self.job} lease of {self.month} ({self._lost}): "
                                     "nothing more of it is committed; another run does the work")

    def release(self) -> None:
        """Hand the lease back (best effort: a lease that cannot be released expires)."""
        self._stop_heartbeat()
        _HELD.discard(self.token)
        with self._lock:
            current, self._current = self._current, None
            if current is None or self._lost:
                return
            try:
                self.chain.append(current, {**self._document("released"), "expires_at": self._clock().isoformat()})
            except ChargebackError as exc:
                log.warning("could not release the %s lease of %s (it expires by itself): %s", self.job,
                            self.month, exc, extra={"month": self.month})

    def _start_heartbeat(self) -> None:
        if not self._heartbeat:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.job}-{self.month}", daemon=True)
        self._thread.start()

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.policy.ttl)
        self._thread = None

    def _beat(self) -> None:
        while not self._stop.wait(self.policy.ttl / 4):
            try:
                if not self.renew():
                    return
            except ChargebackError as exc:  # a storage hiccup: try again at the next beat, before the expiry
                log.warning("could not renew the %s lease of %s: %s", self.job, self.month, exc,
                            extra={"month": self.month})


class LeaseWhenNeeded:
    """The lease of a job and month, taken at the first ``hold()`` (before the first write that needs it), so
    that a run with nothing to do writes nothing; released when the block ends.

        with LeaseWhenNeeded(warehouse, "report", month) as lease:
            for statement in ...:
                if it must be sent:
                    lease.hold()
                    ...
    """

    def __init__(self, store: ObjectStore, job: str, month: str, policy: LeasePolicy = DEFAULT_LEASES, *,
                 clock: Clock = system_clock, sleep: Sleep = time.sleep) -> None:
        self._make = lambda: Lease(store, job, month, policy, clock=clock, sleep=sleep)
        self.lease: Lease | None = None

    def hold(self) -> Lease:
        """The lease, taken now if this run does not hold it yet; ``check``ed when it was."""
        if self.lease is None:
            self.lease = self._make().acquire()
        else:
            self.lease.check()
        return self.lease

    def __enter__(self) -> LeaseWhenNeeded:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None


@contextmanager
def hold_lease(store: ObjectStore, job: str, month: str, policy: LeasePolicy = DEFAULT_LEASES, *,
               clock: Clock = system_clock, sleep: Sleep = time.sleep) -> Iterator[Lease]:
    """Hold the ``job`` lease of ``month`` while the block runs (see ``Lease``)."""
    lease = Lease(store, job, month, policy, clock=clock, sleep=sleep).acquire()
    try:
        yield lease
    finally:
        lease.release()
