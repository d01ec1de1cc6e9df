"""Done-once records: the one persistence layer for "this was done" (statements sent, alerts delivered, alert
state), in the manner of Powertools' idempotency utility.

A record has a key, a status and data. ``begin`` claims a key: it writes ``in_progress`` with an expiry and
this process as holder, unless the record is ``completed`` (done: do not do it again) or ``in_progress`` under
a live holder (being done elsewhere). The claimant does the work, then ``complete`` records the result, or
``fail`` records why not (a failed record may be claimed again at once). A claim whose holder died is taken
over after its expiry, or at once when the holder was a process of the same machine (``Holder.is_gone``);
whoever takes it over does the work again, so the work must carry an idempotency key of its own (a stable
Message-ID, an ``Idempotency-Key`` header). ``update`` replaces a record's data with a compare-and-swap, for
state that changes (an alert's history).

Each record is a chain (``chargeback.once.chain``) under ``<folder>/<key>/``: every change is a new generation
written with an exclusive create, so two runs can never both claim a key, and a change is never lost to a
concurrent one. Keys are made with ``record_key``, whose parts may hold any text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from chargeback.once.chain import Chain, Generation, Holder, read_heads, scan
from chargeback.storage import ObjectStore, check_key

Status = Literal["in_progress", "completed", "failed"]
Clock = Callable[[], datetime]
IN_PROGRESS_EXPIRY = timedelta(minutes=10)  # longer than any send with its retries takes
_CONFLICTS = 20  # compare-and-swap rounds before giving up (each lost round means another writer progressed)
_LIVE: set[str] = set()  # the tokens of the claims this process holds and is still working on


def record_key(*parts: str) -> str:
    """A record key from parts of any text: each percent-encoded into one safe key segment."""
    segments = []
    for part in parts:
        segment = quote(str(part), safe="-_")
        segments.append(segment.replace(".", "%2E") if segment.strip(".") == "" or segment.startswith(".")
                        else segment)
    return check_key("/".join(segments))


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Record:
    """The newest state of one key."""

    key: str
    status: Status
    data: Mapping[str, Any]
    at: datetime
    token: str = ""  # the claim's: the same from 'in_progress' to 'completed'
    holder: Holder | None = None
    expires_at: datetime | None = None  # of an 'in_progress' claim
    generation: Generation | None = None

    @classmethod
    def of(cls, key: str, generation: Generation) -> Record:
        document = generation.document
        expires = document.get("expires_at")
        return cls(key, document.get("status", "completed"), dict(document.get("data") or {}),
                   datetime.fromisoformat(document["at"]), str(document.get("token", "")),
                   Holder.from_json(document.get("holder")), datetime.fromisoformat(expires) if expires else None,
                   generation)

    def claimable(self, now: datetime) -> bool:
        """Whether ``begin`` may take this record: failed, or a claim whose holder is gone or whose time ran out."""
        if self.status == "failed":
            return True
        if self.status != "in_progress":
            return False
        mine = self.holder == Holder.this_process()  # then this process knows whether the claim is still worked on
        return (self.expires_at is not None and self.expires_at <= now) or (
            self.holder is not None and self.holder.is_gone()) or (mine and self.token not in _LIVE)


@dataclass(frozen=True)
class Claim:
    """What ``begin`` got: the record as it now stands, whether this run holds it (``taken``), and the record
    it took over (an earlier claim whose holder died, or a failure), if any."""

    record: Record
    taken: bool
    previous: Record | None = None


class RecordStore:
    """The done-once records under ``folder`` (e.g. ``state/statements/billing_month=2026-05/records``)."""

    def __init__(self, store: ObjectStore, folder: str, *, clock: Clock = system_clock,
                 expiry: timedelta = IN_PROGRESS_EXPIRY) -> None:
        self.store = store
        self.folder = check_key(folder.strip("/"))
        self._clock, self._expiry = clock, expiry

    def _chain(self, key: str) -> Chain:
        return Chain(self.store, f"{self.folder}/{check_key(key)}")

    def get(self, key: str) -> Record | None:
        head = self._chain(key).head()
        return Record.of(key, head) if head else None

    def all(self) -> dict[str, Record]:
        """Every record under the folder, by key: one listing, then the newest generation of each."""
        heads = read_heads(self.store, self.folder, scan(self.store, self.folder).items())
        return {key: Record.of(key, generation) for key, generation in sorted(heads.items())}

    def _write(self, key: str, after: Record | None, status: Status, data: Mapping[str, Any], *, token: str,
               expires: datetime | None = None) -> Record | None:
        now = self._clock()
        document: dict[str, Any] = {"status": status, "data": dict(data), "at": now.isoformat(), "token": token,
                                    "holder": Holder.this_process().to_json()}
        if expires is not None:
            document["expires_at"] = expires.isoformat()
        written = self._chain(key).append(after.generation if after else None, document)
        return Record.of(key, written) if written else None

    def begin(self, key: str, data: Mapping[str, Any] | None = None) -> Claim:
        """Claim ``key`` with ``data`` (what is about to be done), unless it is done or being done elsewhere."""
        for _ in range(_CONFLICTS):
            current = self.get(key)
            if current is not None and not current.claimable(self._clock()):
                return Claim(current, taken=False)
            token = uuid.uuid4().hex
            _LIVE.add(token)
            claimed = self._write(key, current, "in_progress", data or {}, token=token,
                                  expires=self._clock() + self._expiry)
            if claimed is not None:
                return Claim(claimed, taken=True, previous=current)
            _LIVE.discard(token)
        raise RuntimeError(f"{self.folder}/{key}: claimed by others {_CONFLICTS} times over while claiming it")

    def complete(self, claim: Claim, data: Mapping[str, Any]) -> Record:
        """Record the claimed work as done, with its result ``data``."""
        return self._finish(claim, "completed", data)

    def fail(self, claim: Claim, data: Mapping[str, Any]) -> Record:
        """Record that the claimed work failed (``data``: why); the key may be claimed again at once."""
        return self._finish(claim, "failed", data)

    def abandon(self, claim: Claim) -> None:
        """Stop working on ``claim`` without an outcome (the work failed in a way that does not say whether it
        was done): the claim stays in progress, and the next run of this process may take it over at once."""
        _LIVE.discard(claim.record.token)

    def _finish(self, claim: Claim, status: Status, data: Mapping[str, Any]) -> Record:
        if not claim.taken:
            raise ValueError(f"{claim.record.key}: this run did not claim it")
        _LIVE.discard(claim.record.token)
        after: Record | None = claim.record
        for _ in range(_CONFLICTS):
            written = self._write(claim.record.key, after, status, data, token=claim.record.token)
            if written is not None:
                return written
            # our claim ran out and another run took it over: the work was done all the same, so say so
            after = self.get(claim.record.key)
            if status == "failed" and after is not None and after.token != claim.record.token:
                return after  # the other run's claim stands; our failure is moot
        raise RuntimeError(f"{self.folder}/{claim.record.key}: could not record the outcome")

    def update(self, key: str, change: Callable[[Record | None], Mapping[str, Any]]) -> Record:
        """Replace ``key``'s data with ``change(current record)`` as a completed record; a concurrent change is
        never lost (the change is made again on the newer record)."""
        for _ in range(_CONFLICTS):
            current = self.get(key)
            written = self._write(key, current, "completed", change(current), token=current.token if current
                                  else uuid.uuid4().hex)
            if written is not None:
                return written
        raise RuntimeError(f"{self.folder}/{key}: changed by others {_CONFLICTS} times over while changing it")
