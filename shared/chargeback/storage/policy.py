"""How long a storage call may take and how it is retried: one policy, stated once, used by the S3 and OSS adapters.

Every call (a listing page, a GET with its body, a PUT, a HEAD, a DELETE) obeys four limits:

- ``connect_timeout``: opening a connection (TCP and TLS) takes at most this long;
- ``read_timeout``: the longest silence while waiting for bytes of an answer;
- ``request_deadline``: one attempt, answer included, ends by then, however the bytes trickle in (a watchdog
  shuts its connection down); a download gets one more second per ``download_rate`` bytes of the object;
- ``call_deadline``: the call with every retry and wait ends by then (a download: plus its size at
  ``download_rate``); a retry whose wait would pass it is not started.

Transient failures (no connection, a dropped or cut-off answer, HTTP 5xx, throttling, an attempt past its
deadline) are retried up to ``attempts`` times, waiting ``base_delay`` and then twice as long each time, at most
``max_delay``. The defaults wait 0.5 + 1 + 2 + 4 + 8 + 16 + 20 + 20 + 20 = 91.5 s over ten attempts, so an
outage of a minute is survived, and no call runs past 300 s (a download: 300 s plus 1 s per MiB).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chargeback.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class StoragePolicy:
    """The time limits and the retry schedule of every storage call. All durations are seconds."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    request_deadline: float = 60.0
    call_deadline: float = 300.0
    download_rate: float = MIB  # bytes per second a download is allowed on top of the deadlines
    attempts: int = 10
    base_delay: float = 0.5
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        durations = {"connect_timeout": self.connect_timeout, "read_timeout": self.read_timeout,
                     "request_deadline": self.request_deadline, "call_deadline": self.call_deadline,
                     "download_rate": self.download_rate}
        bad = [f"{name} must be positive, not {value!r}" for name, value in durations.items() if not value > 0]
        if self.attempts < 1:
            bad.append(f"attempts must be at least 1, not {self.attempts!r}")
        if self.base_delay < 0 or self.max_delay < 0:
            bad.append("base_delay and max_delay must not be negative")
        if bad:
            raise ConfigError("storage policy: " + "; ".join(bad))

    @classmethod
    def within(cls, call_deadline: float) -> StoragePolicy:
        """The default policy scaled to end every call within ``call_deadline`` seconds: an attempt gets a
        fifth of it (as 60 s is of 300 s), so a slow attempt leaves time to retry; the timeouts fit inside."""
        default = cls()
        request_deadline = min(default.request_deadline,
                               call_deadline * default.request_deadline / default.call_deadline)
        return replace(default, call_deadline=call_deadline, request_deadline=request_deadline,
                       read_timeout=min(default.read_timeout, request_deadline),
                       connect_timeout=min(default.connect_timeout, request_deadline))

    def delays(self) -> list[float]:
        """The waits between the attempts: base_delay, doubling each time, capped at max_delay."""
        return [min(self.base_delay * 2**index, self.max_delay) for index in range(self.attempts - 1)]

    def outage_survived(self) -> float:
        """The longest outage a call rides out when each failed attempt fails at once: the sum of the waits."""
        return sum(self.delays())

    def download_allowance(self, size: int) -> float:
        """The extra seconds a download of ``size`` bytes gets on top of the request and call deadlines."""
        return max(size, 0) / self.download_rate

    def call_bound(self, size: int = 0) -> float:
        """The most one call may take, retries included; ``size`` is the object's size for a download."""
        return self.call_deadline + self.download_allowance(size)
