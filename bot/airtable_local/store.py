"""The embedded bases: schemas and records in SQLite, with every row also kept in memory.

``Store(path)`` opens a SQLite file (WAL mode) or ``":memory:"`` and loads everything into
memory. Reads are served from memory (:mod:`reading`); each write is made on working
copies (:mod:`rows`, :mod:`writing`), written to SQLite in one transaction, and applied to
memory only once that transaction has committed: a write that fails part-way (a bad value
in the ninth record of a batch) changes nothing. One lock serialises every operation, so a
store can be shared by the server's event loop and any number of threads.

Record fields are stored by field id, as JSON, so fields and tables can be renamed.
Links are kept in both directions, and deleting a record removes it from every link.

Each record also keeps when each of its fields last changed, for ``LAST_MODIFIED_TIME()``
in formulas. A commit stamps, with the time it is made, every field whose stored value it
changes, whichever way the change came: a field written, an inverse link gaining or losing
this record, a record deleted from a link, a schema change that clears or converts values.
A write that leaves a value as it was stamps nothing. A record created by a write has the
fields it is created with stamped with its creation time. A database file from before
these times were kept (no ``modified_times`` column) is migrated when it is opened: its
records count as last modified when they were created.

Public operations (``table`` is a table name or id; errors are
:class:`~bot.airtable_local.errors.AirtableError`, as Airtable would answer them):

- bases: ``create_base(base_id, spec, name=None)``, ``delete_base``, ``base_ids``,
  ``base_name``, ``table_names``, ``schema(base_id)`` (seed bases are made by
  :func:`bot.airtable_local.seeds.seed`); ``exclusive()`` holds the lock across calls;
- records: ``list_records``, ``get_record``, ``create_records``, ``update_records`` (batch,
  with upsert), ``update_record`` (one, by URL), ``delete_records``, ``delete_record``,
  ``all_records`` (every record of a table, for tests and tools);
- schema changes, for tests of the bot's ``check`` and for the metadata API's writes
  (:mod:`~bot.airtable_local.meta_routes`): ``rename_table``, ``rename_field``,
  ``add_table``, ``add_field``, ``describe_field``, ``remove_field``, ``change_field_type``,
  ``add_select_option``, ``remove_select_option``. These raise KeyError for unknown names
  and ValueError for changes that cannot be made;
- ``add_commit_listener(listener)``: call ``listener(CommitEvent)`` after every committed
  write (records created, changed or deleted, schema changes), once memory holds it, still
  under the lock; the event carries each touched record as it was before and after (the
  webhooks of :mod:`~bot.airtable_local.webhooks` are built on it). A listener that raises is
  logged and does not undo or fail the write.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.airtable_local import errors, reading, values, writing
from bot.airtable_local.query import ListQuery
from bot.airtable_local.rows import BaseState, Row, Txn
from bot.airtable_local.schema import (
    SELECT_TYPES,
    BaseSchema,
    Field,
    Table,
    build_base,
    is_record_id,
)

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_WRITE = 10
SQL_SCHEMA = """
CREATE TABLE IF NOT EXISTS bases (
    id TEXT PRIMARY KEY,
    schema TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    base_id TEXT NOT NULL,
    table_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_time TEXT NOT NULL,
    fields TEXT NOT NULL,
    modified_times TEXT,
    UNIQUE (base_id, id)
);
"""
# ``modified_times`` (JSON: field id to time) is NULL only in rows written before it existed.
MIGRATE_SQL = "ALTER TABLE records ADD COLUMN modified_times TEXT DEFAULT NULL"
UPSERT_BASE_SQL = (
    "INSERT INTO bases (id, schema) VALUES (?, ?)"
    " ON CONFLICT (id) DO UPDATE SET schema = excluded.schema"
)
UPSERT_ROW_SQL = (
    "INSERT INTO records (base_id, table_id, id, created_time, fields, modified_times)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (base_id, id) DO UPDATE SET table_id = excluded.table_id,"
    " fields = excluded.fields, modified_times = excluded.modified_times"
)


@dataclass
class UpdateResult:
    """What a batch update answers: the records, and which were created or updated (upsert)."""

    records: list[dict[str, Any]]
    created_ids: list[str]
    updated_ids: list[str]


@dataclass(frozen=True)
class RecordChange:
    """One record a commit touched: as it was before (None: created) and after (None: deleted)."""

    table_id: str
    record_id: str
    before: Row | None
    after: Row | None


@dataclass(frozen=True)
class CommitEvent:
    """A committed write: the base, its state now (read it only during the call), the records
    it touched and whether it changed the schema."""

    base_id: str
    state: BaseState
    changes: list[RecordChange]
    schema_changed: bool


CommitListener = Callable[[CommitEvent], None]


class Store:
    """Bases and their records, persisted in SQLite and served from memory; thread-safe."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        """Open (creating if needed) the SQLite database at ``path``, or an in-memory one."""
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SQL_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(records)")}
        if "modified_times" not in columns:
            self._conn.execute(MIGRATE_SQL)
        self._bases: dict[str, BaseState] = {}
        self._listeners: list[CommitListener] = []
        for base_id, spec in self._conn.execute("SELECT id, schema FROM bases"):
            self._bases[base_id] = BaseState(build_base(base_id, json.loads(spec)))
        rows = (
            "SELECT base_id, table_id, id, created_time, fields, modified_times"
            " FROM records ORDER BY seq"
        )
        for base_id, table_id, record_id, created_time, fields, times in self._conn.execute(rows):
            state = self._bases.get(base_id)
            if state is not None and table_id in state.rows:
                stored = json.loads(fields)
                # A row from before modification times were kept was last modified when created.
                modified = (
                    json.loads(times) if times is not None else dict.fromkeys(stored, created_time)
                )
                state.rows[table_id][record_id] = Row(record_id, created_time, stored, modified)

    def close(self) -> None:
        """Close the database; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` after every committed write (see the module docstring)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_commit_listener(self, listener: CommitListener) -> None:
        """Stop calling ``listener``; nothing happens if it was not added."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def __enter__(self) -> Store:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""
        self.close()

    # -- bases ---------------------------------------------------------------------------

    def exclusive(self) -> AbstractContextManager[Any]:
        """Hold the store's lock across several operations (it is re-entrant)."""
        return self._lock

    def create_base(self, base_id: str, spec: dict[str, Any], *, name: str | None = None) -> None:
        """Create an empty base from a schema spec (see :mod:`schema`); ValueError if invalid."""
        if not (base_id.startswith("app") and len(base_id) == 17 and base_id.isalnum()):
            raise ValueError(f"a base id is 'app' and 14 letters or digits, not {base_id!r}")
        schema = build_base(base_id, spec, name=name)
        with self._lock:
            if base_id in self._bases:
                raise ValueError(f"base {base_id} exists")
            self._write(base_id, schema, [], [])
            self._bases[base_id] = BaseState(schema)

    def delete_base(self, base_id: str) -> None:
        """Delete a base and all its records; KeyError if there is no such base."""
        with self._lock:
            if base_id not in self._bases:
                raise KeyError(base_id)
            self._transaction(
                lambda conn: (
                    conn.execute("DELETE FROM records WHERE base_id = ?", (base_id,)),
                    conn.execute("DELETE FROM bases WHERE id = ?", (base_id,)),
                )
            )
            del self._bases[base_id]

    def base_ids(self) -> list[str]:
        """The ids of all bases."""
        with self._lock:
            return list(self._bases)

    def base_name(self, base_id: str) -> str:
        """The name of a base."""
        with self._lock:
            return self._state(base_id).schema.name

    def table_names(self, base_id: str) -> list[str]:
        """The names of the base's tables, in order."""
        with self._lock:
            return [t.name for t in self._state(base_id).schema.tables]

    def schema(self, base_id: str, *, visible_field_ids: bool = False) -> dict[str, Any]:
        """The base's schema as ``GET /v0/meta/bases/{base}/tables`` answers it."""
        with self._lock:
            return self._state(base_id).schema.to_api(visible_field_ids=visible_field_ids)

    def _state(self, base_id: str) -> BaseState:
        state = self._bases.get(base_id)
        if state is None:
            raise errors.model_not_found()
        return state

    # -- reading -------------------------------------------------------------------------

    def list_records(
        self, base_id: str, table: str, query: ListQuery | None = None
    ) -> dict[str, Any]:
        """One page of records: ``{"records": [...], "offset": ...}`` (offset if more remain)."""
        query = query or ListQuery()
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            if query.view is not None and query.view not in ("Grid view", found.view_id):
                raise errors.AirtableError(
                    422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{query.view}"'
                )
            render = reading.renderer(
                state,
                found,
                by_field_id=query.by_field_id,
                only=query.fields,
                cell_format=query.cell_format,
            )
            rows: list[Row] = list(state.rows[found.id].values())
            if query.formula:
                rows = reading.filter_rows(state, found, rows, query.formula)
            if query.sort:
                rows = reading.sort_rows(state, found, rows, query.sort)
            return reading.page(rows, query, render)

    def get_record(
        self, base_id: str, table: str, record_id: str, *, by_field_id: bool = False
    ) -> dict[str, Any]:
        """One record of the table; 404 NOT_FOUND if the table has no such record."""
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            row = state.rows[found.id].get(record_id)
            if row is None:
                raise errors.not_found()
            return reading.renderer(state, found, by_field_id=by_field_id)(row)

    def all_records(self, base_id: str, table: str) -> list[dict[str, Any]]:
        """Every record of the table, by field name, in creation order (for tests and tools)."""
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            render = reading.renderer(state, found)
            return [render(row) for row in state.rows[found.id].values()]

    # -- writing -------------------------------------------------------------------------

    def create_records(
        self,
        base_id: str,
        table: str,
        records: list[dict[str, Any]],
        *,
        typecast: bool = False,
        by_field_id: bool = False,
        record_ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Create up to 10 records from their fields; all or none. ``record_ids`` fixes ids."""
        if not 1 <= len(records) <= MAX_RECORDS_PER_WRITE:
            raise errors.too_many_records(len(records), "created")
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            txn = Txn(state)
            created = []
            for index, fields in enumerate(records):
                fixed_id = record_ids[index] if record_ids else None
                if fixed_id is not None and not is_record_id(fixed_id):
                    raise ValueError(f"not a record id: {fixed_id!r}")
                row = txn.add(found.id, fixed_id)
                writing.apply_fields(txn, found, row, fields, typecast=typecast, replace=False)
                created.append(row.id)
            self._commit(base_id, state, txn)
            return self._render(state, found, created, by_field_id)

    def update_records(
        self,
        base_id: str,
        table: str,
        records: list[dict[str, Any]],
        *,
        replace: bool = False,
        typecast: bool = False,
        fields_to_merge_on: list[str] | None = None,
        by_field_id: bool = False,
    ) -> UpdateResult:
        """Update up to 10 records (``{"id", "fields"}``), or upsert them; all or none.

        ``replace`` (PUT) clears the fields a record does not give. With
        ``fields_to_merge_on``, a record without ``id`` updates the one record whose merge
        fields equal its own, is created if none does, and fails the request if several do.
        """
        if not 1 <= len(records) <= MAX_RECORDS_PER_WRITE:
            raise errors.too_many_records(len(records), "updated")
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            merge = (
                writing.merge_fields(found, fields_to_merge_on)
                if fields_to_merge_on is not None
                else None
            )
            txn = Txn(state)
            ids, created, updated = [], [], []
            for record in records:
                if not isinstance(record, dict) or set(record) - {"id", "fields"}:
                    raise errors.invalid_request()
                fields = record.get("fields")
                if fields is None:
                    raise errors.missing_field("fields")
                record_id = record.get("id")
                row: Row | None
                if record_id is not None:
                    if not isinstance(record_id, str):
                        raise errors.invalid_request("Record ids must be strings")
                    row = txn.edit(found.id, record_id)
                    if row is None:
                        raise errors.row_does_not_exist(record_id)
                    updated.append(row.id)
                elif merge is None:
                    raise errors.missing_field("id")
                else:
                    if not isinstance(fields, dict):
                        raise errors.invalid_request('"fields" must be an object')
                    row = writing.upsert_target(txn, found, merge, fields, typecast)
                    if row is None:
                        row = txn.add(found.id)
                        created.append(row.id)
                    else:
                        updated.append(row.id)
                writing.apply_fields(txn, found, row, fields, typecast=typecast, replace=replace)
                ids.append(row.id)
            self._commit(base_id, state, txn)
            return UpdateResult(
                self._render(state, found, ids, by_field_id),
                list(dict.fromkeys(created)),
                list(dict.fromkeys(updated)),
            )

    def update_record(
        self,
        base_id: str,
        table: str,
        record_id: str,
        fields: dict[str, Any],
        *,
        replace: bool = False,
        typecast: bool = False,
        by_field_id: bool = False,
    ) -> dict[str, Any]:
        """Update one record addressed by URL; 404 NOT_FOUND if the table has no such record."""
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            if record_id not in state.rows[found.id]:
                raise errors.not_found()
            result = self.update_records(
                base_id,
                found.id,
                [{"id": record_id, "fields": fields}],
                replace=replace,
                typecast=typecast,
                by_field_id=by_field_id,
            )
            return result.records[0]

    def delete_records(self, base_id: str, table: str, record_ids: list[str]) -> list[str]:
        """Delete up to 10 records of the table (removing them from every link); all or none."""
        if not 1 <= len(record_ids) <= MAX_RECORDS_PER_WRITE:
            raise errors.AirtableError(
                422, "INVALID_RECORDS", '"records" must be an array of up to 10 record IDs.'
            )
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            txn = Txn(state)
            for record_id in record_ids:
                if txn.get(found.id, record_id) is None:
                    raise errors.row_does_not_exist(record_id)
                writing.delete_row(txn, found, record_id)
            self._commit(base_id, state, txn)
            return list(record_ids)

    def delete_record(self, base_id: str, table: str, record_id: str) -> None:
        """Delete one record addressed by URL; 404 NOT_FOUND if the table has no such record."""
        with self._lock:
            state = self._state(base_id)
            found = state.table(table)
            if record_id not in state.rows[found.id]:
                raise errors.not_found()
            self.delete_records(base_id, found.id, [record_id])

    def _render(
        self, state: BaseState, table: Table, ids: list[str], by_field_id: bool
    ) -> list[dict[str, Any]]:
        table = state.schema.table_by_id(table.id)  # the commit may have replaced the schema
        render = reading.renderer(state, table, by_field_id=by_field_id)
        rows = state.rows[table.id]
        return [render(rows[record_id]) for record_id in ids]

    def _commit(
        self, base_id: str, state: BaseState, txn: Txn, schema: BaseSchema | None = None
    ) -> None:
        """Write the transaction (and a new schema) to SQLite, then, if that worked, to memory."""
        if txn.new_choices:
            schema = _clone(schema or state.schema)
            for field_id, choices in txn.new_choices.items():
                _, field = schema.field_by_id(field_id)
                field.choices.extend(choices)
        _stamp_changes(state, txn)
        upserts = []
        deletes = []
        for record_id, (table_id, row) in txn.touched.items():
            if row is None:
                deletes.append((base_id, record_id))
            else:
                fields = json.dumps(row.fields, ensure_ascii=False, separators=(",", ":"))
                times = json.dumps(row.modified, separators=(",", ":"))
                upserts.append((base_id, table_id, record_id, row.created_time, fields, times))
        self._write(base_id, schema, upserts, deletes)
        changes = [
            RecordChange(table_id, record_id, state.rows.get(table_id, {}).get(record_id), row)
            for record_id, (table_id, row) in txn.touched.items()
        ]
        if schema is not None:
            state.schema = schema
            for table in schema.tables:
                state.rows.setdefault(table.id, {})
        for record_id, (table_id, row) in txn.touched.items():
            if row is None:
                state.rows[table_id].pop(record_id, None)
            else:
                state.rows[table_id][record_id] = row
        event = CommitEvent(base_id, state, changes, schema_changed=schema is not None)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a commit listener failed on base %s", base_id)

    def _write(
        self,
        base_id: str,
        schema: BaseSchema | None,
        upserts: list[tuple[str, str, str, str, str, str]],
        deletes: list[tuple[str, str]],
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            if schema is not None:
                spec = json.dumps(schema.to_spec(), ensure_ascii=False)
                conn.execute(UPSERT_BASE_SQL, (base_id, spec))
            if deletes:
                conn.executemany("DELETE FROM records WHERE base_id = ? AND id = ?", deletes)
            if upserts:
                conn.executemany(UPSERT_ROW_SQL, upserts)

        self._transaction(write)

    def _transaction(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self._conn.execute("BEGIN")
        try:
            work(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    # -- schema changes (for tests) --------------------------------------------------------

    def rename_table(self, base_id: str, table: str, new_name: str) -> None:
        """Rename a table (its id, and so its records, stay)."""
        self._change_spec(base_id, lambda spec: _rename(spec["tables"], table, new_name))

    def rename_field(self, base_id: str, table: str, field: str, new_name: str) -> None:
        """Rename a field (its id, and so its values, stay)."""
        self._change_spec(
            base_id, lambda spec: _rename(_table_spec(spec, table)["fields"], field, new_name)
        )

    def add_field(self, base_id: str, table: str, spec: dict[str, Any]) -> str:
        """Add a field from a field spec (a link may name ``linkedTable``); its id."""
        schema = self._change_spec(
            base_id, lambda base_spec: _table_spec(base_spec, table)["fields"].append(dict(spec))
        )
        return _known_field(_known_table(schema, table), str(spec.get("name"))).id

    def add_table(self, base_id: str, spec: dict[str, Any]) -> str:
        """Add a table from a table spec (its links get their inverses, as Airtable adds
        them); its id. The metadata API's ``POST .../tables`` (:mod:`meta_routes`)."""
        schema = self._change_spec(base_id, lambda base_spec: base_spec["tables"].append(spec))
        return _known_table(schema, str(spec.get("name"))).id

    def describe_field(self, base_id: str, table: str, field: str, description: str | None) -> None:
        """Set (or, with None, clear) a field's description."""

        def change(spec: dict[str, Any]) -> None:
            for field_spec in _table_spec(spec, table)["fields"]:
                if field in (field_spec["name"], field_spec["id"]):
                    field_spec["description"] = description
                    return
            raise KeyError(field)

        self._change_spec(base_id, change)

    def remove_field(self, base_id: str, table: str, field: str) -> None:
        """Remove a field and its values (a link takes its inverse with it)."""
        with self._lock:
            found = _known_table(self._state(base_id).schema, table)
            removed = _known_field(found, field)
            if removed.id == found.primary_field_id:
                raise ValueError("the primary field cannot be removed")
            gone = {removed.id}
            if removed.inverse_field_id:
                gone.add(removed.inverse_field_id)
            self._change_spec(base_id, lambda spec: _drop_fields(spec, gone), drop_values=gone)

    def add_select_option(self, base_id: str, table: str, field: str, name: str) -> str:
        """Add an option to a select field; its id."""
        with self._lock:
            state = self._state(base_id)
            select = _known_field(_known_table(state.schema, table), field)
            if select.type not in SELECT_TYPES:
                raise ValueError(f"{select.name} is not a select field")
            txn = Txn(state)
            choice_id = txn.choice_id(select, name, typecast=True)
            self._commit(base_id, state, txn)
            return choice_id

    def remove_select_option(self, base_id: str, table: str, field: str, option: str) -> None:
        """Remove an option from a select field; cells holding it lose it, as in Airtable."""
        with self._lock:
            state = self._state(base_id)
            found = _known_table(state.schema, table)
            select = _known_field(found, field)
            choice = select.choice(option) if select.type in SELECT_TYPES else None
            if choice is None:
                raise KeyError(option)
            schema = _clone(state.schema)
            _, new_select = schema.field_by_id(select.id)
            new_select.choices = [c for c in new_select.choices if c.id != choice.id]
            txn = Txn(state)
            for row in list(txn.rows(found.id)):
                value = row.fields.get(select.id)
                if value == choice.id or (isinstance(value, list) and choice.id in value):
                    edited = txn.edit(found.id, row.id)
                    assert edited is not None
                    kept = [c for c in value if c != choice.id] if isinstance(value, list) else []
                    if kept:
                        edited.fields[select.id] = kept
                    else:
                        edited.fields.pop(select.id)
            self._commit(base_id, state, txn, schema)

    def change_field_type(
        self,
        base_id: str,
        table: str,
        field: str,
        new_type: str,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Change a field's type, converting values as Airtable would (or clearing them).

        Values are typecast into the new type, through their text if need be; a select
        gets an option for every value it receives. A link field loses its inverse.
        Converting *to* a link is not supported (ValueError).
        """
        if new_type == "multipleRecordLinks":
            raise ValueError("converting a field to a link is not supported")
        with self._lock:
            state = self._state(base_id)
            found = _known_table(state.schema, table)
            old = _known_field(found, field)
            gone = {old.inverse_field_id} if old.inverse_field_id else set()
            names = reading.link_names(state, old)
            spec = state.schema.to_spec()
            _drop_fields(spec, gone)
            for field_spec in _table_spec(spec, found.id)["fields"]:
                if field_spec["id"] == old.id:
                    field_spec.update(type=new_type, options=dict(options or {}))
            schema = build_base(base_id, spec, name=state.schema.name)
            new_field = _known_field(schema.table_by_id(found.id), old.id)
            txn = Txn(state)
            for row in list(txn.rows(found.id)):
                if old.id in row.fields:
                    edited = txn.edit(found.id, row.id)
                    assert edited is not None
                    value = edited.fields.pop(old.id)
                    converted = writing.convert(txn, old, new_field, value, names)
                    if converted is not None:
                        edited.fields[old.id] = converted
            _drop_values(txn, gone)
            for field_id, choices in txn.new_choices.items():
                schema.field_by_id(field_id)[1].choices.extend(choices)
            txn.new_choices.clear()
            self._commit(base_id, state, txn, schema)

    def _change_spec(
        self,
        base_id: str,
        change: Callable[[dict[str, Any]], Any],
        drop_values: Iterable[str] = (),
    ) -> BaseSchema:
        with self._lock:
            state = self._state(base_id)
            spec = state.schema.to_spec()
            change(spec)
            schema = build_base(base_id, spec, name=state.schema.name)
            txn = Txn(state)
            _drop_values(txn, set(drop_values))
            self._commit(base_id, state, txn, schema)
            return schema


def _stamp_changes(state: BaseState, txn: Txn) -> None:
    """Stamp the fields whose values the transaction changes (see the module docstring)."""
    now = values.format_datetime(datetime.now(UTC))
    for record_id, (table_id, row) in txn.touched.items():
        if row is None:
            continue
        before = state.rows[table_id].get(record_id)
        if before is None:
            row.stamp(row.fields, row.created_time)
            continue
        old, new = before.fields, row.fields
        changed = [key for key in old.keys() | new.keys() if old.get(key) != new.get(key)]
        if changed:
            row.stamp(changed, now)


def _clone(schema: BaseSchema) -> BaseSchema:
    return build_base(schema.id, schema.to_spec(), name=schema.name)


def _drop_fields(spec: dict[str, Any], field_ids: set[str]) -> None:
    for table_spec in spec["tables"]:
        table_spec["fields"] = [f for f in table_spec["fields"] if f["id"] not in field_ids]


def _drop_values(txn: Txn, field_ids: set[str]) -> None:
    if not field_ids:
        return
    for table in txn.state.schema.tables:
        for row in list(txn.rows(table.id)):
            if field_ids & row.fields.keys():
                edited = txn.edit(table.id, row.id)
                assert edited is not None
                for field_id in field_ids:
                    edited.fields.pop(field_id, None)


def _table_spec(spec: dict[str, Any], table: str) -> dict[str, Any]:
    for table_spec in spec["tables"]:
        if table in (table_spec["name"], table_spec["id"]):
            return table_spec
    raise KeyError(table)


def _rename(items: list[dict[str, Any]], name_or_id: str, new_name: str) -> None:
    for item in items:
        if name_or_id in (item["name"], item["id"]):
            item["name"] = new_name
            return
    raise KeyError(name_or_id)


def _known_table(schema: BaseSchema, name: str) -> Table:
    table = schema.table(name)
    if table is None:
        raise KeyError(name)
    return table


def _known_field(table: Table, name: str) -> Field:
    field = table.field(name)
    if field is None:
        raise KeyError(name)
    return field
