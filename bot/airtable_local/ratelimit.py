"""Airtable's rate limit per base, and counts of the requests each base received.

Airtable allows 5 requests per second per base; past that it answers 429 and keeps
answering 429 for 30 seconds (https://airtable.com/developers/web/api/rate-limits).
:class:`RateLimiter` reproduces this with a rolling one-second window per base: the
request that would exceed the limit is answered 429 and starts a penalty during which every
request to that base is answered 429 (the penalty is not extended by those requests).
``requests_per_second`` of None or 0 turns the limit off; the counts are kept either way.

The limiter is thread-safe, so tests can change the limit while the server runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class BaseStats:
    """What one base received: all requests (after authentication), and those answered 429."""

    requests: int = 0
    rate_limited: int = 0

    @property
    def served(self) -> int:
        """Requests that were not answered 429."""
        return self.requests - self.rate_limited


class RateLimiter:
    """A per-base rolling-window limit with a penalty after the first 429."""

    def __init__(
        self,
        requests_per_second: float | None = 5,
        penalty_seconds: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Limit each base to ``requests_per_second`` (None or 0: no limit)."""
        self._lock = threading.Lock()
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._penalty_until: dict[str, float] = {}
        self._stats: dict[str, BaseStats] = {}
        self.requests_per_second = requests_per_second or None
        self.penalty_seconds = penalty_seconds

    def configure(
        self, requests_per_second: float | None, penalty_seconds: float | None = None
    ) -> None:
        """Change the limit (None or 0: off) and, if given, the penalty; lifts any penalty."""
        with self._lock:
            self.requests_per_second = requests_per_second or None
            if penalty_seconds is not None:
                self.penalty_seconds = penalty_seconds
            self._windows.clear()
            self._penalty_until.clear()

    def admit(self, base_id: str) -> bool:
        """Count a request to ``base_id``; False if it must be answered 429."""
        with self._lock:
            stats = self._stats.setdefault(base_id, BaseStats())
            stats.requests += 1
            limit = self.requests_per_second
            if limit is None:
                return True
            now = self._clock()
            if self._penalty_until.get(base_id, 0.0) > now:
                stats.rate_limited += 1
                return False
            window = self._windows.setdefault(base_id, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                self._penalty_until[base_id] = now + self.penalty_seconds
                window.clear()
                stats.rate_limited += 1
                return False
            window.append(now)
            return True

    def stats(self, base_id: str) -> BaseStats:
        """A copy of the counts for one base (zeros if it received nothing)."""
        with self._lock:
            stats = self._stats.get(base_id, BaseStats())
            return BaseStats(stats.requests, stats.rate_limited)

    def all_stats(self) -> dict[str, BaseStats]:
        """A copy of the counts of every base that received a request."""
        with self._lock:
            return {k: BaseStats(v.requests, v.rate_limited) for k, v in self._stats.items()}

    def reset_stats(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self._stats.clear()
