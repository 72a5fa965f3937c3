"""One interface over the two databases the bot can keep its state in: SQLite and PostgreSQL.

The code above writes SQL once, with ``?`` placeholders and the syntax both understand
(``INSERT … ON CONFLICT … DO NOTHING``, ``RETURNING``), and asks the database only for what
differs:

- :meth:`Database.write` is one transaction, committed on success and rolled back on error.
  On SQLite it is ``BEGIN IMMEDIATE`` on the one connection (so the whole file is locked for
  its few microseconds); on PostgreSQL it is a transaction on a pooled connection
  (psycopg 3 and psycopg-pool), which locks only the rows it touches.
- :meth:`Transaction.lock` serialises transactions that read, decide and write on one name:
  ``pg_advisory_xact_lock`` on PostgreSQL (held to the end of the transaction, across every
  process on the database), nothing on SQLite (``BEGIN IMMEDIATE`` already serialises).
- :meth:`Database.migrate` brings a versioned list of migrations up to date, once, even when
  several processes start together.
- :attr:`Database.insertion_order` names the column that orders rows as they were inserted.

Lock names and notification channels are scoped by the PostgreSQL schema the connections
use (``search_path``), so two bots (or two test runs) on one server never block each other.
:attr:`Database.round_trips` counts the statements sent, for the benchmarks.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Protocol

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bot.config import is_postgres_url, redacted

# Every error a database operation can raise: a locked, full or read-only SQLite file, a
# PostgreSQL server that is down, refuses or times out (PoolTimeout is an OperationalError).
STORE_ERRORS: Final = (sqlite3.Error, psycopg.Error)
# How long a journal transaction may sit idle before the server ends it (see the pool).
IDLE_IN_TRANSACTION_SECONDS: Final = 10
# How long a PostgreSQL operation waits for a pooled connection, and the first connection.
POOL_TIMEOUT_SECONDS: Final = 10.0


def with_settings(url: str, **settings: str) -> str:
    """*url* as a connection string whose sessions also get these server *settings*
    (``-c name=value`` added to the ``options`` it may already carry, such as a
    ``search_path``)."""
    params = conninfo_to_dict(url)
    extra = " ".join(f"-c {name}={value}" for name, value in settings.items())
    params["options"] = f"{params.get('options') or ''} {extra}".strip()
    return make_conninfo("", **params)


def lock_key(scope: str, name: str) -> int:
    """The 64-bit advisory lock key of *name* within *scope* (a signed bigint)."""
    digest = hashlib.blake2b(f"{scope}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@functools.lru_cache(maxsize=512)
def _postgres_sql(sql: str) -> str:
    """*sql* with psycopg's placeholders: ``?`` becomes ``%s`` (no literal ``%`` is used)."""
    if "%" in sql:
        raise ValueError(f"a literal % in SQL is not supported: {sql!r}")
    return sql.replace("?", "%s")


class Cursor(Protocol):
    """What a statement's result offers, on both databases."""

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        ...


