"""Tests of the per-base rate limit (:mod:`bot.airtable_local.ratelimit`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.airtable_local.ratelimit import RateLimiter
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import TYPES_SPEC, airtable_request
from tests.airtable_local.support import (
    BASE,
)


def test_rate_limit_429_then_recovery(local_airtable_factory: Callable[..., LocalAirtable]) -> None:
    at = local_airtable_factory(seed="demo", requests_per_second=3, penalty_seconds=0.3)
    other = "appOtherBase00001"
    at.store.create_base(other, TYPES_SPEC)
    path = f"/v0/{BASE}/Projects"
    statuses = [airtable_request(at, "GET", path).status_code for _ in range(3)]
    limited = airtable_request(at, "GET", path)
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert limited.json() == {
        "errors": [
            {
                "error": "RATE_LIMIT_REACHED",
                "message": "Rate limit exceeded. Please try again later",
            }
        ]
    }
    # The base stays limited for the penalty, however slowly it is called; others are not.
    time.sleep(0.15)
    assert airtable_request(at, "GET", path).status_code == 429
    assert airtable_request(at, "GET", f"/v0/{other}/Things").status_code == 200
    time.sleep(0.3)
    assert airtable_request(at, "GET", path).status_code == 200
    stats = at.stats()
    assert (stats.requests, stats.rate_limited, stats.served) == (6, 2, 4)
    # The limit can be changed while the server runs.
    at.set_rate_limit(None)
    assert all(airtable_request(at, "GET", path).status_code == 200 for _ in range(10))
    at.reset_stats()
    assert at.stats().requests == 0


def test_rate_limiter_window_and_penalty() -> None:
    now = [100.0]
    limiter = RateLimiter(2, penalty_seconds=5, clock=lambda: now[0])
    assert [limiter.admit("a"), limiter.admit("a"), limiter.admit("a")] == [True, True, False]
    now[0] += 4.9
    assert not limiter.admit("a")
    now[0] += 0.2
    assert limiter.admit("a") and limiter.admit("b")
    now[0] += 0.5
    assert limiter.admit("a") and not limiter.admit("a")
    assert limiter.all_stats()["a"].rate_limited == 3
    limiter.configure(0)
    assert all(limiter.admit("a") for _ in range(50))
