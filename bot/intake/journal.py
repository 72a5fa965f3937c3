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

The API is synchronous and thread-safe (payloads are compressed and decoded outside any
transaction, so the webhook path's group commit waits little for the worker). Callers on an
event loop run it in a thread.

On PostgreSQL (``DATABASE_URL``) several ``serve`` processes, the replicas, share one
journal. Each has an id and a row in ``replicas`` whose heartbeat it renews
(:meth:`Journal.heartbeat`). A claim takes due deliveries ``FOR UPDATE SKIP LOCKED``, under
an advisory lock that makes claims take turns (each lasts a few milliseconds), and never a
delivery for an issue another replica is working on, so one issue is reconciled by one
replica at a time and its pending deliveries still coalesce. A replica whose heartbeat is
older than the lease has its claims put back in the queue by the next heartbeat of any
other: nothing is lost when a replica is killed. A commit that queues work notifies the
listening replicas (NOTIFY), and the worker polls as well.

The journal in five modules: the file, its schema and migrations in
:mod:`bot.intake.journal_schema`; the state kept per key beside the deliveries (meta values,
watermarks, issues GitHub does not show) in :mod:`bot.intake.journal_state`; the Airtable
webhooks followed, whose payloads are journaled as deliveries too (event ``airtable``), in
:mod:`bot.intake.journal_hooks`; a delivery and
its stored row (payloads as zlib-compressed JSON) in :mod:`bot.intake.journal_rows`; the
delivery queue, :class:`Journal`, here.
"""

from __future__ import annotations

import builtins
import logging
import os
import random
import socket
import time
import uuid
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from bot.intake.journal_hooks import HookRows
from bot.intake.journal_rows import (
    COLUMNS,
    INSERT,
    INSERT_PREFIX,
    INSERT_SUFFIX,
    INSERT_VALUES,
    Delivery,
    NewDelivery,
    Row,
    body_of,
    compress,
    delivery_of,
)
from bot.intake.journal_state import JournalState
from bot.storage.database import Database, Transaction

logger = logging.getLogger(__name__)

STATES: Final = ("pending", "processing", "done", "failed", "ignored")
FINISHED_STATES: Final = ("done", "ignored")
RETRYABLE_STATES: Final = ("pending", "failed", "done", "ignored")
DEDUPE_DAYS: Final = 7
JITTER: Final = 0.1
RESUMED_ERROR: Final = "interrupted: the process stopped while this delivery was processing"
TAKEN_OVER_ERROR: Final = (
    "interrupted: the replica working on it stopped sending heartbeats; taken over"
)
# How long a replica's heartbeat may be silent before its claims are taken over.
DEFAULT_LEASE_SECONDS: Final = 30.0
# Rows per multi-row statement: 7 parameters each stays far below SQLite's 32766.
STATEMENT_ROWS: Final = 500

_T = TypeVar("_T")


class Journal(HookRows, JournalState):
    """The delivery journal on a SQLite file or a PostgreSQL schema; see the module docstring."""

    def __init__(
        self,
        location: Path | str | Database,
        *,
        timeout: float = 5.0,
        replica: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        """Open the journal at *location* (see :class:`JournalFile`) as the replica named
        *replica* (host, process id and a random part by default); *lease_seconds* is how
        long another replica's heartbeat may be silent before its claims are taken over."""
        super().__init__(location, timeout=timeout)
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds

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
        is committed when this returns True. A database error means it was not journaled.
        """
        blob = compress(body_of(delivery_id, payload))
        at = time.time() if now is None else now
        with self._write() as tx:
            new = tx.execute(INSERT, (delivery_id, event, action, blob, at, at, issue_key))
            accepted = bool(new.fetchall())
            if accepted:
                tx.notify()
        return accepted

    def record_many(
        self, entries: Sequence[NewDelivery], *, now: float | None = None
    ) -> builtins.list[bool]:
        """Journal several deliveries in one transaction (a group commit); for each, whether
        it was accepted: new, or the redelivery of a failed one (queued again). Bodies are
        stored as given: the caller has already decoded them as JSON objects. Nothing is
        written when the transaction fails.

        The batch costs a few SQLite statements, not one per delivery: the ids already known
        are read with one query, the new deliveries inserted with one multi-row INSERT. Each
        statement lets go of the GIL and must take it back, and while a burst is being
        checked on the event loop taking it back is what a batch waits for.
        """
        at = time.time() if now is None else now
        blobs = [compress(entry.body) for entry in entries]  # before the lock: zlib is slow
        with self._write() as tx:
            known: dict[str, str] = {}
            ids = list({entry.delivery_id: None for entry in entries})
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                known.update(
                    tx.execute(
                        f"SELECT id, state FROM deliveries WHERE id IN ({marks})", chunk
                    ).fetchall()
                )
            rows: builtins.list[tuple[Any, ...]] = []
            requeue: builtins.list[str] = []
            # Per entry: the id it may be accepted as, or None (a duplicate in this batch, or
            # a delivery already journaled and not failed).
            candidates: builtins.list[str | None] = []
            for entry, blob in zip(entries, blobs, strict=True):
                state = known.get(entry.delivery_id)
                if state is None:
                    rows.append(
                        (entry.delivery_id, entry.event, entry.action, blob, at, at,
                         entry.issue_key)
                    )  # fmt: skip
                elif state == "failed":
                    # A redelivery (GitHub's "Redeliver" button) of a delivery that failed for
                    # good puts it back in the queue, as an operator pressing it expects.
                    requeue.append(entry.delivery_id)
                candidates.append(entry.delivery_id if state in (None, "failed") else None)
                known[entry.delivery_id] = "pending"
            # Another replica may journal the same id at the same moment: the row's key
            # decides, and RETURNING says which inserts (and which requeues) were this one's.
            accepted: set[str] = set()
            for part in _chunks(rows):
                accepted.update(
                    row[0]
                    for row in tx.execute(
                        INSERT_PREFIX + ", ".join([INSERT_VALUES] * len(part)) + INSERT_SUFFIX,
                        [value for row in part for value in row],
                    ).fetchall()
                )
            for chunk in _chunks(requeue):
                marks = ", ".join("?" * len(chunk))
                accepted.update(
                    row[0]
                    for row in tx.execute(
                        "UPDATE deliveries SET state = 'pending', attempts = 0,"
                        f" next_attempt_at = ? WHERE id IN ({marks}) AND state = 'failed'"
                        " RETURNING id",
                        (at, *chunk),
                    ).fetchall()
                )
            if accepted:
                tx.notify()
        return [candidate is not None and candidate in accepted for candidate in candidates]

    def seen(self, delivery_id: str) -> bool:
        """Whether a delivery with this id is in the journal (in any state)."""
        return self._read_one("SELECT 1 FROM deliveries WHERE id = ?", (delivery_id,)) is not None

    # -- the worker ------------------------------------------------------------------------

    def claim_due(self, *, now: float | None = None, limit: int = 100) -> builtins.list[Delivery]:
        """Move up to *limit* due pending deliveries to processing and return them, oldest first.

        Due means ``next_attempt_at <= now``. The move is one transaction, so a delivery is
        claimed once. Payloads are decoded after it, outside the lock, so that the webhook
        path's inserts do not wait for a batch's JSON; one that cannot be decoded fails for
        good in a second transaction. Raises ``ValueError`` when *limit* is below 1.
        """
        _check_limit(limit)
        at = time.time() if now is None else now
        with self._write() as tx:
            if self.is_shared:
                rows = self._claim_shared(tx, at, limit)
            else:
                rows = tx.execute(
                    f"SELECT {COLUMNS} FROM deliveries"
                    " WHERE state = 'pending' AND next_attempt_at <= ?"
                    " ORDER BY received_at, rowid LIMIT ?",
                    (at, limit),
                ).fetchall()
                tx.executemany(
                    "UPDATE deliveries SET state = 'processing' WHERE id = ?",
                    [(row[0],) for row in rows],
                )
        claimed: builtins.list[Delivery] = []
        unreadable: builtins.list[tuple[str, str]] = []
        for row in rows:
            try:
                claimed.append(delivery_of(row, state="processing"))
            except (zlib.error, ValueError) as exc:
                # A payload that cannot be decoded would jam the queue: it fails for good.
                # Should the process stop before this, resume() queues it and it fails then.
                unreadable.append((f"unreadable payload: {exc}", row[0]))
        if unreadable:
            with self._write() as tx:
                tx.executemany(
                    "UPDATE deliveries SET state = 'failed', last_error = ? WHERE id = ?",
                    unreadable,
                )
            for error, delivery_id in unreadable:
                logger.warning("delivery %s: %s", delivery_id, error)
        return claimed

    def _claim_shared(self, tx: Transaction, at: float, limit: int) -> builtins.list[Row]:
        """PostgreSQL's claim: due pending deliveries of issues no other replica is working
        on, locked with SKIP LOCKED (rows another transaction is writing are left for the
        next claim), marked as this replica's. The advisory lock makes claims take turns, so
        that two replicas cannot both see an issue free and claim it at the same moment."""
        tx.lock("claim")
        rows: builtins.list[Row] = tx.execute(
            f"SELECT {COLUMNS} FROM deliveries d"
            " WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
            " AND (d.issue_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p"
            " WHERE p.state = 'processing' AND p.issue_key = d.issue_key"
            " AND p.claimed_by IS DISTINCT FROM ?))"
            " ORDER BY d.received_at, d.seq LIMIT ? FOR UPDATE SKIP LOCKED",
            (at, self.replica, limit),
        ).fetchall()
        if rows:
            tx.execute(
                "UPDATE deliveries SET state = 'processing', claimed_by = ? WHERE id = ANY(?)",
                (self.replica, [row[0] for row in rows]),
            )
        return rows

    def heartbeat(self, *, now: float | None = None) -> int:
        """Renew this replica's heartbeat and take over the claims of replicas whose
        heartbeat is older than the lease (put back to ``pending``, due now); return how many
        deliveries were taken over. Nothing to do on SQLite, where one process works."""
        if not self.is_shared:
            return 0
        at = time.time() if now is None else now
        expired = at - self.lease_seconds
        with self._write() as tx:
            tx.execute(
                "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (self.replica, at, at),
            )
            taken = tx.execute(
                "UPDATE deliveries SET state = 'pending', claimed_by = NULL, last_error = ?,"
                " next_attempt_at = LEAST(next_attempt_at, ?)"
                " WHERE state = 'processing' AND claimed_by IS DISTINCT FROM ?"
                " AND NOT EXISTS (SELECT 1 FROM replicas r"
                " WHERE r.id = deliveries.claimed_by AND r.heartbeat_at >= ?)",
                (TAKEN_OVER_ERROR, at, self.replica, expired),
            ).rowcount
            tx.execute("DELETE FROM replicas WHERE heartbeat_at < ?", (expired,))
            if taken:
                tx.notify()
        if taken:
            logger.warning(
                "took over %d deliveries from replicas whose heartbeat stopped more than"
                " %.0f s ago",
                taken, self.lease_seconds,
            )  # fmt: skip
        return taken

    def leave(self) -> None:
        """At a clean stop: put this replica's claims back (none, when its work finished)
        and remove its heartbeat, so no one waits for its lease to expire."""
        if not self.is_shared:
            return
        with self._write() as tx:
            tx.execute(
                "UPDATE deliveries SET state = 'pending', claimed_by = NULL, last_error = ?"
                " WHERE state = 'processing' AND claimed_by = ?",
                (RESUMED_ERROR, self.replica),
            )
            tx.execute("DELETE FROM replicas WHERE id = ?", (self.replica,))

    def replicas(self, *, now: float | None = None) -> builtins.list[tuple[str, float]]:
        """The replicas whose heartbeat is within the lease: ``(id, seconds since it)``;
        empty on SQLite."""
        if not self.is_shared:
            return []
        at = time.time() if now is None else now
        rows = self._read(
            "SELECT id, heartbeat_at FROM replicas WHERE heartbeat_at >= ? ORDER BY id",
            (at - self.lease_seconds,),
        )
        return [(str(name), at - float(beat)) for name, beat in rows]

    def next_due_at(self) -> float | None:
        """The earliest ``next_attempt_at`` among pending deliveries; None when none is pending."""
        row = self._read_one("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'")
        return None if row[0] is None else float(row[0])

    def mark_done(self, delivery_ids: Iterable[str], *, state: str = "done") -> None:
        """End deliveries as ``done`` (worked on) or ``ignored`` (nothing to do); unknown ids
        are skipped. Raises ``ValueError`` for another *state*."""
        if state not in FINISHED_STATES:
            raise ValueError(f"state must be one of {FINISHED_STATES}, not {state!r}")
        with self._write() as tx:
            if self.is_shared:
                # A delivery taken over meanwhile (this replica's lease ran out) and claimed by
                # another replica is that replica's to end.
                tx.executemany(
                    "UPDATE deliveries SET state = ?, claimed_by = NULL WHERE id = ?"
                    " AND (state <> 'processing' OR claimed_by IS NULL OR claimed_by = ?)",
                    [(state, delivery_id, self.replica) for delivery_id in delivery_ids],
                )
                return
            tx.executemany(
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
        either way. On a shared journal a delivery another replica took over meanwhile is
        left alone (``"processing"`` is returned). Raises ``KeyError`` for an unknown id,
        ``ValueError`` when *max_attempts* is below 1.
        """
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        at = time.time() if now is None else now
        with self._write() as tx:
            row = _row_of(tx, "attempts, event, issue_key" + self._owner_columns, delivery_id)
            if self._claimed_by_another(row):
                return "processing"
            attempts = row[0] + 1
            if attempts >= max_attempts:
                state = "failed"
                tx.execute(
                    "UPDATE deliveries SET state = 'failed', attempts = ?, last_error = ?"
                    " WHERE id = ?",
                    (attempts, error, delivery_id),
                )
            else:
                state = "pending"
                # The exponent is capped so a huge attempt count cannot overflow a float.
                delay = min(max_delay, base_delay * 2 ** min(attempts - 1, 64))
                delay *= random.uniform(1 - JITTER, 1 + JITTER)
                tx.execute(
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
        with self._write() as tx:
            row = _row_of(tx, "event, issue_key" + self._owner_columns, delivery_id)
            if self._claimed_by_another(row):
                return
            tx.execute(
                "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (error, delivery_id),
            )
        logger.warning("delivery %s (%s, %s) failed: %s", delivery_id, row[0], row[1], error)

    @property
    def _owner_columns(self) -> str:
        """The columns :meth:`_claimed_by_another` reads, after a row's others."""
        return ", state, claimed_by" if self.is_shared else ""

    def _claimed_by_another(self, row: Any) -> bool:
        """Whether a row read with :attr:`_owner_columns` is being worked on by another
        replica (it was taken over from this one): its outcome here is not recorded."""
        if not self.is_shared or row[-2] != "processing" or row[-1] in (None, self.replica):
            return False
        logger.info(
            "a delivery this replica worked on was taken over by %s meanwhile; its outcome"
            " is left to that replica",
            row[-1],
        )
        return True

    def resume(self) -> int:
        """At start-up: put every ``processing`` delivery (the last process stopped while working
        on it) back to ``pending``, due now, and return how many.

        On SQLite one process works on a journal: this takes back whatever another one holds.
        On PostgreSQL it is :meth:`heartbeat`: only the claims of replicas whose lease has
        expired are taken back, never a live replica's. The attempt count is unchanged;
        ``last_error`` records the interruption.
        """
        if self.is_shared:
            return self.heartbeat()
        with self._write() as tx:
            count = tx.execute(
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
        with self._write() as tx:
            row: Row = _row_of(tx, COLUMNS, delivery_id)
            if row[5] not in RETRYABLE_STATES:
                raise ValueError(f"delivery {delivery_id} is being processed; retry it later")
            tx.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE id = ?",
                (at, delivery_id),
            )
            tx.notify()
        logger.info(
            "delivery %s (%s, %s) retried by an operator (was %s)",
            delivery_id, row[1], row[9], row[5],
        )  # fmt: skip
        return delivery_of(row, state="pending", attempts=0, next_attempt_at=at)

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
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows: builtins.list[Row] = self._read(
            f"SELECT {COLUMNS} FROM deliveries WHERE state IN ({marks})"
            f" ORDER BY received_at DESC, {self.database.insertion_order} DESC LIMIT ?",
            (*wanted, limit),
        )
        # Decoded outside the lock; an unreadable payload is shown empty rather than hiding
        # every other delivery from the operator.
        return [delivery_of(row, readable_only=False) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state (every state present, zero included)."""
        rows = self._read("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        return {state: 0 for state in STATES} | dict(rows)

    def pending_count(self) -> int:
        """How many deliveries are pending (due or waiting for a retry)."""
        return int(self._read_one("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")[0])

    def prune(self, *, older_than_days: float = DEDUPE_DAYS, now: float | None = None) -> int:
        """Delete ``done`` and ``ignored`` deliveries received more than *older_than_days* ago;
        return how many. Pending, processing and failed deliveries are never deleted.

        The default keeps ids for 7 days, as long as GitHub Enterprise Server offers a
        redelivery (GitHub.com: 3 days); with a smaller value a late redelivery runs again.
        Watermarks are kept: one small row per issue, guarding against a stale delivery of any
        age (an operator may retry an old failed one).
        """
        at = time.time() if now is None else now
        with self._write() as tx:
            return tx.execute(
                "DELETE FROM deliveries WHERE state IN ('done', 'ignored') AND received_at < ?",
                (at - older_than_days * 86400,),
            ).rowcount

    def schedule_of(self, delivery_id: str) -> tuple[int, float] | None:
        """A delivery's attempts made so far and when the next is due (epoch seconds), or
        None for an unknown id (for the worker's one-line retry log)."""
        row = self._read_one(
            "SELECT attempts, next_attempt_at FROM deliveries WHERE id = ?", (delivery_id,)
        )
        return None if row is None else (int(row[0]), float(row[1]))

    def oldest_failed(self) -> dict[str, Any] | None:
        """The failed delivery received first, without its payload (for /readyz and
        ``check``): ``id``, ``event``, ``action``, ``issue_key``, ``received_at``,
        ``attempts``, ``last_error``; None when none has failed."""
        row = self._read_one(
            "SELECT id, event, action, issue_key, received_at, attempts, last_error"
            " FROM deliveries WHERE state = 'failed'"
            f" ORDER BY received_at, {self.database.insertion_order} LIMIT 1"
        )
        if row is None:
            return None
        keys = ("id", "event", "action", "issue_key", "received_at", "attempts", "last_error")
        return dict(zip(keys, row, strict=True))


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """*items* in slices small enough for one statement's parameters (SQLite allows 32766)."""
    for start in range(0, len(items), STATEMENT_ROWS):
        yield items[start : start + STATEMENT_ROWS]


def _check_limit(limit: int) -> None:
    """Reject a limit SQLite would read as "no limit" or "nothing"."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


def _row_of(tx: Transaction, columns: str, delivery_id: str) -> Any:
    """*columns* of one delivery, read (and on PostgreSQL locked) in the caller's transaction;
    ``KeyError`` when unknown."""
    row = tx.execute(
        f"SELECT {columns} FROM deliveries WHERE id = ?{tx.for_update}", (delivery_id,)
    ).fetchone()
    if row is None:
        raise KeyError(delivery_id)
    return row
