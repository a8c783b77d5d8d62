"""Rate limiting in memory: sign-in failures (:class:`LoginLimiter`) and a general token bucket
(:class:`RateLimiter`, e.g. per key on the ingest routes).

Both take a ``clock`` (seconds, monotonic; :func:`time.monotonic` by default) so tests can
drive time, are thread-safe, and keep a bounded number of entries (the oldest are forgotten
first), so a flood of made-up usernames or addresses cannot exhaust memory. A refusal carries
the seconds to wait, for a ``429 Too Many Requests`` with ``Retry-After``.

Sign-in flow for the service::

    limiter.check(username, address)          # RateLimitedError -> 429, Retry-After
    caller = verify_password(store, username, password)
    if caller is None:
        limiter.failure(username, address)    # -> 401
    else:
        limiter.success(username, address)

(:func:`login` does exactly this.)
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from seasight.access.accounts import verify_password
from seasight.access.caller import Caller
from seasight.access.keys import AuthError
from seasight.store import Store

#: Entries each limiter keeps at most.
MAX_ENTRIES: Final = 100_000


class RateLimitedError(Exception):
    """Refused for now: retry after ``retry_after`` seconds (answer 429)."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__(message or f"too many requests; retry after {retry_after:.0f} s")
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per username and ``max_failures_per_address``
    per client address within ``window_s`` seconds; then sign-in is refused (even with the
    right password) until the oldest failure leaves the window. A success clears the
    username's failures (not the address's)."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, *,
                 max_failures_per_address: int = 20,
                 clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        if max_failures < 1 or max_failures_per_address < 1:
            raise ValueError("failure limits must be at least 1")
        if not window_s > 0:
            raise ValueError("window_s must be positive")
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window_s = window_s
        self.clock = clock
        self.max_entries = max_entries
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        times = self._recent(key, now)
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window_s - now

    def retry_after(self, username: str, address: str | None = None) -> float:
        """Seconds until a sign-in of ``username`` from ``address`` is allowed (0: now)."""
        now = self.clock()
        with self._lock:
            wait = self._wait(("user", username), self.max_failures, now)
            if address:
                wait = max(wait, self._wait(("addr", address),
                                            self.max_failures_per_address, now))
        return wait

    def check(self, username: str, address: str | None = None) -> None:
        """Nothing if a sign-in may be tried now, else :class:`RateLimitedError`."""
        wait = self.retry_after(username, address)
        if wait > 0:
            raise RateLimitedError(wait, "too many failed sign-ins; retry after "
                                         f"{math.ceil(wait)} s")

    def failure(self, username: str, address: str | None = None) -> None:
        """Count a failed sign-in."""
        now = self.clock()
        with self._lock:
            keys = [("user", username)] + ([("addr", address)] if address else [])
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_entries:
                self._failures.popitem(last=False)

    def success(self, username: str, address: str | None = None) -> None:
        """Forget ``username``'s failures after a successful sign-in."""
        del address
        with self._lock:
            self._failures.pop(("user", username), None)


class RateLimiter:
    """Token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up.

    ``allow(key)`` takes a token (or ``cost`` tokens) and returns 0.0, or returns the seconds
    until enough tokens are there and takes none.
    """

    def __init__(self, rate: float, burst: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be a positive number of tokens per second")
        if not (burst >= 1 and math.isfinite(burst)):
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_entries = max_entries
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, time
        self._lock = threading.Lock()

    def allow(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens of ``key``'s bucket: 0.0 if done, else seconds to wait."""
        if cost < 0 or not math.isfinite(cost):
            raise ValueError("cost must be a finite non-negative number")
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the burst {self.burst}: never allowed")
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / self.rate
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_entries:
                self._buckets.popitem(last=False)
        return wait

    def check(self, key: str, cost: float = 1.0) -> None:
        """Take the tokens, or raise :class:`RateLimitedError`."""
        wait = self.allow(key, cost)
        if wait > 0:
            raise RateLimitedError(wait)


def login(store: Store, limiter: LoginLimiter, username: str, password: str,
          address: str | None = None) -> Caller:
    """Sign in: the user's :class:`Caller`; :class:`RateLimitedError` after too many failures;
    :class:`~seasight.access.keys.AuthError` (reason ``unknown``) for a wrong username or
    password (which of the two is not told)."""
    limiter.check(username, address)
    caller = verify_password(store, username, password)
    if caller is None:
        limiter.failure(username, address)
        raise AuthError("unknown", "wrong username or password")
    limiter.success(username, address)
    return caller


__all__ = ["MAX_ENTRIES", "LoginLimiter", "RateLimitedError", "RateLimiter", "login"]
