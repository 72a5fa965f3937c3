"""Locks that hold across replicas, and the one replica that does the scheduled work.

:class:`SharedLocks` gives named locks for the decisions that must be made once: a Project's
status and its announcement, an Engagement's renewal, the issue opened for a record. On
PostgreSQL a lock is ``pg_advisory_xact_lock`` in a transaction held open on a connection of
its own pool (psycopg's async pool) for as long as the block runs, so replicas take turns,
and a replica that dies mid-block lets go of it as its connection closes. Without a shared
database the process-local locks of the callers are all there is, and :meth:`hold` does
nothing.

:class:`Leadership` chooses the replica that runs the scheduled work (the drift-repairing
sync, the recovery of missed deliveries, following Airtable's webhooks): the one holding a
session-level advisory lock. Its connection is checked every few seconds; when it breaks the
lock is gone (the server let go of it when the session ended), the work is stopped, and
another replica takes over within the same few seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import psycopg
import psycopg_pool

from bot.storage.database import lock_key, with_settings

log = logging.getLogger(__name__)

# Connections for locks held at once by one replica; more wait for one.
MAX_HELD: Final = 16
LOCK_WAIT_SECONDS: Final = 120.0
LEADER_CHECK_SECONDS: Final = 5.0
LEADER_LOCK: Final = "leader:scheduled-work"

# A held lock's transaction may sit idle this long (while the block waits for GitHub or
# Airtable) before the server ends it: a replica frozen inside a block (a paused VM, a
# partition) then lets go of its locks instead of blocking every other replica for hours.
IDLE_IN_LOCK_SECONDS: Final = 300
# The leader's session is idle 5 s at most between checks; one silent for this long is
# frozen, and the server ends it (and its leadership).
LEADER_IDLE_SECONDS: Final = 60

# The connection of the lock the running task already holds: a lock taken inside another
# (a Project's inside a record's) is taken on it, so one task never needs two connections.
_held: contextvars.ContextVar[tuple[asyncio.Task[object], psycopg.AsyncConnection] | None] = (
    contextvars.ContextVar("shared_lock_connection", default=None)
)


class Held:
    """A lock being held: whether another replica decided under it since this one did, the
    state the last holder kept, and :meth:`keep` for this holder's."""

    def __init__(
        self,
        previous: str | None,
        replica: str,
        state: dict[str, Any] | None = None,
        keep: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.previous = previous
        self.replica = replica
        self.state = state
        self._keep = keep

    async def keep(self, state: dict[str, Any]) -> None:
        """Keep *state* (JSON-able) with the lock, for the next holder; nothing when the
        locks are not shared."""
        if self._keep is not None:
            await self._keep(state)

    @property
    def others_wrote(self) -> bool:
        """Whether the last decision under this lock was another replica's (what it wrote may
        not be in this replica's snapshots yet)."""
        return self.previous is not None and self.previous != self.replica


NOT_SHARED: Final = Held(None, "")


class SharedLocks:
    """Named locks across every replica on a PostgreSQL schema; no-ops without one."""

    def __init__(
        self,
        url: str | None,
        schema: str = "",
        *,
        replica: str = "",
        max_held: int = MAX_HELD,
        count: Callable[[int], None] = lambda n: None,
    ) -> None:
        """Locks on the database at *url* within *schema* (its ``current_schema()``), or,
        with *url* None, none at all. *replica* names this process in ``lock_holders``;
        *count* is told of the statements sent (the database's round-trip count)."""
        self.url = url
        self.schema = schema
        self.replica = replica
        self._max_held = max_held
        self._count = count
        self._pool: psycopg_pool.AsyncConnectionPool | None = None

    @property
    def shared(self) -> bool:
        """Whether the locks hold across processes."""
        return self.url is not None

    async def _connections(self) -> psycopg_pool.AsyncConnectionPool:
        if self._pool is None:
            assert self.url is not None
            pool = psycopg_pool.AsyncConnectionPool(
                with_settings(
                    self.url, idle_in_transaction_session_timeout=f"{IDLE_IN_LOCK_SECONDS}s"
                ),
                min_size=0,
                max_size=self._max_held,
                timeout=LOCK_WAIT_SECONDS,
                kwargs={"autocommit": True},
                check=self._check,
                name="deliverables-bot-locks",
                open=False,
            )
            await pool.open()
            self._pool = pool
        return self._pool

    async def _check(self, conn: psycopg.AsyncConnection) -> None:
        self._count(1)
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[Held]:
        """Hold the lock *name* for the block, waiting for any replica holding it; the
        :class:`Held` says which replica decided under it last (this one, from now on)."""
        if self.url is None:
            yield NOT_SHARED
            return
        key = lock_key(self.schema, name)
        task = asyncio.current_task()
        held = _held.get()
        if held is not None and held[0] is task:
            # Nested: taken in the outer lock's transaction, let go of with it.
            yield await self._take(held[1], key, name)
            return
        pool = await self._connections()
        async with pool.connection() as conn, conn.transaction():
            self._count(2)  # BEGIN, COMMIT
            taken = await self._take(conn, key, name)
            token = _held.set((task, conn)) if task is not None else None
            try:
                yield taken
            finally:
                if token is not None:
                    _held.reset(token)

    async def _take(self, conn: psycopg.AsyncConnection, key: int, name: str) -> Held:
        """Take the lock in *conn*'s transaction and note this replica as its last holder,
        in one statement; who held it last before."""
        self._count(1)
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        cursor = await conn.execute(
            "WITH previous AS (SELECT holder, state FROM lock_holders WHERE name = %s)"
            " INSERT INTO lock_holders (name, holder) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder"
            " RETURNING (SELECT holder FROM previous), (SELECT state FROM previous)",
            (name, name, self.replica),
        )
        self._count(1)
        row = await cursor.fetchone()
        previous, state = (None, None) if row is None else row

        async def keep(value: dict[str, Any]) -> None:
            self._count(1)
            await conn.execute(
                "UPDATE lock_holders SET state = %s WHERE name = %s", (json.dumps(value), name)
            )

        return Held(previous, self.replica, None if state is None else json.loads(state), keep)

    async def close(self) -> None:
        """Close the locks' connections (every lock is let go of)."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class Leadership:
    """Runs the scheduled work on one replica at a time; see the module docstring."""

    def __init__(
        self,
        url: str | None,
        schema: str = "",
        *,
        check_seconds: float = LEADER_CHECK_SECONDS,
    ) -> None:
        """Leadership among the replicas on *url* within *schema*; with *url* None this
        process is the only one, and leads."""
        self.url = url
        self.key = lock_key(schema, LEADER_LOCK)
        self.check_seconds = check_seconds
        self.leading = False

    async def run(self, start: Callable[[], list[asyncio.Task[None]]]) -> None:
        """Until cancelled: whenever this replica leads, run the tasks ``start()`` makes;
        cancel them when it stops leading."""
        if self.url is None:
            await self._lead(start, None)
            return
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    with_settings(self.url, idle_session_timeout=f"{LEADER_IDLE_SECONDS}s"),
                    autocommit=True,
                ) as conn:
                    while not await self._try(conn):
                        await asyncio.sleep(self.check_seconds)
                    failures = 0
                    log.info("this replica now runs the scheduled work (the leader)")
                    await self._lead(start, conn)
            except (psycopg.Error, OSError) as exc:
                failures += 1
                if self.leading:
                    log.warning("lost the leadership of the scheduled work: %s", exc)
                self.leading = False
                await asyncio.sleep(min(self.check_seconds * failures, 30.0))

    async def _try(self, conn: psycopg.AsyncConnection) -> bool:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def _lead(
        self, start: Callable[[], list[asyncio.Task[None]]], conn: psycopg.AsyncConnection | None
    ) -> None:
        """Run the tasks while leading: for ever alone, else while the connection answers."""
        self.leading = True
        tasks = start()
        try:
            while True:
                await asyncio.sleep(self.check_seconds)
                if conn is not None:
                    await conn.execute("SELECT 1")
        finally:
            self.leading = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
