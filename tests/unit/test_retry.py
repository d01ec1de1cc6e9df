"""StorageCall: transient failures are retried with doubling waits within the call's attempts and deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from chargeback.errors import ConfigError, StorageError
from chargeback.storage.deadline import Attempt
from chargeback.storage.policy import StoragePolicy
from chargeback.storage.retry import SdkError, StorageCall


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


class FakeTime:
    """A clock that only sleeping moves: a minute of outage costs no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def is_transient(exc: Exception) -> bool:
    return isinstance(exc, Transient)


def storage_call(policy: StoragePolicy, fake: FakeTime, what: str = "OSS get of oss://b/k") -> StorageCall:
    return StorageCall(what, policy, is_transient, sleep=fake.sleep, clock=fake.clock)


def failing(times: int, error: Exception, result: str = "done") -> tuple[Callable[[Attempt], str], list[int]]:
    """A call that raises ``error`` ``times`` times, then returns ``result``; and its call log."""
    calls: list[int] = []

    def call(attempt: Attempt) -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise error
        return result

    return call, calls


def test_transient_failures_are_retried_until_success() -> None:
    fake = FakeTime()
    call, calls = failing(2, Transient("connection reset"))
    assert storage_call(StoragePolicy(attempts=5, base_delay=0.1), fake).run(call) == "done"
    assert calls == [1, 2, 3]
    assert fake.sleeps == [0.1, 0.2]


def test_success_at_first_try_does_not_wait() -> None:
    fake = FakeTime()
    call, calls = failing(0, Transient("unused"))
    assert storage_call(StoragePolicy(), fake).run(call) == "done"
    assert (calls, fake.sleeps) == ([1], [])


def test_permanent_error_is_raised_at_once_unchanged() -> None:
    fake = FakeTime()
    error = Permanent("access denied")
    call, calls = failing(1, error)
    with pytest.raises(Permanent) as raised:
        storage_call(StoragePolicy(), fake).run(call)
    assert raised.value is error
    assert (calls, fake.sleeps) == ([1], [])


def test_gives_up_after_the_last_attempt_with_storage_error() -> None:
    fake = FakeTime()
    last_error = Transient("timed out")
    call, calls = failing(10, last_error)
    with pytest.raises(
        StorageError, match=r"^OSS get of oss://b/k failed after 4 attempts in 3.5 s: Transient: timed out$"
    ) as raised:
        storage_call(StoragePolicy(attempts=4, base_delay=0.5), fake).run(call)
    # the cause stands in for the last error: its type and (redacted) words, its traceback
    cause = raised.value.__cause__
    assert isinstance(cause, SdkError) and cause.__traceback__ is last_error.__traceback__
    assert str(cause) == "tests.unit.test_retry.Transient: timed out"
    assert calls == [1, 2, 3, 4]
    assert fake.sleeps == [0.5, 1.0, 2.0]


def test_waits_are_capped_by_max_delay() -> None:
    policy = StoragePolicy(attempts=6, base_delay=1.0, max_delay=5.0)
    assert policy.delays() == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert StoragePolicy(attempts=3, base_delay=0.25).delays() == [0.25, 0.5]
    assert StoragePolicy(attempts=1).delays() == []


def test_no_wait_starts_that_would_pass_the_call_deadline() -> None:
    fake = FakeTime()
    call, calls = failing(10, Transient("503"))
    policy = StoragePolicy(call_deadline=3.0, request_deadline=1.0, base_delay=1.0, attempts=10)
    with pytest.raises(StorageError, match=r"failed after 2 attempts in 1.0 s \(its time limit is 3 s\)"):
        storage_call(policy, fake).run(call)
    assert (calls, fake.sleeps) == ([1, 2], [1.0])


def test_the_default_policy_survives_a_minute_of_outage_computed_not_slept() -> None:
    policy = StoragePolicy()
    assert policy.outage_survived() == 91.5
    assert policy.call_bound() == 300.0
    assert policy.call_bound(size=50 * 1024 * 1024) == 350.0  # a download: plus 1 s per MiB
    fake = FakeTime()
    outage_ends = 60.0

    def through_the_outage(attempt: Attempt) -> str:
        if fake.now < outage_ends:
            raise Transient("connection refused")
        return "answered"

    started = time.monotonic()
    assert storage_call(policy, fake).run(through_the_outage) == "answered"
    assert fake.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert fake.now == 71.5 < policy.call_deadline
    assert time.monotonic() - started < 1.0  # computed, not slept


def test_the_default_policy_gives_up_on_a_longer_outage_within_its_bound() -> None:
    fake = FakeTime()

    def down(attempt: Attempt) -> str:
        raise Transient("connection refused")

    with pytest.raises(StorageError, match=r"failed after 10 attempts in 91.5 s: Transient: connection refused"):
        storage_call(StoragePolicy(), fake).run(down)
    assert len(fake.sleeps) == 9 and fake.now == 91.5


def test_an_attempt_past_its_deadline_is_reported_as_such_and_retried() -> None:
    calls: list[float] = []

    def slow_then_fast(attempt: Attempt) -> str:
        calls.append(attempt.seconds)
        if len(calls) == 1:
            time.sleep(0.15)  # the watchdog expires the attempt meanwhile; its shut socket would raise:
            assert attempt.expired
            raise OSError("connection shut down")  # not transient by itself, but the attempt expired
        return "done"

    sleeps: list[float] = []
    policy = StoragePolicy(request_deadline=0.05, base_delay=0.01)
    result = StorageCall("S3 get of s3://b/k", policy, is_transient, sleep=sleeps.append).run(slow_then_fast)
    assert result == "done"
    assert calls == [0.05, 0.05] and sleeps == [0.01]


def test_the_deadline_is_named_when_it_is_the_last_failure() -> None:
    def slow(attempt: Attempt) -> str:
        time.sleep(0.08)
        raise OSError("connection shut down")

    policy = StoragePolicy(request_deadline=0.03, attempts=2, base_delay=0.0)
    with pytest.raises(StorageError, match=r"failed after 2 attempts .*: DeadlineExceeded: no complete answer "
                                           r"within 0.03 s"):
        StorageCall("S3 put of s3://b/k", policy, is_transient, sleep=lambda _: None).run(slow)


def test_describe_chooses_the_words_of_the_final_error() -> None:
    call, _ = failing(10, Transient("token=SECRET"))
    with pytest.raises(StorageError) as raised:
        StorageCall("call", StoragePolicy(attempts=2, base_delay=0.0), is_transient,
                    describe=lambda exc: "Transient (details hidden)", sleep=lambda _: None).run(call)
    assert "SECRET" not in str(raised.value)
    assert str(raised.value).endswith("Transient (details hidden)")


def test_within_shrinks_the_limits_to_the_call_deadline() -> None:
    policy = StoragePolicy.within(2.0)
    assert (policy.call_deadline, policy.request_deadline, policy.read_timeout, policy.connect_timeout) == (
        2.0, 0.4, 0.4, 0.4)
    assert StoragePolicy.within(600).request_deadline == 60.0
    assert StoragePolicy.within(300) == StoragePolicy()


def test_a_bad_policy_lists_every_problem() -> None:
    with pytest.raises(ConfigError, match=r"call_deadline must be positive.*attempts must be at least 1"):
        StoragePolicy(call_deadline=0, attempts=0)
