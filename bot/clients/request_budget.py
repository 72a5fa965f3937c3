"""One request budget per Airtable base, shared by every process of the bot on a data folder.

Airtable allows five requests per second per base and answers 429 for 30 s to a base that
sent more (https://airtable.com/developers/web/api/rate-limits). ``serve``, ``sync``,
``audit``, ``report``, ``check`` and any number of further ``serve`` processes on one data
folder all talk to the same bases, so they draw on one budget per base: a row of a small
SQLite table in the data folder (:class:`SharedBudget`), or an object in memory when there is
no data folder to share (:class:`LocalBudget`). The rule itself lives in
:mod:`bot.core.pacing`.

The scheme:

- Strict spacing. :meth:`RequestBudget.reserve` books the next slot, at least one interval
  (``1 / requests_per_second``) after the slot before it, whoever booked that, and returns
  its wall-clock time; the caller sleeps until then and sends. Requests never go in bursts,
  which makes the pacing tolerant of jitter: at a rate ``r`` Airtable's one-second window can
  only see a sixth request if the five intervals between six requests are squeezed below one
  second on the way, by a delay of more than ``5 / r - 1`` s (0.11 s at the default 4.5/s; at
  5/s there is no margin, so keep the rate below Airtable's). A limiter that lets N requests
  go at the start of each window has no such margin: any delay can put two bursts in one of
  Airtable's windows.
- A pause for everyone. :meth:`RequestBudget.pause` (after a 429) moves the budget's
  ``paused_until``; every process books its next slot after it, and a slot booked before the
  pause that falls inside it should be given up and booked again (compare it with
  :meth:`RequestBudget.paused_until` just before sending).
- Fairness. Each call of :meth:`RequestBudget.reserve` books one slot, and bookings take
  turns on the file's write lock (SQLite's busy wait is not strictly first come, first
  served, but a booking holds the lock for microseconds), so processes asking at the same
  time interleave: an interactive ``check`` waits for the slots already booked, not for the
  service's whole backlog. A process holds as many future slots as it has callers that
  booked and wait for their slot, so the caller must keep that number small (the lane: a
  few requests in flight at once); with P processes holding at most k each, a newcomer's
  first slot is at most P·k intervals away.
- Short transactions that survive restarts. One ``BEGIN IMMEDIATE`` … ``COMMIT`` per booking
  (microseconds; other processes wait on a busy timeout), in WAL mode so readers never wait.
  A process killed at any point leaves the last committed state, so a pause outlives a crash
  and a restart loop cannot hammer a base that answered 429.
- Wall clock. Slots are ``time.time()`` instants, because they are compared across processes
  and across restarts (a monotonic clock starts again at boot). A clock set forward only
  makes the stored instants look past; a clock set back, or a corrupt row, would leave them
  far in the future, so an instant more than ``max_ahead`` after now is forgotten instead of
  obeyed (:func:`bot.core.pacing.trusted`).

Storage sits behind a narrow seam: :class:`PacedBudget` holds the rule and asks a subclass
for an atomic read-change-write of the state (:meth:`PacedBudget.update`), a plain read
(:meth:`PacedBudget.load`) and :meth:`PacedBudget.close`, nothing else. With
``DATABASE_URL`` the budget is :class:`PostgresBudget`, a sibling of :class:`SharedBudget`:
``SELECT … FOR UPDATE`` on the base's row in a transaction, so replicas on several hosts
share one budget per base. They then compare their own wall clocks, which NTP keeps well
within the jitter margin above.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from bot.core import pacing
from bot.core.pacing import BudgetState
from bot.storage.database import Database

T = TypeVar("T")

# How far ahead of now a stored instant may lie and still be believed: Airtable's 30 s
# penalty and a minute to spare. Longer pauses are cut to this.
DEFAULT_MAX_AHEAD_SECONDS = 90.0
# How long a booking waits for another process's transaction before it gives up.
BUSY_TIMEOUT_SECONDS = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS airtable_budget (
    base_id TEXT PRIMARY KEY,
    booked_until REAL NOT NULL DEFAULT 0,
    paused_until REAL NOT NULL DEFAULT 0
)
"""
SELECT_STATE = "SELECT booked_until, paused_until FROM airtable_budget WHERE base_id = ?"
UPSERT_STATE = """
INSERT INTO airtable_budget (base_id, booked_until, paused_until) VALUES (?, ?, ?)
ON CONFLICT (base_id) DO UPDATE
SET booked_until = excluded.booked_until, paused_until = excluded.paused_until
"""


