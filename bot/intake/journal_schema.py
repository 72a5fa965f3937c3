"""The journal's SQLite file: its schema, the versioned migrations, and the one connection.

:class:`JournalFile` opens (creating or migrating) the file in WAL mode and guards its one
connection with a lock; the journal's stores build on it: the key/value state in
:mod:`bot.intake.journal_state`, the delivery queue in :mod:`bot.intake.journal`.

A schema change is a new entry at the end of :data:`MIGRATIONS` and a higher
:data:`SCHEMA_VERSION`; a journal written by a newer bot is refused, not guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Self

SCHEMA_VERSION: Final = 3
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
    """
    CREATE TABLE airtable_hooks (
        base_id         TEXT PRIMARY KEY,
        webhook_id      TEXT,           -- NULL once deleted (the row keeps following_since)
        mac_secret      TEXT,           -- macSecretBase64, as Airtable gave it
        cursor          INTEGER NOT NULL DEFAULT 1,
        expires_at      TEXT,           -- ISO 8601, as Airtable gave it
        following_since REAL NOT NULL,  -- when the bot first followed the base
        created_at      REAL,
        last_payload_at REAL,
        last_listed_at  REAL,
        last_error      TEXT,
        last_error_at   REAL,
        gap_since       REAL            -- a replaced hook: changes since then may be missed
    );
    """,
)

# An upsert into the meta table: (key, value).
SET_META: Final = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class JournalFile:
    """One journal file: the migrated schema, one connection, its lock and transactions.

    Synchronous and thread-safe. Usable as a context manager that closes it.
    """

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

    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """Every row of one query, under the lock."""
        with self._lock:
            return self._conn.execute(sql, parameters).fetchall()

    def _read_one(self, sql: str, parameters: tuple[Any, ...] = ()) -> Any:
        """The first row of one query (None when there is none), under the lock."""
        with self._lock:
            return self._conn.execute(sql, parameters).fetchone()

    def __enter__(self) -> Self:
        """Use the journal as a context manager; it is closed on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the journal."""
        self.close()

    def check_writable(self) -> str | None:
        """For /readyz: None when a write transaction commits, else the reason it did not.

        Also not writable: a journal file removed or replaced since it was opened. SQLite
        keeps writing to the unlinked file and the deliveries would be lost at the next start.
        """
        try:
            with self._write() as conn:
                conn.execute(SET_META, ("write_checked_at", str(time.time())))
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

    def close(self) -> None:
        """Close the connection; calling it again does nothing. Later calls raise."""
        with self._lock:
            self._conn.close()
