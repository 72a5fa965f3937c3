"""The journal's database: its schema, the versioned migrations of each backend, the store.

:class:`JournalFile` opens (creating or migrating) the journal on a SQLite file (the
embedded default, in WAL mode) or, given a ``postgresql://`` URL, on PostgreSQL, through the
one interface of :mod:`bot.storage.database`; the journal's stores build on it: the
key/value state in :mod:`bot.intake.journal_state`, the delivery queue in
:mod:`bot.intake.journal`.

A schema change is a new entry at the end of :data:`MIGRATIONS` (SQLite) and of
:data:`POSTGRES_MIGRATIONS`; a journal written by a newer bot is refused, not guessed at.
PostgreSQL's schema holds what several replicas share beyond SQLite's: the per-base request
budget, the replicas' heartbeats, and which replica claimed each delivery.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Self

from bot.storage.database import (
    STORE_ERRORS,
    Database,
    SqliteDatabase,
    Transaction,
    open_database,
)

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

# The SQLite journal's user_version once migrated.
SCHEMA_VERSION: Final = len(MIGRATIONS)
COMPONENT: Final = "journal"
# POSTGRES_MIGRATIONS[n] takes a PostgreSQL schema from version n to n + 1; append, never
# edit. Version 1 is SQLite's version 3 plus what replicas share.
POSTGRES_MIGRATIONS: Final = (
    """
    CREATE TABLE deliveries (
        id              TEXT PRIMARY KEY,
        seq             BIGINT GENERATED ALWAYS AS IDENTITY,
        event           TEXT NOT NULL,
        action          TEXT,
        payload         BYTEA NOT NULL,  -- zlib-compressed JSON
        received_at     DOUBLE PRECISION NOT NULL,
        state           TEXT NOT NULL CHECK (state IN
                            ('pending', 'processing', 'done', 'failed', 'ignored')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL,
        last_error      TEXT,
        issue_key       TEXT,
        claimed_by      TEXT             -- the replica working on it (state processing)
    );
    CREATE INDEX deliveries_state_due ON deliveries (state, next_attempt_at);
    CREATE INDEX deliveries_received ON deliveries (received_at);
    CREATE INDEX deliveries_processing_issue ON deliveries (issue_key)
        WHERE state = 'processing';
    CREATE TABLE watermarks (
        issue_key  TEXT PRIMARY KEY,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE not_visible (
        issue_key  TEXT PRIMARY KEY,
        url        TEXT NOT NULL,
        repository TEXT NOT NULL,
        first_seen DOUBLE PRECISION NOT NULL,
        last_seen  DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE airtable_hooks (
        base_id         TEXT PRIMARY KEY,
        webhook_id      TEXT,
        mac_secret      TEXT,
        cursor          INTEGER NOT NULL DEFAULT 1,
        expires_at      TEXT,
        following_since DOUBLE PRECISION NOT NULL,
        created_at      DOUBLE PRECISION,
        last_payload_at DOUBLE PRECISION,
        last_listed_at  DOUBLE PRECISION,
        last_error      TEXT,
        last_error_at   DOUBLE PRECISION,
        gap_since       DOUBLE PRECISION
    );
    CREATE TABLE airtable_budget (
        base_id      TEXT PRIMARY KEY,
        booked_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        paused_until DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE TABLE replicas (
        id           TEXT PRIMARY KEY,  -- host, process and a random part
        started_at   DOUBLE PRECISION NOT NULL,
        heartbeat_at DOUBLE PRECISION NOT NULL
    )
    """,
    """
    CREATE TABLE lock_holders (
        name   TEXT PRIMARY KEY,  -- a decision's lock (a Project, an Engagement)
        holder TEXT NOT NULL,      -- the replica that last decided under it
        state  TEXT                -- JSON: what it decided from (a Project's view), or NULL
    )
    """,
)
# The tables a migrated PostgreSQL journal has (for `check`).
POSTGRES_TABLES: Final = (
    "deliveries", "watermarks", "meta", "not_visible", "airtable_hooks", "airtable_budget",
    "replicas", "lock_holders",
)  # fmt: skip


def inspect_postgres(url: str) -> tuple[bool, str]:
    """Whether the PostgreSQL database at *url* is ready for the bot, and what was found:
    reachable, its schema migrated to this bot's version, every table present. Creates and
    changes nothing (``serve`` migrates at start). Raises one of
    :data:`~bot.storage.database.STORE_ERRORS` when it cannot be reached."""
    from bot.storage.database import PostgresDatabase

    database = PostgresDatabase(url, max_size=1)
    try:
        where = f"{database.description} (schema {database.schema})"
        version = database.schema_version(COMPONENT)
        known = len(POSTGRES_MIGRATIONS)
        if version == 0:
            return False, f"{where} is reachable but has no tables yet: `serve` creates them"
        if version > known:
            return False, (
                f"{where} has schema version {version}, newer than this bot's {known}:"
                " upgrade the bot"
            )
        missing = [
            table
            for table in POSTGRES_TABLES
            if database.read_one("SELECT to_regclass(?)", (table,))[0] is None
        ]
        if missing:
            return False, f"{where} lacks the tables {', '.join(missing)}"
        if version < known:
            return False, (
                f"{where} has schema version {version} of {known}: `serve` migrates it at start"
            )
        server = database.read_one("SHOW server_version")[0]
        return True, f"{where}: PostgreSQL {server}, schema version {version}, every table there"
    finally:
        database.close()


# An upsert into the meta table: (key, value).
SET_META: Final = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class JournalFile:
    """The journal's database, migrated: a SQLite file or a PostgreSQL schema.

    Synchronous and thread-safe. Usable as a context manager that closes it.
    """

    def __init__(self, location: Path | str | Database, *, timeout: float = 5.0) -> None:
        """Open (creating or migrating) the journal at *location*: a file path (its folder is
        created; ``":memory:"`` for a test one), a ``postgresql://`` URL, or an open
        :class:`~bot.storage.database.Database` (closed with the journal).

        *timeout* is how long a SQLite write waits for another connection (an operator's
        CLI on the same file) before ``sqlite3.OperationalError: database is locked``.
        Raises ``RuntimeError`` for a journal written by a newer version of the bot, and one
        of :data:`~bot.storage.database.STORE_ERRORS` when the database cannot be used.
        """
        if isinstance(location, Database):
            self.database = location
        else:
            self.database = open_database(
                location if isinstance(location, str) else str(location), timeout=timeout
            )
        try:
            if self.database.dialect == "postgresql":
                self.database.migrate(COMPONENT, POSTGRES_MIGRATIONS)
            else:
                self.database.migrate(COMPONENT, MIGRATIONS)
        except BaseException:
            self.database.close()
            raise

    @property
    def is_shared(self) -> bool:
        """Whether several processes (replicas) may work on this journal: PostgreSQL."""
        return self.database.dialect == "postgresql"

    @property
    def description(self) -> str:
        """Where the journal is, for messages (a file path, or a URL without its password)."""
        return self.database.description

    @contextmanager
    def _write(self) -> Iterator[Transaction]:
        """A write transaction: committed on success, rolled back on error."""
        with self.database.write() as tx:
            yield tx

    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """Every row of one query."""
        return self.database.read(sql, parameters)

    def _read_one(self, sql: str, parameters: tuple[Any, ...] = ()) -> Any:
        """The first row of one query (None when there is none)."""
        return self.database.read_one(sql, parameters)

    def __enter__(self) -> Self:
        """Use the journal as a context manager; it is closed on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the journal."""
        self.close()

    def check_writable(self) -> str | None:
        """For /readyz: None when a write transaction commits, else the reason it did not.

        Also not writable: a SQLite journal file removed or replaced since it was opened.
        SQLite keeps writing to the unlinked file and the deliveries would be lost at the
        next start.
        """
        try:
            with self._write() as tx:
                tx.execute(SET_META, ("write_checked_at", str(time.time())))
        except STORE_ERRORS as exc:
            return f"journal {self.description} is not writable: {_first_line(exc)}"
        if isinstance(self.database, SqliteDatabase):
            replaced = self.database.replaced()
            if replaced is not None:
                return f"journal {replaced}"
        return None

    def close(self) -> None:
        """Close the database; calling it again does nothing. Later calls raise."""
        self.database.close()


def _first_line(exc: BaseException) -> str:
    """An error's message, its first line only (PostgreSQL's can run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