class RequestBudget(Protocol):
    """The request budget of one base, as the Airtable lane uses it (from any thread)."""

    def reserve(self) -> float:
        """Book the next slot and return its wall-clock time (``time.time()`` seconds)."""
        ...

    def pause(self, seconds: float) -> None:
        """Book no slot before ``seconds`` from now, for every user of the budget."""
        ...

    def paused_until(self) -> float:
        """When the current pause ends (a past instant, or 0, when there is none)."""
        ...

    def close(self) -> None:
        """Let go of what the budget holds open."""
        ...


class PacedBudget(ABC):
    """The rule of :mod:`bot.core.pacing` over a store that a subclass provides."""

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        max_ahead: float = DEFAULT_MAX_AHEAD_SECONDS,
    ) -> None:
        if not requests_per_second > 0:
            raise ValueError(f"requests_per_second must be positive, not {requests_per_second}")
        self.interval = 1.0 / requests_per_second
        self.max_ahead = max_ahead
        self.clock = clock

    @abstractmethod
    def update(self, change: Callable[[BudgetState, float], tuple[T, BudgetState]]) -> T:
        """Atomically, for every user of the store: read the state, call ``change(state,
        now)`` with the clock read after any wait for the store, keep the state it returns
        and return its first item."""

    @abstractmethod
    def load(self) -> BudgetState:
        """The state as last kept (a default state when nothing was ever kept)."""

    def reserve(self) -> float:
        """Book the next slot and return its wall-clock time (``time.time()`` seconds)."""
        return self.update(
            lambda state, now: pacing.book_slot(state, now, self.interval, max_ahead=self.max_ahead)
        )

    def pause(self, seconds: float) -> None:
        """Book no slot before ``seconds`` from now (at most ``max_ahead``), for every user
        of the budget."""
        self.update(
            lambda state, now: (None, pacing.pause(state, now, seconds, max_ahead=self.max_ahead))
        )

    def paused_until(self) -> float:
        """When the current pause ends (a past instant, or 0, when there is none)."""
        return pacing.paused_until(self.load(), self.clock(), max_ahead=self.max_ahead)

    @abstractmethod
    def close(self) -> None:
        """Let go of what the store holds open."""


class LocalBudget(PacedBudget):
    """A budget in memory, for one process: for when there is no data folder to share."""

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        max_ahead: float = DEFAULT_MAX_AHEAD_SECONDS,
    ) -> None:
        super().__init__(requests_per_second, clock=clock, max_ahead=max_ahead)
        self._state = BudgetState()
        self._lock = threading.Lock()

    def update(self, change: Callable[[BudgetState, float], tuple[T, BudgetState]]) -> T:
        """Apply ``change`` to the state under the budget's lock."""
        with self._lock:
            result, self._state = change(self._state, self.clock())
            return result

    def load(self) -> BudgetState:
        """The state in memory."""
        return self._state

    def close(self) -> None:
        """Nothing to let go of: the state goes with the object."""


