"""How the bot's dependencies (Airtable, GitHub) have been answering, for /readyz and /metrics.

The two chokepoints that every request goes through, ``AirtableLane.call`` and the GitHub
client's ``_request``, report each outcome here: :meth:`Health.success` or
:meth:`Health.failure`. A dependency is *failing* from the first failure after a success
(``failing_since``) until its next success; the last error is kept after it recovers.
Readiness does not depend on it: a bot whose journal accepts deliveries keeps taking them
(refusing would lose them, as GitHub does not redeliver), and says what is failing instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEPENDENCIES = ("airtable", "github")


@dataclass
class DependencyHealth:
    """What is known of one dependency's recent answers."""

    name: str
    failing_since: float | None = None  # epoch seconds of the first failure of this run
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None  # an HTTP status, or "network"
    last_error_at: float | None = None
    last_success_at: float | None = None

    @property
    def failing(self) -> bool:
        """Whether the latest call failed."""
        return self.failing_since is not None

    def as_json(self) -> dict[str, Any]:
        """The state as a JSON object (times as ISO 8601 in UTC, and epoch seconds)."""
        return {
            "status": "failing" if self.failing else "ok",
            "failing_since": _iso(self.failing_since),
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "last_success_at": _iso(self.last_success_at),
        }


class Health:
    """The health of each dependency of one bot process."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.dependencies = {name: DependencyHealth(name) for name in DEPENDENCIES}

    def success(self, dependency: str) -> None:
        """A call to ``dependency`` was answered (ends a run of failures)."""
        state = self.dependencies[dependency]
        state.failing_since = None
        state.consecutive_failures = 0
        state.last_success_at = self._clock()

    def failure(self, dependency: str, error: str, *, kind: str) -> None:
        """A call to ``dependency`` failed with ``error`` (``kind``: status or "network")."""
        state = self.dependencies[dependency]
        now = self._clock()
        if state.failing_since is None:
            state.failing_since = now
        state.consecutive_failures += 1
        state.last_error = error[:500]
        state.last_error_kind = kind
        state.last_error_at = now

    def failing(self) -> list[str]:
        """The dependencies whose latest call failed."""
        return [name for name, state in self.dependencies.items() if state.failing]


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
