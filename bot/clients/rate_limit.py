"""The Airtable lane's rate limiter: at most N requests in any one-second window, and a pause.

Airtable allows five requests per second per base and asks for 30 s of quiet after a 429
(https://airtable.com/developers/web/api/rate-limits). :class:`RateLimiter` grants slots in
the order they were asked for, never more than ``rate`` in one window, and holds every
request while a pause set by :meth:`RateLimiter.pause` lasts.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

# How long past the one-second window the limiter waits: requests leave here spaced by
# the window, but reach Airtable with some jitter.
WINDOW_MARGIN_SECONDS = 0.05


class RateLimiter:
    """At most ``rate`` acquisitions in any window of one second, and a pause on demand."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = max(1, int(rate))
        self._window = self._capacity / rate if rate else 0.0
        self._starts: collections.deque[float] = collections.deque(maxlen=self._capacity)
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._clock = clock

    def pause(self, seconds: float) -> None:
        """Take no request for ``seconds`` from now (after a 429)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self) -> None:
        """Wait for a slot; slots are granted in the order they were asked for."""
        async with self._lock:
            while True:
                now = self._clock()
                wait = self._paused_until - now
                if len(self._starts) == self._capacity:
                    wait = max(wait, self._starts[0] + self._window + WINDOW_MARGIN_SECONDS - now)
                if wait <= 0:
                    self._starts.append(now)
                    return
                await asyncio.sleep(wait)