class Transaction:
    """One open transaction: run statements, lock names, notify listeners."""

    def __init__(self, database: Database, connection: Any) -> None:
        self._database = database
        self._connection = connection

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._database.dialect

    @property
    def for_update(self) -> str:
        """The suffix that locks the rows a SELECT reads until the transaction ends."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders; its cursor."""
        self._database.count_round_trip()
        if self.dialect == "postgresql":
            return self._connection.execute(_postgres_sql(sql), parameters)
        return self._connection.execute(sql, parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row (nothing for no rows)."""
        if not rows:
            return
        self._database.count_round_trip()
        if self.dialect == "postgresql":
            with self._connection.cursor() as cursor:
                cursor.executemany(_postgres_sql(sql), rows)
        else:
            self._connection.executemany(sql, rows)

    def lock(self, name: str) -> None:
        """Hold the lock *name* until this transaction ends, for every process on the
        database (PostgreSQL); on SQLite the transaction already excludes every other."""
        if self.dialect == "postgresql":
            self.execute("SELECT pg_advisory_xact_lock(?)", (self._database.lock_key(name),))

    def notify(self) -> None:
        """Wake the processes listening on the database once this transaction commits
        (PostgreSQL's NOTIFY; nothing on SQLite, whose one process wakes itself)."""
        if self.dialect == "postgresql":
            self.execute("SELECT pg_notify(?, '')", (self._database.channel,))


class Database:
    """The part both backends share; see the module docstring."""

    dialect: str
    insertion_order: str
    description: str  # for messages: the file, or the URL without its password

    def __init__(self) -> None:
        self._counted = 0
        self._count_lock = threading.Lock()
        self._scope = ""

    def count_round_trip(self, count: int = 1) -> None:
        """Count *count* statements sent to the database."""
        with self._count_lock:
            self._counted += count

    @property
    def round_trips(self) -> int:
        """Statements sent so far (transaction control included on PostgreSQL)."""
        return self._counted

    def lock_key(self, name: str) -> int:
        """The advisory lock key of *name* within this database's schema."""
        return lock_key(self._scope, name)

    @property
    def channel(self) -> str:
        """The NOTIFY channel of this database's schema."""
        return f"deliverables_bot_{lock_key(self._scope, 'channel') & 0xFFFFFFFF:08x}"

    def write(self) -> Any:
        """A transaction (a context manager yielding a :class:`Transaction`)."""
        raise NotImplementedError

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """Every row of one query."""
        raise NotImplementedError

    def read_one(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        """The first row of one query, None when there is none."""
        rows = self.read(sql, parameters)
        return rows[0] if rows else None

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Apply the migrations of *component* not applied yet, in one transaction.

        ``migrations[n]`` takes the schema from version n to n + 1. Raises ``RuntimeError``
        when the database holds a newer version than this bot knows.
        """
        raise NotImplementedError

    def schema_version(self, component: str) -> int:
        """The version of *component*'s schema in the database (0 before any)."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the connections; later calls raise."""
        raise NotImplementedError


def _newer(component: str, where: str, version: int, known: int) -> RuntimeError:
    return RuntimeError(
        f"{component} in {where} has schema version {version}; this bot knows up to {known}:"
        " upgrade the bot, or point it at another database"
    )


class SqliteDatabase(Database):
    """A SQLite file in WAL mode, one connection guarded by a lock; thread-safe."""

    dialect = "sqlite"
    insertion_order = "rowid"

    def __init__(self, path: Path | str, *, timeout: float = 5.0) -> None:
        """Open (creating its folder) the file at *path*, ``":memory:"`` for a test one.

        *timeout* is how long a write waits for another connection to let go of the file
        before ``sqlite3.OperationalError: database is locked``.
        """
        super().__init__()
        self.path = str(path)
        self.description = self.path
        self._lock = threading.Lock()
        self._file_id: tuple[int, int] | None = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; write() opens its own.
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # WAL with synchronous=NORMAL: a commit is in the WAL file (in the OS page cache)
            # before it returns, so it survives the process being killed at any point; only a
            # power loss or an OS crash can undo the last few commits, and the database stays
            # consistent even then. No fsync per delivery keeps a journal write fast enough for
            # the event loop; only the commit that triggers a WAL checkpoint syncs.
            # https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            if self.path != ":memory:":
                st = os.stat(self.path)
                self._file_id = (st.st_dev, st.st_ino)
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` under the lock; rolled back on an error."""
        with self._lock:
            # BEGIN IMMEDIATE takes SQLite's write lock now, so a read-then-write cannot
            # interleave with another connection's write.
            self.count_round_trip()
            self._conn.execute("BEGIN IMMEDIATE")
            with self._conn:  # commits, or rolls back on an exception or a failed commit
                yield Transaction(self, self._conn)

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """Every row of one query, under the lock."""
        with self._lock:
            self.count_round_trip()
            return self._conn.execute(sql, parameters).fetchall()

    def schema_version(self, component: str) -> int:
        """The file's ``user_version`` (a SQLite file holds one component)."""
        return int(self.read_one("PRAGMA user_version")[0])

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Apply the missing migrations and set ``user_version``, in one transaction."""
        with self.write() as tx:
            version = int(tx.execute("PRAGMA user_version").fetchone()[0])
            if version > len(migrations):
                raise _newer(component, self.path, version, len(migrations))
            for step in range(version, len(migrations)):
                for statement in migrations[step].split(";"):
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version={len(migrations)}")

    def replaced(self) -> str | None:
        """Why the file opened is no longer the one at its path (removed or replaced: SQLite
        would go on writing to the unlinked file), or None."""
        if self._file_id is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return f"{self.path} was removed: {exc.strerror}"
        if (st.st_dev, st.st_ino) != self._file_id:
            return f"{self.path} was replaced by another file"
        return None

    def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        with self._lock:
            self._conn.close()


class PostgresDatabase(Database):
    """A PostgreSQL database through a pool of psycopg 3 connections; thread-safe.

    The connections are in autocommit mode, so a read is one statement and holds no
    transaction open; :meth:`write` opens one explicitly. A connection broken by a server
    restart is found when it is taken from the pool, and replaced.
    """

    dialect = "postgresql"
    insertion_order = "seq"

    def __init__(
        self,
        url: str,
        *,
        max_size: int = 8,
        timeout: float = POOL_TIMEOUT_SECONDS,
        name: str = "deliverables-bot",
    ) -> None:
        """Connect to *url*; ``psycopg.OperationalError`` (with the server's reason) when no
        connection can be made within *timeout* seconds."""
        super().__init__()
        self.url = url
        self.description = redacted(url)
        # One direct connection first: a server that refuses is reported at once, with its
        # reason, rather than after the pool has retried for the whole timeout.
        try:
            psycopg.connect(url, connect_timeout=max(1, int(timeout))).close()
        except psycopg.Error as exc:
            raise psycopg.OperationalError(
                f"cannot connect to {self.description}: {_first_line(exc)}"
            ) from None
        self._pool = psycopg_pool.ConnectionPool(
            # A journal or budget transaction is a few statements in a row; one left idle
            # this long belongs to a frozen process (a paused VM, a stopped container) and
            # the server ends it, so that its row and advisory locks (the claim lock) do not
            # block every other replica.
            with_settings(
                url, idle_in_transaction_session_timeout=f"{IDLE_IN_TRANSACTION_SECONDS}s"
            ),
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, int(timeout)),
            },
            # Each connection is checked as it is taken (an empty query): after a server
            # restart or a failover the dead ones are replaced, instead of failing a write
            # (and refusing a delivery) once each.
            check=self._check_connection,
            name=name,
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise psycopg.OperationalError(_unreachable(url, timeout)) from None
        row = self.read_one("SELECT current_schema()")
        if row is None or row[0] is None:
            self._pool.close()
            raise psycopg.OperationalError(
                f"{self.description}: no schema to create tables in (search_path names none"
                " that exists)"
            )
        self.schema = str(row[0])
        self._scope = self.schema

    def _check_connection(self, conn: psycopg.Connection[Any]) -> None:
        """The pool's check of a connection it hands out (counted as a round trip)."""
        self.count_round_trip()
        psycopg_pool.ConnectionPool.check_connection(conn)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A transaction on a pooled connection; committed on success, else rolled back."""
        with self._pool.connection() as conn, conn.transaction():
            self.count_round_trip(2)  # BEGIN and COMMIT
            yield Transaction(self, conn)

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """Every row of one query, on a pooled connection."""
        with self._pool.connection() as conn:
            self.count_round_trip()
            return conn.execute(_postgres_sql(sql), parameters).fetchall()

    def schema_version(self, component: str) -> int:
        """The version recorded for *component* (0 when the table or its row is missing)."""
        exists = self.read_one("SELECT to_regclass('schema_versions')")
        if exists is None or exists[0] is None:
            return 0
        row = self.read_one("SELECT version FROM schema_versions WHERE component = ?", (component,))
        return 0 if row is None else int(row[0])

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Apply the missing migrations under an advisory lock, so that replicas starting
        together migrate once; PostgreSQL's DDL is transactional, so a failure leaves none."""
        with self.write() as tx:
            tx.lock(f"migrate:{component}")
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions"
                " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = tx.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            version = 0 if row is None else int(row[0])
            if version > len(migrations):
                raise _newer(component, self.description, version, len(migrations))
            for step in range(version, len(migrations)):
                tx.execute(migrations[step])
            tx.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?, ?)"
                " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )

    def connection(self) -> Any:
        """A pooled connection as a context manager (for the cross-replica locks)."""
        return self._pool.connection()

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()


def _unreachable(url: str, timeout: float) -> str:
    """Why the pool could not connect to *url* although a first connection was made."""
    return f"cannot connect to {redacted(url)} within {timeout:.0f} s"


def _first_line(exc: BaseException) -> str:
    """An error's message, its first line only (libpq's run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_database(location: str | os.PathLike[str], *, timeout: float = 5.0) -> Database:
    """The database at *location*: a PostgreSQL URL, else a SQLite file path."""
    if is_postgres_url(location):
        return PostgresDatabase(str(location))
    return SqliteDatabase(os.fspath(location), timeout=timeout)
