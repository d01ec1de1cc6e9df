"""Retrying a storage call on transient failures, with deterministic exponential backoff.

Adapters whose SDK has no retry policy of its own (oss2) wrap each call in ``retry``. The delay
doubles after each failed attempt and has no jitter, and ``sleep`` is injectable, so tests run it
without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from chargeback.errors import StorageError

T = TypeVar("T")

logger = logging.getLogger(__name__)


def backoff_delays(attempts: int, base_delay: float, max_delay: float) -> list[float]:
    """The waits between ``attempts`` tries: base_delay, then doubling each time, capped at max_delay."""
    return [min(base_delay * 2**index, max_delay) for index in range(max(attempts - 1, 0))]


def retry(
    fn: Callable[[], T],
    attempts: int,
    base_delay: float,
    is_transient: Callable[[Exception], bool],
    *,
    max_delay: float = 20.0,
    what: str = "storage call",
    describe: Callable[[Exception], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it returns, at most ``attempts`` times.

    An exception that ``is_transient`` rejects propagates at once, unchanged. When every attempt
    fails transiently, StorageError names ``what`` and the number of attempts, chained to the last
    error. ``describe`` turns an error into the words logged and raised (default: its type and text);
    adapters pass one that leaves secrets out.
    """
    describe = describe or _type_and_text
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    delays = backoff_delays(attempts, base_delay, max_delay)
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:  # filtered by is_transient: anything else propagates unchanged
            if not is_transient(exc):
                raise
            if attempt == attempts:
                raise StorageError(f"{what} failed after {attempts} attempts: {describe(exc)}") from exc
            delay = delays[attempt - 1]
            logger.warning(
                "%s failed (attempt %d of %d), retrying in %.2f s: %s",
                what,
                attempt,
                attempts,
                delay,
                describe(exc),
            )
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _type_and_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
