"""What the stand-in records and the failures tests inject into it.

Every request is recorded (:attr:`Faults.calls`) and counted against the rate limit: every
answer carries ``x-ratelimit-*`` headers (limit 15000 by default, the budget of an
Enterprise Cloud installation, so benchmarks do not run the counter down to 0). The
stand-in never refuses on its own; ``inject`` answers matching requests with an error,
``inject_rate_limit`` with GitHub's primary rate-limit answer, ``delay`` answers them late.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.standins.github.answers import ApiError
from tests.standins.github.state import Call, State


@dataclass
class Rule:
    """An injected fault or delay: which requests it matches and how many times."""

    pattern: re.Pattern[str]
    method: str | None
    remaining: int | None
    status: int = 503
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    rate_limit_reset_in: float | None = None

    def take(self, method: str, path: str) -> bool:
        """Consume one use of the rule if it matches; caller holds the lock."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if not self.pattern.search(path):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class Faults(State):
    """Recorded calls, injected faults and delays, and the rate-limit counter."""

    def _init_faults(self, rate_limit: int) -> None:
        self.rate_limit = rate_limit
        self._calls: list[Call] = []
        self._faults: list[Rule] = []
        self._delays: list[Rule] = []
        self._rate_used = 0
        self._rate_reset = int(time.time()) + 3600

    @property
    def calls(self) -> list[Call]:
        """Every request received so far (a copy), oldest first."""
        with self.lock:
            return list(self._calls)

    def calls_matching(self, method: str | None, path_regex: str) -> list[Call]:
        """The recorded calls with this method (``None`` for any) whose path matches."""
        pattern = re.compile(path_regex)
        return [
            call
            for call in self.calls
            if (method is None or call.method == method.upper()) and pattern.search(call.path)
        ]

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self.lock:
            self._calls.clear()

    def inject(
        self,
        path_regex: str,
        status: int = 503,
        times: int | None = 1,
        *,
        method: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path matches with ``status`` (``None``: always).

        The default body is GitHub's ``{"message": ..., "documentation_url": ...}``.
        """
        with self.lock:
            self._faults.append(
                Rule(
                    re.compile(path_regex),
                    method,
                    times,
                    status=status,
                    body=body,
                    headers=dict(headers or {}),
                )
            )

    def inject_rate_limit(
        self,
        times: int | None = 1,
        *,
        path_regex: str = r"^/(repos|repositories)/",
        reset_in: float = 2.0,
    ) -> None:
        """Refuse the next ``times`` matching requests as rate limited.

        GitHub's primary rate limit answer: 403 with ``x-ratelimit-remaining: 0`` and a
        ``x-ratelimit-reset`` ``reset_in`` seconds ahead (gidgethub raises
        ``RateLimitExceeded``). By default only the installation-token routes are refused,
        so minting a token still works.
        """
        with self.lock:
            self._faults.append(
                Rule(
                    re.compile(path_regex),
                    None,
                    times,
                    status=403,
                    rate_limit_reset_in=reset_in,
                )
            )

    def delay(
        self,
        path_regex: str,
        seconds: float,
        times: int | None = 1,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests only after ``seconds``."""
        with self.lock:
            self._delays.append(Rule(re.compile(path_regex), method, times, seconds=seconds))

    def clear_faults(self) -> None:
        """Drop every injected fault and delay still pending."""
        with self.lock:
            self._faults.clear()
            self._delays.clear()

    # ---- for the middleware -----------------------------------------------------------

    def record_call(self, call: Call) -> Rule | None:
        """Record a request and count it; the delay rule it is to wait for, if any."""
        with self.lock:
            self._calls.append(call)
            self._rate_used += 1
            return next((rule for rule in self._delays if rule.take(call.method, call.path)), None)

    def take_fault(self, method: str, path: str) -> ApiError | None:
        """The error an injected fault answers this request with, if one matches."""
        with self.lock:
            rule = next((rule for rule in self._faults if rule.take(method, path)), None)
        if rule is None:
            return None
        if rule.rate_limit_reset_in is not None:
            reset = math.ceil(time.time() + rule.rate_limit_reset_in)
            return ApiError(
                403,
                f"API rate limit exceeded for installation ID {self.installation_id}. "
                "If you reach out to GitHub Support for help, please include the request "
                "ID.",
                headers=self._rate_limit_headers(self.rate_limit, reset),  # none remaining
            )
        return ApiError(rule.status, headers=rule.headers, body=rule.body)

    def rate_headers(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers of an answer (the window resets every hour)."""
        with self.lock:
            now = time.time()
            if now >= self._rate_reset:
                self._rate_reset = int(now) + 3600
                self._rate_used = 0
            used = self._rate_used
            reset = self._rate_reset
        return self._rate_limit_headers(used, reset)

    def _rate_limit_headers(self, used: int, reset: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - used)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
        }
