"""The lane's rate limiter: never more than N requests in any one-second window."""

import asyncio
import time

from bot.clients.rate_limit import RateLimiter


async def test_no_window_of_one_second_holds_more_than_the_rate() -> None:
    limiter = RateLimiter(20)
    starts: list[float] = []

    async def take() -> None:
        await limiter.acquire()
        starts.append(time.monotonic())

    await asyncio.gather(*(take() for _ in range(45)))
    starts.sort()
    assert len(starts) == 45
    for i in range(len(starts) - 20):
        assert starts[i + 20] - starts[i] >= 1.0


async def test_pause_holds_every_request() -> None:
    limiter = RateLimiter(100)
    limiter.pause(0.3)
    assert limiter.paused_for > 0.2
    began = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - began >= 0.29
    assert limiter.paused_for == 0


async def test_fractional_rates_space_requests() -> None:
    limiter = RateLimiter(2.5)  # two per 0.8 s
    starts = []
    for _ in range(3):
        await limiter.acquire()
        starts.append(time.monotonic())
    assert starts[2] - starts[0] >= 0.8