class SharedBudget(PacedBudget):
    """A base's budget in a SQLite file, shared by every process that opens the same file.

    The table ``airtable_budget`` (one row per base) is created when missing. One connection,
    guarded by a lock, serves every thread of the process. After :meth:`close` every method
    raises :class:`sqlite3.ProgrammingError`; a booking that cannot get the file's write lock
    within ``busy_timeout`` seconds raises :class:`sqlite3.OperationalError`.
    """

    def __init__(
        self,
        path: Path | str,
        base_id: str,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        max_ahead: float = DEFAULT_MAX_AHEAD_SECONDS,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(requests_per_second, clock=clock, max_ahead=max_ahead)
        self.path = Path(path)
        self.base_id = base_id
        self._lock = threading.Lock()
        # isolation_level=None: no implicit transactions; each booking opens its own.
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode a commit survives the process being killed; only a power cut can
            # lose the last booking, which costs nothing a restart does not.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def update(self, change: Callable[[BudgetState, float], tuple[T, BudgetState]]) -> T:
        """Apply ``change`` to the base's row in one ``BEGIN IMMEDIATE`` transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(SELECT_STATE, (self.base_id,)).fetchone()
                result, state = change(_state_of(row), self.clock())
                self._db.execute(
                    UPSERT_STATE, (self.base_id, state.booked_until, state.paused_until)
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            return result

    def load(self) -> BudgetState:
        """The base's row as last committed by any process."""
        with self._lock:
            return _state_of(self._db.execute(SELECT_STATE, (self.base_id,)).fetchone())

    def close(self) -> None:
        """Close the connection (what was booked stays in the file)."""
        with self._lock:
            self._db.close()


class PostgresBudget(PacedBudget):
    """A base's budget in the ``airtable_budget`` table of a PostgreSQL database (created by
    the journal's migrations), shared by every replica on it.

    A booking is one transaction that locks the base's row (an upsert that creates it when
    missing, so a row deleted while the bot runs is booked again rather than left unpaced),
    so bookings from every replica take turns on it; other bases' rows are not touched. A
    booking that cannot get the row within ``lock_timeout`` seconds (another session holds it
    and does not finish: a replica frozen, or its host gone without closing the connection)
    raises ``psycopg.errors.LockNotAvailable``, one of
    :data:`~bot.storage.database.STORE_ERRORS`, instead of waiting without end. The database
    is the caller's: :meth:`close` leaves it open.
    """

    # The base's row, created when missing, locked to the end of the transaction.
    LOCK_ROW = (
        "INSERT INTO airtable_budget (base_id) VALUES (?)"
        " ON CONFLICT (base_id) DO UPDATE SET base_id = excluded.base_id"
        " RETURNING booked_until, paused_until"
    )

    def __init__(
        self,
        database: Database,
        base_id: str,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        max_ahead: float = DEFAULT_MAX_AHEAD_SECONDS,
        lock_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(requests_per_second, clock=clock, max_ahead=max_ahead)
        self.database = database
        self.base_id = base_id
        # PostgreSQL's lock_timeout, in whole milliseconds (0 would mean no limit).
        self._lock_timeout = f"{max(1, round(lock_timeout * 1000))}ms"
        with database.write() as tx:
            tx.execute(
                "INSERT INTO airtable_budget (base_id) VALUES (?) ON CONFLICT (base_id) DO NOTHING",
                (base_id,),
            )

    def update(self, change: Callable[[BudgetState, float], tuple[T, BudgetState]]) -> T:
        """Apply ``change`` to the base's row, locked for the transaction (created, locked,
        when it is missing)."""
        with self.database.write() as tx:
            tx.execute("SELECT set_config('lock_timeout', ?, true)", (self._lock_timeout,))
            # Not SELECT … FOR UPDATE: a missing row would lock nothing, and the UPDATE below
            # would keep nothing, so every booking would be "now". The no-op DO UPDATE locks
            # the existing row and returns it as it was.
            row = tx.execute(self.LOCK_ROW, (self.base_id,)).fetchone()
            result, state = change(_state_of(row), self.clock())
            tx.execute(
                "UPDATE airtable_budget SET booked_until = ?, paused_until = ? WHERE base_id = ?",
                (state.booked_until, state.paused_until, self.base_id),
            )
        return result

    def load(self) -> BudgetState:
        """The base's row as last committed by any replica."""
        return _state_of(self.database.read_one(SELECT_STATE, (self.base_id,)))

    def close(self) -> None:
        """Nothing to let go of: the database belongs to the caller."""


def _state_of(row: tuple[object, object] | None) -> BudgetState:
    """The state a row holds; a missing row, or a value that is not a number, reads as 0."""
    if row is None:
        return BudgetState()
    booked_until, paused_until = (
        float(value) if isinstance(value, int | float) else 0.0 for value in row
    )
    return BudgetState(booked_until=booked_until, paused_until=paused_until)
