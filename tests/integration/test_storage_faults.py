"""Storage under faults: a real proxy on 127.0.0.1 in front of moto's S3 server (boto3) and the OSS emulator (oss2).

Every scenario (5xx answers, dropped connections, answers lost after the server applied the request, truncated
bodies, trickling answers, outages) is run for list, get (whole and streamed) and put, on S3 and OSS. A fault
that goes away must end in success, one that does not in a clear StorageError; both within the bound the
policy states (``StoragePolicy.call_bound``). The policies are the defaults shrunk to milliseconds so the
suite stays fast; tests/unit/test_retry.py computes the default policy riding out a minute of outage.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chargeback.errors import StorageError
from chargeback.storage import ObjectStore
from tests.support.fault_proxy import Fault, Match, listings, method_is, object_reads
from tests.support.fault_stores import LASTING, RECOVERING, Faulty

SLACK = 0.5  # seconds for the watchdog's reaction and thread scheduling on a busy 2-core machine
OBJECT = random.Random(11).randbytes(300 * 1024)
PUT_OBJECT = random.Random(12).randbytes(100 * 1024)
LISTED = [f"list/{number:02d}.csv" for number in range(5)]


# ---------------------------------------------------------------------------------------------- operations


def arrange(faulty: Faulty, operation: str) -> None:
    if operation == "list":
        for key in LISTED:
            faulty.direct.write_bytes(key, key.encode())
    elif operation in ("get", "stream"):
        faulty.direct.write_bytes("big.bin", OBJECT)


def perform(store: ObjectStore, operation: str) -> object:
    if operation == "list":
        return [info.key for info in store.list("list/")]
    if operation == "get":
        return store.read_bytes("big.bin")
    if operation == "stream":
        with store.open("big.bin") as stream:
            return b"".join(iter(lambda: stream.read(64 * 1024), b""))
    if operation == "put_file":  # each attempt must send the whole file again, from its start
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "spooled.bin"
            path.write_bytes(PUT_OBJECT)
            store.write_file("put.bin", path, content_type="application/octet-stream")
        return None
    store.write_bytes("put.bin", PUT_OBJECT, content_type="application/octet-stream")
    return None


def check(faulty: Faulty, operation: str, result: object) -> None:
    if operation == "list":
        assert result == LISTED
    elif operation in ("get", "stream"):
        assert result == OBJECT
    else:
        assert faulty.direct.read_bytes("put.bin") == PUT_OBJECT


MATCHES: dict[str, Match] = {"list": listings, "get": object_reads, "stream": object_reads,
                             "put": method_is("PUT"), "put_file": method_is("PUT")}
SIZES = {"list": 0, "get": len(OBJECT), "stream": len(OBJECT), "put": 0, "put_file": 0}
OPERATIONS = tuple(MATCHES)

# fault, how many matching requests it hits, the outcome the proxy logs
RECOVERING_FAULTS: dict[str, tuple[Fault, int, str]] = {
    "5xx": (Fault.error(503), 2, "error 503"),
    "dropped connection": (Fault.drop(), 2, "drop"),
    "answer lost after the server applied it": (Fault.lose_answer(), 2, "lose_answer"),
    "truncated body": (Fault.truncate(0.5), 2, "truncate"),
    "trickling answer": (Fault.trickle(interval=0.05, size=1), 1, "trickle"),
}
LASTING_FAULTS: dict[str, tuple[Fault, str]] = {
    "5xx": (Fault.error(503), "HTTP 503"),
    "dropped connection": (Fault.drop(), "failed after 4 attempts"),
    "truncated body": (Fault.truncate(0.5), "failed after"),
    "trickling answer": (Fault.trickle(interval=0.05, size=1), "no complete answer"),
}
# a PUT answer cut inside its headers still shows "200 OK": the server applied the PUT and the client sees that
SUCCEEDS_ANYWAY = {("truncated body", "put"), ("truncated body", "put_file")}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    result = fn()
    return time.monotonic() - started, result


# ---------------------------------------------------------------------------------------------- faults that pass


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("scenario", RECOVERING_FAULTS)
def test_a_passing_fault_ends_in_success_within_the_bound(faulty: Faulty, scenario: str, operation: str) -> None:
    fault, times, outcome = RECOVERING_FAULTS[scenario]
    arrange(faulty, operation)
    store = faulty.make_store(RECOVERING)
    faulty.proxy.inject(fault, times=times, match=MATCHES[operation])
    elapsed, result = timed(lambda: perform(store, operation))
    check(faulty, operation, result)
    # the fault did hit (a PUT answer cut inside its headers still carries "200 OK": one cut may be enough)
    assert 1 <= faulty.proxy.outcomes().count(outcome) <= times
    assert elapsed <= RECOVERING.call_bound(SIZES[operation]) + SLACK
    if fault.kind == "trickle":  # the trickled attempt was cut at its deadline, not read to the end
        assert elapsed >= RECOVERING.request_deadline


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_outage_of_a_second_is_ridden_out(faulty: Faulty, operation: str) -> None:
    arrange(faulty, operation)
    store = faulty.make_store(RECOVERING)
    assert RECOVERING.outage_survived() > 1.0
    faulty.proxy.outage(1.0)
    elapsed, result = timed(lambda: perform(store, operation))
    check(faulty, operation, result)
    assert 1.0 <= elapsed <= RECOVERING.call_bound(SIZES[operation]) + SLACK


def test_a_download_cut_twice_resumes_from_where_it_broke(faulty: Faulty) -> None:
    arrange(faulty, "get")
    store = faulty.make_store(RECOVERING)
    faulty.proxy.inject(Fault.truncate(0.5), times=2, match=object_reads)
    assert store.read_bytes("big.bin") == OBJECT
    gets = [entry for entry in faulty.proxy.log if entry.method == "GET"]
    assert [entry.outcome for entry in gets] == ["truncate", "truncate", "forwarded"]
    # the resumed requests asked only for the rest, pinned to the first answer's version (If-Match)
    # the resumed requests ask only for the rest: from at most the byte where the cut answer stopped (an SDK
    # may drop a partial read buffer), never from the start
    first, second, third = (entry.header("Range") for entry in gets)
    assert first is None and second and third
    resumed = [int(spec.removeprefix("bytes=").removesuffix("-")) for spec in (second, third)]
    assert 0 < resumed[0] <= len(OBJECT) // 2
    assert resumed[0] < resumed[1] <= resumed[0] + (len(OBJECT) - resumed[0]) // 2
    assert gets[0].header("If-Match") is None
    assert gets[1].header("If-Match") and gets[1].header("If-Match") == gets[2].header("If-Match")


def test_a_put_whose_answer_was_lost_is_sent_again_and_lands_once(faulty: Faulty) -> None:
    store = faulty.make_store(RECOVERING)
    faulty.proxy.inject(Fault.lose_answer(), times=1, match=method_is("PUT"))
    store.write_bytes("put.bin", PUT_OBJECT)
    puts = [entry.outcome for entry in faulty.proxy.log if entry.method == "PUT"]
    assert puts == ["lose_answer", "forwarded"]
    assert [info.key for info in faulty.direct.list()] == ["put.bin"]
    assert faulty.direct.read_bytes("put.bin") == PUT_OBJECT


# ---------------------------------------------------------------------------------------------- faults that stay


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("scenario", LASTING_FAULTS)
def test_a_lasting_fault_ends_in_a_clear_storage_error_within_the_bound(
    faulty: Faulty, scenario: str, operation: str
) -> None:
    fault, words = LASTING_FAULTS[scenario]
    arrange(faulty, operation)
    store = faulty.make_store(LASTING)
    faulty.proxy.inject(fault, times=None, match=MATCHES[operation])
    if (scenario, operation) in SUCCEEDS_ANYWAY:
        elapsed, result = timed(lambda: perform(store, operation))
        check(faulty, operation, result)
        assert elapsed <= LASTING.call_bound(SIZES[operation]) + SLACK
        return
    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        perform(store, operation)
    elapsed = time.monotonic() - started
    assert elapsed <= LASTING.call_bound(SIZES[operation]) + SLACK
    message = str(raised.value)
    assert message.startswith(f"{'S3' if faulty.name == 's3' else 'OSS'} ")
    assert words in message
    assert any(key in message for key in ("big.bin", "list/", "put.bin"))  # names the object


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_outage_longer_than_the_call_deadline_fails_clearly_then_the_store_works_again(
    faulty: Faulty, operation: str
) -> None:
    arrange(faulty, operation)
    store = faulty.make_store(LASTING)
    faulty.proxy.outage(1.2)
    started = time.monotonic()
    with pytest.raises(StorageError, match=r"failed after \d+ attempts in [\d.]+ s"):
        perform(store, operation)
    assert time.monotonic() - started <= LASTING.call_bound(SIZES[operation]) + SLACK
    time.sleep(max(0.0, 1.3 - (time.monotonic() - started)))
    check(faulty, operation, perform(store, operation))
