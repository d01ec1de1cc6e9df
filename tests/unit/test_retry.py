"""retry(): transient failures are retried with doubling waits, others pass through, and it gives up."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chargeback.errors import StorageError
from chargeback.storage.retry import backoff_delays, retry


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def is_transient(exc: Exception) -> bool:
    return isinstance(exc, Transient)


def failing(times: int, error: Exception, result: str = "done") -> tuple[Callable[[], str], list[int]]:
    """A call that raises ``error`` ``times`` times, then returns ``result``; and its call log."""
    calls: list[int] = []

    def call() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise error
        return result

    return call, calls


def test_transient_failures_are_retried_until_success() -> None:
    sleeps: list[float] = []
    call, calls = failing(2, Transient("connection reset"))
    assert retry(call, 5, 0.1, is_transient, sleep=sleeps.append) == "done"
    assert calls == [1, 2, 3]
    assert sleeps == [0.1, 0.2]


def test_success_at_first_try_does_not_wait() -> None:
    sleeps: list[float] = []
    call, calls = failing(0, Transient("unused"))
    assert retry(call, 3, 1.0, is_transient, sleep=sleeps.append) == "done"
    assert (calls, sleeps) == ([1], [])


def test_permanent_error_is_raised_at_once_unchanged() -> None:
    sleeps: list[float] = []
    error = Permanent("access denied")
    call, calls = failing(1, error)
    with pytest.raises(Permanent) as raised:
        retry(call, 5, 0.1, is_transient, sleep=sleeps.append)
    assert raised.value is error
    assert (calls, sleeps) == ([1], [])


def test_gives_up_after_the_last_attempt_with_storage_error() -> None:
    sleeps: list[float] = []
    last_error = Transient("timed out")
    call, calls = failing(10, last_error)
    with pytest.raises(
        StorageError, match=r"^OSS get of oss://b/k failed after 4 attempts: Transient: timed out$"
    ) as raised:
        retry(call, 4, 0.5, is_transient, what="OSS get of oss://b/k", sleep=sleeps.append)
    assert raised.value.__cause__ is last_error
    assert calls == [1, 2, 3, 4]
    assert sleeps == [0.5, 1.0, 2.0]


def test_waits_are_capped_by_max_delay() -> None:
    sleeps: list[float] = []
    call, _ = failing(10, Transient("busy"))
    with pytest.raises(StorageError):
        retry(call, 6, 1.0, is_transient, max_delay=5.0, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_delays(3, 0.25, 10.0) == [0.25, 0.5]
    assert backoff_delays(1, 0.25, 10.0) == []


def test_describe_chooses_the_words_of_the_final_error() -> None:
    call, _ = failing(10, Transient("token=SECRET"))
    with pytest.raises(StorageError) as raised:
        retry(
            call,
            2,
            0.0,
            is_transient,
            describe=lambda exc: "Transient (details hidden)",
            sleep=lambda _: None,
        )
    assert "SECRET" not in str(raised.value)
    assert str(raised.value).endswith("failed after 2 attempts: Transient (details hidden)")


def test_attempts_below_one_is_a_programming_error() -> None:
    call, calls = failing(0, Transient("unused"))
    with pytest.raises(ValueError, match="at least 1"):
        retry(call, 0, 0.1, is_transient)
    assert calls == []
