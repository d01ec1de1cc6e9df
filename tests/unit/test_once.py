"""Leases and done-once records: exclusive generations, expiry, dead holders, lost answers, heartbeats."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargeback.once import LeaseBusyError, LeaseLostError, LeasePolicy, RecordStore, hold_lease, record_key
from chargeback.once.chain import Chain, Holder
from chargeback.once.lease import Lease
from chargeback.storage import AlreadyExistsError, LocalObjectStore
from tests.support.memory_store import MemoryObjectStore


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 4, 2, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class LostAnswerStore(MemoryObjectStore):
    """A create that is applied, then answered 'already exists', as a retry after a lost answer would be."""

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        super().create(key, data, content_type)
        raise AlreadyExistsError(f"{key} already exists")


def test_a_chain_lets_one_of_two_writers_of_a_generation_win() -> None:
    store = MemoryObjectStore()
    chain = Chain(store, "state/x")
    first = chain.append(None, {"n": 1})
    assert first is not None and first.number == 1
    assert chain.append(first, {"n": "a"}) is not None
    assert chain.append(first, {"n": "b"}) is None  # read generation 1 too, but 2 is taken
    head = chain.head()
    assert head is not None and (head.number, head.document["n"]) == (2, "a")


def test_a_create_retried_after_a_lost_answer_is_recognised_as_its_own() -> None:
    store = LostAnswerStore()
    chain = Chain(store, "state/x")
    written = chain.append(None, {"n": 1})
    assert written is not None and written.number == 1  # not mistaken for another writer's object
    other = Chain(MemoryObjectStore(), "state/x")
    other.store.objects.update(store.objects)  # type: ignore[attr-defined]
    assert other.append(None, {"n": 2}) is None


def test_a_second_lease_waits_then_gives_up_while_the_first_is_held() -> None:
    store, clock = MemoryObjectStore(), FakeClock()
    policy = LeasePolicy(ttl=120, wait=30, poll=5)
    first = Lease(store, "report", "2026-05", policy, clock=clock, sleep=clock.sleep, heartbeat=False).acquire()
    second = Lease(store, "report", "2026-05", policy, clock=clock, sleep=clock.sleep, heartbeat=False)
    started = clock.now
    with pytest.raises(LeaseBusyError, match=r"another 'chargeback report' of 2026-05 .* try again"):
        second.acquire()
    assert clock.now - started == timedelta(seconds=30)  # it waited, bounded
    first.release()
    assert second.acquire().waited == 0
    assert Lease(store, "run", "2026-05", policy, clock=clock, sleep=clock.sleep,  # another job: its own lease
                 heartbeat=False).acquire()


def test_an_expired_lease_is_taken_over_and_its_holder_learns_it_lost() -> None:
    store, clock = MemoryObjectStore(), FakeClock()
    policy = LeasePolicy(ttl=60, wait=300, poll=10)
    stale = Lease(store, "run", "2026-05", policy, clock=clock, sleep=clock.sleep, heartbeat=False).acquire()
    stale.check()
    clock.sleep(61)
    fresh = Lease(store, "run", "2026-05", policy, clock=clock, sleep=clock.sleep, heartbeat=False).acquire()
    assert fresh.waited == 0
    with pytest.raises(LeaseLostError, match="lost the run lease of 2026-05"):
        stale.check()
    assert stale.renew() is False
    stale.release()  # writes nothing over the new holder
    fresh.check()


def test_a_lease_waits_for_a_live_holder_until_it_expires() -> None:
    store, clock = MemoryObjectStore(), FakeClock()
    policy = LeasePolicy(ttl=60, wait=300, poll=10)
    Lease(store, "alert", "2026-05", policy, clock=clock, sleep=clock.sleep, heartbeat=False).acquire()
    second = Lease(store, "alert", "2026-05", policy, clock=clock, sleep=clock.sleep, heartbeat=False).acquire()
    assert second.waited == 60


def test_a_lease_of_a_dead_process_on_this_machine_is_taken_at_once(tmp_path: Path) -> None:
    store, clock = LocalObjectStore(tmp_path), FakeClock()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    here = Holder.this_process()
    state = Path(f"/proc/{child.pid}/stat").read_text()
    dead = replace(here, pid=child.pid, started=state[state.rfind(")") + 2:].split()[19])
    assert not dead.is_gone()
    child.kill()
    child.wait()
    assert dead.is_gone()
    chain = Chain(store, "state/leases/run/billing_month=2026-05")
    chain.append(None, {"state": "held", "token": "theirs", "holder": dead.to_json(),
                        "expires_at": (clock.now + timedelta(hours=1)).isoformat()})
    lease = Lease(store, "run", "2026-05", LeasePolicy(wait=0), clock=clock, sleep=clock.sleep, heartbeat=False)
    assert lease.acquire().waited == 0
    elsewhere = replace(dead, boot="another-machine")
    assert not elsewhere.is_gone()  # another machine's process: only its expiry frees its lease


def test_the_heartbeat_renews_a_lease_held_longer_than_its_time_to_live() -> None:
    store = MemoryObjectStore()
    policy = LeasePolicy(ttl=0.4, wait=0.1, poll=0.05)
    with hold_lease(store, "run", "2026-05", policy) as lease:
        time.sleep(1.2)  # three times its time to live
        lease.check()
        with pytest.raises(LeaseBusyError):
            Lease(store, "run", "2026-05", policy).acquire()
    Lease(store, "run", "2026-05", policy).acquire().release()  # released: taken at once


def test_a_record_is_claimed_once_completed_once_and_then_left_alone() -> None:
    clock = FakeClock()
    records = RecordStore(MemoryObjectStore(), "state/statements/billing_month=2026-05/records", clock=clock)
    key = record_key("search", "mail", "v1")
    claim = records.begin(key, {"message_id": "<a@b>"})
    assert claim.taken and claim.record.status == "in_progress" and claim.previous is None
    busy = records.begin(key)
    assert not busy.taken and busy.record.status == "in_progress"  # a live claim: being done elsewhere
    done = records.complete(claim, {"delivery_id": "250 OK"})
    assert (done.status, done.data, done.token) == ("completed", {"delivery_id": "250 OK"}, claim.record.token)
    again = records.begin(key)
    assert not again.taken and again.record.status == "completed"
    assert list(records.all()) == [key]


def test_a_failed_or_expired_claim_is_claimed_again() -> None:
    clock = FakeClock()
    records = RecordStore(MemoryObjectStore(), "state/r", clock=clock, expiry=timedelta(minutes=10))
    failed = records.fail(records.begin("a"), {"error": "550 no such user"})
    retry = records.begin("a")
    assert retry.taken and retry.previous == failed
    records.begin("b")  # its holder dies: the claim stays in progress
    assert not records.begin("b").taken
    clock.sleep(601)
    assert records.begin("b").taken


def test_record_keys_hold_any_text_safely() -> None:
    assert record_key("研发/ops", "..", ".hidden") == "%E7%A0%94%E5%8F%91%2Fops/%2E%2E/%2Ehidden"
    records = RecordStore(MemoryObjectStore(), "state/r")
    records.complete(records.begin(record_key("a/b", "c")), {"x": 1})
    assert list(records.all()) == ["a%2Fb/c"]


def test_concurrent_updates_are_never_lost(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)

    def add(item: str) -> None:
        records = RecordStore(store, "state/alerts/billing_month=2026-05/records")
        for number in range(5):
            records.update("alert-1", lambda current, added=f"{item}{number}": {
                "items": [*(current.data["items"] if current else []), added]})

    threads = [threading.Thread(target=add, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = RecordStore(store, "state/alerts/billing_month=2026-05/records").get("alert-1")
    assert record is not None and sorted(record.data["items"]) == sorted(f"{a}{n}" for a in "abc" for n in range(5))
