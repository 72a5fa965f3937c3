"""The delivery journal: durable SQLite storage of accepted GitHub webhook deliveries.

The server verifies a delivery, journals it with :meth:`Journal.record_many` (a group commit of
every delivery that arrived together) and only then answers 202, so a crash after the answer
loses nothing: at start-up :meth:`Journal.resume` puts deliveries that
were being worked on back in the queue. The worker takes due deliveries with
:meth:`Journal.claim_due` and ends each one with :meth:`Journal.mark_done`,
:meth:`Journal.mark_retry` (exponential backoff with jitter, then the dead-letter state
``failed``) or :meth:`Journal.mark_failed`. Operators list and retry deliveries with
:meth:`Journal.list` and :meth:`Journal.retry`.

Delivery ids (``X-GitHub-Delivery``) are kept at least 7 days for de-duplication: a redelivery
carries the id of the original delivery (https://github.com/github/docs/issues/32822), and
GitHub.com redelivers up to 3 days back, GitHub Enterprise Server up to 7
(https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks).
GitHub never redelivers on its own, so a delivery the journal could not write is lost
unless someone redelivers it.

Life of a delivery::

    record ─▶ pending ─claim_due─▶ processing ─mark_done─▶ done / ignored
                 ▲                   │  │
                 └──── mark_retry ───┘  └─ mark_retry (last attempt), mark_failed ─▶ failed
    resume: processing ─▶ pending            retry (operator): failed/done/ignored ─▶ pending

Payloads are stored as zlib-compressed JSON (a GitHub payload shrinks about 5-10 times); a
payload given as bytes is stored exactly as GitHub sent it.

The API is synchronous and thread-safe: one connection guarded by a lock. The insert on the
webhook path is small enough to run on the event loop; anything bigger belongs in
``asyncio.to_thread``.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import random
import sqlite3
import threading
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

logger = logging.getLogger(__name__)

STATES: Final = ("pending", "processing", "done", "failed", "ignored")
FINISHED_STATES: Final = ("done", "ignored")
RETRYABLE_STATES: Final = ("pending", "failed", "done", "ignored")
DEDUPE_DAYS: Final = 7
JITTER: Final = 0.1
RESUMED_ERROR: Final = "interrupted: the process stopped while this delivery was processing"

SCHEMA_VERSION: Final = 2
# MIGRATIONS[n] takes a journal from user_version n to n + 1; append, never edit.
MIGRATIONS: Final = (
    """
    CREATE TABLE deliveries (
        id              TEXT PRIMARY KEY,
        event           TEXT NOT NULL,
        action          TEXT,
        payload         BLOB NOT NULL,  -- zlib-compressed JSON
        received_at     REAL NOT NULL,
        state           TEXT NOT NULL CHECK (state IN
                            ('pending', 'processing', 'done', 'failed', 'ignored')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error      TEXT,
        issue_key       TEXT
    );
    CREATE INDEX deliveries_state_due ON deliveries (state, next_attempt_at);
    CREATE INDEX deliveries_received ON deliveries (received_at);
    CREATE TABLE watermarks (
        issue_key  TEXT PRIMARY KEY,
        updated_at TEXT NOT NULL  -- ISO 8601 as given, compared as a datetime
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE not_visible (
        issue_key  TEXT PRIMARY KEY,
        url        TEXT NOT NULL,
        repository TEXT NOT NULL,  -- owner/repo as the URL names it
        first_seen REAL NOT NULL,
        last_seen  REAL NOT NULL
    );
    """,
)

_COLUMNS: Final = (
    "id, event, action, payload, received_at, state, attempts, next_attempt_at, last_error,"
    " issue_key"
)
_Row = tuple[str, str, str | None, bytes, float, str, int, float, str | None, str | None]


@dataclass(frozen=True)
class NewDelivery:
    """A delivery about to be journaled: its body is JSON text already checked by the caller."""

    delivery_id: str
    event: str
    action: str | None
    body: bytes
    issue_key: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One journaled webhook delivery."""

    id: str  # X-GitHub-Delivery
    event: str  # X-GitHub-Event
    action: str | None
    payload: dict[str, Any]  # decoded JSON
    received_at: float  # epoch seconds
    state: str  # one of STATES
    attempts: int
    next_attempt_at: float
    last_error: str | None
    issue_key: str | None  # e.g. "example-org/infrastructure#1", for per-issue coalescing


class Journal:
    """The delivery journal on one SQLite file; see the module docstring."""

    def __init__(self, path: Path | str, *, timeout: float = 5.0) -> None:
        """Open (creating or migrating) the journal at *path*; ``":memory:"`` for a test one.

        The parent folder is created. *timeout* is how long a write waits for another
        connection (an operator's CLI on the same file) to release the lock before
        ``sqlite3.OperationalError: database is locked``. Raises ``RuntimeError`` for a journal
        written by a newer version of the bot.
        """
        self._path = str(path)
        self._lock = threading.Lock()
        self._file_id: tuple[int, int] | None = None
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; writes that take more than one
        # statement open their own with BEGIN IMMEDIATE (see _write).
        self._conn = sqlite3.connect(
            self._path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # WAL with synchronous=NORMAL: a commit is in the WAL file (in the OS page cache)
            # before it returns, so it survives the process being killed at any point; only a
            # power loss or an OS crash can undo the last few commits, and the database stays
            # consistent even then. No fsync per delivery keeps record() fast enough for the
            # event loop; only the commit that triggers a WAL checkpoint (every 1000 pages,
            # a few hundred deliveries) syncs, and takes a few milliseconds.
            # https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            if self._path != ":memory:":
                st = os.stat(self._path)
                self._file_id = (st.st_dev, st.st_ino)
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION in one transaction (another process opening the
        same file at the same time waits, then finds it done)."""
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"journal {self._path} has schema version {version}; this bot knows up to"
                    f" {SCHEMA_VERSION}: upgrade the bot or use another DELIVERABLES_BOT_DATA"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction under the lock: committed on success, rolled back on error."""
        with self._lock:
            # BEGIN IMMEDIATE takes SQLite's write lock now, so a read-then-write (claim_due,
            # advance_watermark) cannot interleave with another connection's write.
            self._conn.execute("BEGIN IMMEDIATE")
            with self._conn:  # commits, or rolls back on an exception or a failed commit
                yield self._conn

    def __enter__(self) -> Self:
        """Use the journal as a context manager; it is closed on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the journal."""
        self.close()

    def close(self) -> None:
        """Close the connection; calling it again does nothing. Later calls raise."""
        with self._lock:
            self._conn.close()

    # -- the webhook path ------------------------------------------------------------------

    def record(
        self,
        delivery_id: str,
        event: str,
        action: str | None,
        payload: bytes | dict[str, Any],
        *,
        issue_key: str | None = None,
        now: float | None = None,
    ) -> bool:
        """Journal a delivery as pending, due now; return False when its id was already seen.

        *payload* is the request body (stored as sent) or its decoded dict. It must be a JSON
        object: anything else raises ``ValueError`` before anything is written. The delivery
        is committed when this returns True. ``sqlite3.Error`` means it was not journaled.
        """
        if isinstance(payload, dict):
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        elif isinstance(payload, bytes | bytearray | memoryview):
            body = bytes(payload)
            # Checked now: a body that cannot be decoded would otherwise fail the worker later.
            if not isinstance(json.loads(body), dict):
                raise ValueError(f"delivery {delivery_id}: the payload is not a JSON object")
        else:
            raise TypeError(f"payload must be bytes or dict, not {type(payload).__name__}")
        blob = zlib.compress(body, 1)  # level 1: most of the size gain at a fraction of the time
        at = time.time() if now is None else now
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO deliveries"
                " (id, event, action, payload, received_at, state, next_attempt_at, issue_key)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (delivery_id, event, action, blob, at, at, issue_key),
            )
            return cursor.rowcount == 1

    def record_many(
        self, entries: Sequence[NewDelivery], *, now: float | None = None
    ) -> builtins.list[bool]:
        """Journal several deliveries in one transaction (a group commit); for each, whether
        it was accepted: new, or the redelivery of a failed one (queued again). Bodies are
        stored as given: the caller has already decoded them as JSON objects. Nothing is
        written when the transaction fails."""
        at = time.time() if now is None else now
        results: builtins.list[bool] = []
        with self._write() as conn:
            for entry in entries:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO deliveries"
                    " (id, event, action, payload, received_at, state, next_attempt_at, issue_key)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (
                        entry.delivery_id,
                        entry.event,
                        entry.action,
                        zlib.compress(entry.body, 1),
                        at,
                        at,
                        entry.issue_key,
                    ),
                )
                if cursor.rowcount == 0:
                    # A redelivery (GitHub's "Redeliver" button) of a delivery that failed for
                    # good puts it back in the queue, as an operator pressing it expects.
                    cursor = conn.execute(
                        "UPDATE deliveries SET state = 'pending', attempts = 0,"
                        " next_attempt_at = ? WHERE id = ? AND state = 'failed'",
                        (at, entry.delivery_id),
                    )
                results.append(cursor.rowcount == 1)
        return results

    def seen(self, delivery_id: str) -> bool:
        """Whether a delivery with this id is in the journal (in any state)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        return row is not None

    # -- the worker ------------------------------------------------------------------------

    def claim_due(self, *, now: float | None = None, limit: int = 100) -> builtins.list[Delivery]:
        """Move up to *limit* due pending deliveries to processing and return them, oldest first.

        Due means ``next_attempt_at <= now``. The move is one transaction, so a delivery is
        claimed once. Raises ``ValueError`` when *limit* is below 1.
        """
        _check_limit(limit)
        at = time.time() if now is None else now
        claimed: builtins.list[Delivery] = []
        unreadable: builtins.list[tuple[str, str]] = []
        with self._write() as conn:
            rows: builtins.list[_Row] = conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries"
                " WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY received_at, rowid LIMIT ?",
                (at, limit),
            ).fetchall()
            for row in rows:
                try:
                    claimed.append(_delivery(row, state="processing"))
                except (zlib.error, ValueError) as exc:
                    # A payload that cannot be decoded would jam the queue: it fails for good.
                    unreadable.append((f"unreadable payload: {exc}", row[0]))
            conn.executemany(
                "UPDATE deliveries SET state = 'processing' WHERE id = ?",
                [(delivery.id,) for delivery in claimed],
            )
            conn.executemany(
                "UPDATE deliveries SET state = 'failed', last_error = ? WHERE id = ?", unreadable
            )
        for error, delivery_id in unreadable:
            logger.warning("delivery %s: %s", delivery_id, error)
        return claimed

    def next_due_at(self) -> float | None:
        """The earliest ``next_attempt_at`` among pending deliveries; None when none is pending."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'"
            ).fetchone()
        return row[0]

    def mark_done(self, delivery_ids: Iterable[str], *, state: str = "done") -> None:
        """End deliveries as ``done`` (worked on) or ``ignored`` (nothing to do); unknown ids
        are skipped. Raises ``ValueError`` for another *state*."""
        if state not in FINISHED_STATES:
            raise ValueError(f"state must be one of {FINISHED_STATES}, not {state!r}")
        with self._write() as conn:
            conn.executemany(
                "UPDATE deliveries SET state = ? WHERE id = ?",
                [(state, delivery_id) for delivery_id in delivery_ids],
            )

    def mark_retry(
        self,
        delivery_id: str,
        error: str,
        *,
        max_attempts: int,
        base_delay: float,
        max_delay: float,
        now: float | None = None,
    ) -> str:
        """Count a failed attempt and schedule the next one; return the new state.

        With n attempts made, the next is due after ``min(max_delay, base_delay * 2**(n-1))``
        seconds, times a random factor in [0.9, 1.1] so retries spread out (so a delay can
        exceed *max_delay* by up to 10%). When n reaches *max_attempts* the delivery is
        ``failed`` (the dead letter) instead of ``pending``. *error* is kept as ``last_error``
        either way. Raises ``KeyError`` for an unknown id, ``ValueError`` when *max_attempts*
        is below 1.
        """
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        at = time.time() if now is None else now
        with self._write() as conn:
            row = conn.execute(
                "SELECT attempts, event, issue_key FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                raise KeyError(delivery_id)
            attempts = row[0] + 1
            if attempts >= max_attempts:
                state = "failed"
                conn.execute(
                    "UPDATE deliveries SET state = 'failed', attempts = ?, last_error = ?"
                    " WHERE id = ?",
                    (attempts, error, delivery_id),
                )
            else:
                state = "pending"
                # The exponent is capped so a huge attempt count cannot overflow a float.
                delay = min(max_delay, base_delay * 2 ** min(attempts - 1, 64))
                delay *= random.uniform(1 - JITTER, 1 + JITTER)
                conn.execute(
                    "UPDATE deliveries SET state = 'pending', attempts = ?, last_error = ?,"
                    " next_attempt_at = ? WHERE id = ?",
                    (attempts, error, at + delay, delivery_id),
                )
        if state == "failed":
            logger.warning(
                "delivery %s (%s, %s) failed after %d attempts: %s",
                delivery_id, row[1], row[2], attempts, error,
            )  # fmt: skip
        return state

    def mark_failed(self, delivery_id: str, error: str) -> None:
        """Count a failed attempt and move the delivery straight to ``failed`` (a permanent
        error; retrying cannot help). Raises ``KeyError`` for an unknown id."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT event, issue_key FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                raise KeyError(delivery_id)
            conn.execute(
                "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (error, delivery_id),
            )
        logger.warning("delivery %s (%s, %s) failed: %s", delivery_id, row[0], row[1], error)

    def resume(self) -> int:
        """At start-up: put every ``processing`` delivery (the last process stopped while working
        on it) back to ``pending``, due now, and return how many.

        Only one process may work on a journal: this takes back whatever another one holds.
        The attempt count is unchanged; ``last_error`` records the interruption.
        """
        with self._write() as conn:
            count = conn.execute(
                "UPDATE deliveries SET state = 'pending', last_error = ?"
                " WHERE state = 'processing'",
                (RESUMED_ERROR,),
            ).rowcount
        if count:
            logger.info("resumed %d deliveries interrupted by the last stop", count)
        return count

    # -- operators and monitoring ------------------------------------------------------------

    def retry(self, delivery_id: str, *, now: float | None = None) -> Delivery:
        """Operator retry: put a ``failed`` (or ``done``/``ignored``/``pending``) delivery back
        to ``pending``, due now, with attempts reset; return it.

        ``last_error`` is kept until the next attempt. Raises ``KeyError`` for an unknown id and
        ``ValueError`` for a delivery being processed right now.
        """
        at = time.time() if now is None else now
        with self._write() as conn:
            row: _Row | None = conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                raise KeyError(delivery_id)
            if row[5] not in RETRYABLE_STATES:
                raise ValueError(f"delivery {delivery_id} is being processed; retry it later")
            conn.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE id = ?",
                (at, delivery_id),
            )
        logger.info(
            "delivery %s (%s, %s) retried by an operator (was %s)",
            delivery_id, row[1], row[9], row[5],
        )  # fmt: skip
        return _delivery(row, state="pending", attempts=0, next_attempt_at=at)

    def list(
        self, *, states: Collection[str] | None = None, limit: int = 100
    ) -> builtins.list[Delivery]:
        """Up to *limit* deliveries, newest first; only those in *states* when given.

        Raises ``ValueError`` for an unknown state or a *limit* below 1.
        """
        _check_limit(limit)
        if states is None:
            wanted: tuple[str, ...] = STATES
        else:
            wanted = tuple(states)
            unknown = set(wanted) - set(STATES)
            if unknown:
                raise ValueError(f"unknown states {sorted(unknown)}; known: {STATES}")
        marks = ", ".join("?" * len(wanted))
        with self._lock:
            rows: builtins.list[_Row] = self._conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE state IN ({marks})"
                " ORDER BY received_at DESC, rowid DESC LIMIT ?",
                (*wanted, limit),
            ).fetchall()
        # Decoded outside the lock; an unreadable payload is shown empty rather than hiding
        # every other delivery from the operator.
        return [_delivery(row, readable_only=False) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state (every state present, zero included)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) FROM deliveries GROUP BY state"
            ).fetchall()
        return {state: 0 for state in STATES} | dict(rows)

    def pending_count(self) -> int:
        """How many deliveries are pending (due or waiting for a retry)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"
            ).fetchone()
        return row[0]

    def prune(self, *, older_than_days: float = DEDUPE_DAYS, now: float | None = None) -> int:
        """Delete ``done`` and ``ignored`` deliveries received more than *older_than_days* ago;
        return how many. Pending, processing and failed deliveries are never deleted.

        The default keeps ids for 7 days, as long as GitHub Enterprise Server offers a
        redelivery (GitHub.com: 3 days); with a smaller value a late redelivery runs again.
        Watermarks are kept: one small row per issue, guarding against a stale delivery of any
        age (an operator may retry an old failed one).
        """
        at = time.time() if now is None else now
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM deliveries WHERE state IN ('done', 'ignored') AND received_at < ?",
                (at - older_than_days * 86400,),
            ).rowcount

    def check_writable(self) -> str | None:
        """For /readyz: None when a write transaction commits, else the reason it did not.

        Also not writable: a journal file removed or replaced since it was opened. SQLite
        keeps writing to the unlinked file and the deliveries would be lost at the next start.
        """
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('write_checked_at', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(time.time()),),
                )
        except sqlite3.Error as exc:
            return f"journal {self._path} is not writable: {exc}"
        if self._file_id is not None:
            try:
                st = os.stat(self._path)
            except OSError as exc:
                return f"journal {self._path} was removed: {exc.strerror}"
            if (st.st_dev, st.st_ino) != self._file_id:
                return f"journal {self._path} was replaced by another file"
        return None

    # -- small persistent settings ---------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """The value stored under *key* in the journal's ``meta`` table; None when unset."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store *value* under *key* (replacing what was there), durably."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- issues GitHub does not let the bot see ---------------------------------------------

    def note_not_visible(self, issue_key: str, url: str, repository: str) -> bool:
        """Remember that GitHub answered 404 for an issue; True when it was not known yet."""
        at = time.time()
        with self._write() as conn:
            known = conn.execute(
                "SELECT 1 FROM not_visible WHERE issue_key = ?", (issue_key,)
            ).fetchone()
            conn.execute(
                "INSERT INTO not_visible (issue_key, url, repository, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (issue_key) DO UPDATE SET last_seen = excluded.last_seen",
                (issue_key, url, repository, at, at),
            )
        return known is None

    def clear_not_visible(self, issue_key: str) -> None:
        """Forget an issue GitHub answered 404 for (it was read again)."""
        with self._write() as conn:
            conn.execute("DELETE FROM not_visible WHERE issue_key = ?", (issue_key,))

    def not_visible(self) -> builtins.list[tuple[str, str, float]]:
        """Issues GitHub last answered 404 for: ``(url, repository, first_seen)``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url, repository, first_seen FROM not_visible ORDER BY first_seen, url"
            ).fetchall()
        return [(str(u), str(r), float(f)) for u, r, f in rows]

    # -- per-issue watermarks --------------------------------------------------------------

    def watermark(self, issue_key: str) -> str | None:
        """The newest ``updated_at`` applied for an issue, as given; None before any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT updated_at FROM watermarks WHERE issue_key = ?", (issue_key,)
            ).fetchone()
        return None if row is None else row[0]

    def advance_watermark(self, issue_key: str, updated_at: str) -> bool:
        """Record that the issue's state as of *updated_at* is applied, unless it is older than
        the stored watermark; return whether the caller should apply it.

        *updated_at* is ISO 8601 with a time zone (GitHub's ``2024-05-01T12:00:00Z``); times
        are compared as datetimes, so ``Z`` and ``+02:00`` mix. Equal to the stored one returns
        True (nothing is written): GitHub's ``updated_at`` has one-second resolution, so two
        changes in the same second carry the same value, and a redelivery of the same state
        re-applies idempotently. Only a strictly older time returns False. Raises
        ``ValueError`` for a time without a time zone or not ISO 8601.
        """
        new = _aware(updated_at)
        with self._write() as conn:
            row = conn.execute(
                "SELECT updated_at FROM watermarks WHERE issue_key = ?", (issue_key,)
            ).fetchone()
            if row is not None:
                old = _aware(row[0])
                if new < old:
                    return False
                if new == old:
                    return True
            conn.execute(
                "INSERT INTO watermarks (issue_key, updated_at) VALUES (?, ?)"
                " ON CONFLICT (issue_key) DO UPDATE SET updated_at = excluded.updated_at",
                (issue_key, updated_at),
            )
        return True

    def schedule_of(self, delivery_id: str) -> tuple[int, float] | None:
        """A delivery's attempts made so far and when the next is due (epoch seconds), or
        None for an unknown id (for the worker's one-line retry log)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT attempts, next_attempt_at FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def oldest_failed(self) -> dict[str, Any] | None:
        """The failed delivery received first, without its payload (for /readyz and
        ``check``): ``id``, ``event``, ``action``, ``issue_key``, ``received_at``,
        ``attempts``, ``last_error``; None when none has failed."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, event, action, issue_key, received_at, attempts, last_error"
                " FROM deliveries WHERE state = 'failed' ORDER BY received_at, rowid LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        keys = ("id", "event", "action", "issue_key", "received_at", "attempts", "last_error")
        return dict(zip(keys, row, strict=True))


def _check_limit(limit: int) -> None:
    """Reject a limit SQLite would read as "no limit" or "nothing"."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


def _aware(value: str) -> datetime:
    """Parse an ISO 8601 time that must carry a time zone."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def _delivery(row: _Row, *, readable_only: bool = True, **changes: Any) -> Delivery:
    """A Delivery from a row of _COLUMNS, with *changes* applied. An undecodable payload
    raises (``zlib.error`` or ``ValueError``), or with ``readable_only=False`` reads as ``{}``."""
    fields: dict[str, Any] = dict(
        zip(
            (
                "id", "event", "action", "payload", "received_at", "state", "attempts",
                "next_attempt_at", "last_error", "issue_key",
            ),
            row,
            strict=True,
        )
    )  # fmt: skip
    try:
        fields["payload"] = json.loads(zlib.decompress(row[3]))
    except (zlib.error, ValueError):
        if readable_only:
            raise
        fields["payload"] = {}
    fields.update(changes)
    return Delivery(**fields)
