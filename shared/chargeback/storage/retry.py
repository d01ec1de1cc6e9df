"""One storage call with retries: attempts with deadlines, exponential backoff, and one overall deadline.

``StorageCall`` runs the attempts of one call under a ``StoragePolicy``: each attempt is an ``Attempt`` whose
sockets are shut down at its deadline; a failure that ``is_transient`` accepts (or an attempt past its deadline)
is retried after the policy's next wait, unless the attempts are used up or the wait would pass the call's
deadline; then StorageError names the call, the attempts, the time taken and the last error. Any other error
comes out as the adapter's ``translate`` makes it (NotFoundError, StorageError), or unchanged. The waits are
deterministic (no jitter) and ``sleep`` and ``clock`` are injectable, so tests run a minute-long outage without
waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NoReturn, TypeVar

from chargeback.errors import StorageError
from chargeback.storage.deadline import Attempt, DeadlineExceeded
from chargeback.storage.policy import StoragePolicy

T = TypeVar("T")

Sleep = Callable[[float], None]
Clock = Callable[[], float]

logger = logging.getLogger(__name__)


class SdkError(Exception):
    """Stands in for an SDK exception as the cause of a StorageError: its type and redacted words, its traceback.

    SDK exceptions repeat the error body, which may echo the request's credentials, and a logged traceback
    prints every cause; this one prints only what ``describe`` lets through.
    """


def redacted_cause(exc: Exception, describe: Callable[[Exception], str]) -> SdkError:
    words = describe(exc).removeprefix(f"{type(exc).__name__}: ")
    cause = SdkError(f"{type(exc).__module__}.{type(exc).__name__}: {words}")
    return cause.with_traceback(exc.__traceback__)


class StorageCall:
    """The attempts, waits and deadline of one storage call (a download keeps using it for its resumes)."""

    def __init__(
        self,
        what: str,
        policy: StoragePolicy,
        is_transient: Callable[[Exception], bool],
        *,
        describe: Callable[[Exception], str] | None = None,
        translate: Callable[[Exception], Exception] | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.what = what
        self.translate = translate or (lambda exc: exc)
        self.policy = policy
        self.is_transient = is_transient
        self.describe = describe or type_and_text
        self._sleep = sleep
        self._clock = clock
        self._delays = policy.delays()
        self.started = clock()
        self.ends = self.started + policy.call_deadline
        self.failures = 0
        self.allowance = 0.0  # extra seconds for a download, once its size is known

    def allow(self, seconds: float) -> None:
        """Give the call (and its later attempts) ``seconds`` more: a download of a known size."""
        extra = max(seconds - self.allowance, 0.0)
        self.allowance += extra
        self.ends += extra

    def new_attempt(self, extra: float = 0.0) -> Attempt:
        """An attempt whose deadline is the request deadline plus ``extra``, cut at the call's deadline."""
        remaining = self.ends - self._clock()
        wanted = self.policy.request_deadline + extra
        return Attempt(max(min(wanted, remaining), 0.001), cut_short=remaining < wanted)

    def run(self, fn: Callable[[Attempt], T], *, keep_open: bool = False) -> T:
        """``fn(attempt)`` until it returns; the attempt is closed after it unless ``keep_open`` (a download)."""
        while True:
            attempt = self.new_attempt(self.allowance)
            try:
                with attempt.tracking():
                    result = fn(attempt)
            except Exception as exc:  # filtered just below: what is not transient propagates, translated
                attempt.close()
                if not attempt.expired and not self.is_transient(exc):
                    self.raise_translated(exc)
                self.failed(exc, attempt)
                continue
            if not keep_open:
                attempt.close()
            return result

    def raise_translated(self, exc: Exception) -> NoReturn:
        """Raise what ``translate`` makes of ``exc`` (its cause a redacted stand-in), or ``exc`` unchanged."""
        translated = self.translate(exc)
        if translated is exc:
            raise exc
        raise translated from redacted_cause(exc, self.describe)

    def failed(self, exc: Exception, attempt: Attempt | None = None) -> None:
        """Count a transient failure, then wait for the next attempt, or raise StorageError when it is the last."""
        reason: Exception = exc
        if attempt is not None and attempt.expired:
            reason = DeadlineExceeded(attempt.seconds,
                                      call_deadline=self.ends - self.started if attempt.cut_short else None)
        self.failures += 1
        words = self.describe(reason)
        elapsed = self._clock() - self.started
        if self.failures >= self.policy.attempts:
            raise StorageError(
                f"{self.what} failed after {self.failures} attempts in {elapsed:.1f} s: {words}"
            ) from redacted_cause(exc, self.describe)
        delay = self._delays[self.failures - 1]
        if self._clock() + delay >= self.ends:
            raise StorageError(
                f"{self.what} failed after {self.failures} attempts in {elapsed:.1f} s (its time limit is "
                f"{self.ends - self.started:.3g} s): {words}"
            ) from redacted_cause(exc, self.describe)
        logger.warning(
            "%s failed (attempt %d of %d), retrying in %.2f s: %s",
            self.what, self.failures, self.policy.attempts, delay, words,
        )
        self._sleep(delay)


def type_and_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
