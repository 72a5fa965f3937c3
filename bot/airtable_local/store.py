"""The embedded base's data: schemas and records in SQLite, with a copy of every row in memory.

``Store(path)`` opens a SQLite file (WAL mode) or ``":memory:"``; everything in it is loaded
into memory, reads are served from memory, and each write is one SQLite transaction that
is applied to memory only once it has committed. A write that fails part-way (a bad value
in the ninth record of a batch) changes nothing. One lock serialises all operations, so a
store can be shared by the server's event loop and any number of threads.

Record fields are stored by field id (as JSON), so fields and tables can be renamed. Links
are kept in both directions: writing a link field updates the inverse field of every record
added or removed, and deleting a record removes it from every link.

Public operations (``table`` is a table name or id; errors are
:class:`~bot.airtable_local.errors.AirtableError`, answered as Airtable would):

- bases: ``seed(name, base_id=None)``, ``create_base(base_id, spec, name=None)``,
  ``delete_base``, ``base_ids``, ``base_name``, ``schema(base_id)``;
- records: ``list_records``, ``get_record``, ``create_records``, ``update_records`` (batch,
  with upsert), ``update_record`` (one, by URL), ``delete_records``, ``delete_record``,
  ``all_records`` (every record of a table, for tests);
- schema changes (for tests of the bot's ``check``): ``rename_table``, ``rename_field``,
  ``add_field``, ``remove_field``, ``change_field_type``, ``add_select_option``,
  ``remove_select_option``. These raise KeyError for unknown names and ValueError for
  changes that cannot be made.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from bot.airtable_local import errors, seeds, values
from bot.airtable_local.formula import CompiledFormula, FormulaError, compile_formula
from bot.airtable_local.query import ListQuery
from bot.airtable_local.schema import (
    CHOICE_COLORS,
    NUMBER_TYPES,
    SELECT_TYPES,
    TEXT_TYPES,
    BaseSchema,
    Choice,
    Field,
    Table,
    build_base,
    is_record_id,
    new_id,
)

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_WRITE = 10
MERGEABLE_TYPES = TEXT_TYPES | NUMBER_TYPES | SELECT_TYPES | {"date", "dateTime"}
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
    UNIQUE (base_id, id)
);
"""
UPSERT_ROW_SQL = (
    "INSERT INTO records (base_id, table_id, id, created_time, fields) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (base_id, id) DO UPDATE SET table_id = excluded.table_id,"
    " fields = excluded.fields"
)

compile_cached = functools.lru_cache(maxsize=512)(compile_formula)


class Row:
    """One record as stored: id, creation time and fields by field id (empty cells absent).

    A committed row is never changed in place: a write edits a copy and swaps it in.
    """

    __slots__ = ("created_time", "fields", "id")

    def __init__(self, record_id: str, created_time: str, fields: dict[str, Any]) -> None:
        """A row; ``fields`` maps field ids to stored values (see :mod:`values`)."""
        self.id = record_id
        self.created_time = created_time
        self.fields = fields

    def copy(self) -> Row:
        """A copy whose fields can be edited (values themselves are replaced, not mutated)."""
        return Row(self.id, self.created_time, dict(self.fields))


@dataclass
class UpdateResult:
    """What a batch update answers: the records, and which were created or updated by upsert."""

    records: list[dict[str, Any]]
    created_ids: list[str]
    updated_ids: list[str]


class _BaseState:
    """A base in memory: its schema and its rows, by table id then record id."""

    def __init__(self, schema: BaseSchema) -> None:
        self.schema = schema
        self.rows: dict[str, dict[str, Row]] = {t.id: {} for t in schema.tables}

    def table(self, name_or_id: str) -> Table:
        table = self.schema.table(name_or_id)
        if table is None:
            raise errors.model_not_found()
        return table

    def has_record(self, record_id: str) -> bool:
        return any(record_id in rows for rows in self.rows.values())


class _Txn:
    """The rows one write touches, as working copies, and the select options it adds."""

    def __init__(self, state: _BaseState) -> None:
        self.state = state
        self.touched: dict[str, tuple[str, Row | None]] = {}
        self.new_choices: dict[str, list[Choice]] = {}

    def get(self, table_id: str, record_id: str) -> Row | None:
        """The row as this write sees it, or None if it does not exist (or was deleted)."""
        hit = self.touched.get(record_id)
        if hit is not None:
            return hit[1] if hit[0] == table_id else None
        return self.state.rows[table_id].get(record_id)

    def edit(self, table_id: str, record_id: str) -> Row | None:
        """A working copy of the row to change, or None if it does not exist."""
        hit = self.touched.get(record_id)
        if hit is not None:
            return hit[1] if hit[0] == table_id else None
        committed = self.state.rows[table_id].get(record_id)
        if committed is None:
            return None
        row = committed.copy()
        self.touched[record_id] = (table_id, row)
        return row

    def add(
        self, table_id: str, fields: dict[str, Any] | None = None, record_id: str | None = None
    ) -> Row:
        """A new row in the table, with a fresh id unless one is given."""
        if record_id is None:
            record_id = new_id("rec")
            while record_id in self.touched or self.state.has_record(record_id):
                record_id = new_id("rec")  # pragma: no cover - 62**14 ids
        elif record_id in self.touched or self.state.has_record(record_id):
            raise ValueError(f"record id {record_id} is taken")
        row = Row(record_id, values.format_datetime(datetime.now(UTC)), fields or {})
        self.touched[record_id] = (table_id, row)
        return row

    def delete(self, table_id: str, record_id: str) -> None:
        """Mark the row deleted."""
        self.touched[record_id] = (table_id, None)

    def rows(self, table_id: str) -> Iterator[Row]:
        """Every row of the table as this write sees it, in order (new rows last)."""
        committed = self.state.rows[table_id]
        for record_id, row in committed.items():
            hit = self.touched.get(record_id)
            if hit is None:
                yield row
            elif hit[1] is not None:
                yield hit[1]
        for record_id, (hit_table, hit_row) in list(self.touched.items()):
            if hit_table == table_id and hit_row is not None and record_id not in committed:
                yield hit_row

    def choice_id(self, field: Field, name: str, typecast: bool) -> str:
        """The id of the field's option ``name``; with typecast a missing option is added."""
        existing = field.choice(name)
        if existing is not None:
            return existing.id
        pending = self.new_choices.setdefault(field.id, [])
        for choice in pending:
            if choice.name == name:
                return choice.id
        if not typecast:
            raise errors.invalid_select_option(name)
        color = CHOICE_COLORS[(len(field.choices) + len(pending)) % len(CHOICE_COLORS)]
        choice = Choice(new_id("sel"), name, color)
        pending.append(choice)
        return choice.id


class _FormulaContext:
    """What a compiled formula reads for one record (see ``formula.py``); reused row to row."""

    __slots__ = ("_getters", "_resolve", "created_time", "record_id", "row")

    def __init__(self, resolve: Callable[[str], Callable[[Row], Any]]) -> None:
        self._resolve = resolve
        self._getters: dict[str, Callable[[Row], Any]] = {}
        self.row = Row("", "", {})
        self.record_id = ""
        self.created_time = ""

    def set_row(self, row: Row) -> None:
        self.row = row
        self.record_id = row.id
        self.created_time = row.created_time

    def value(self, field_name: str) -> Any:
        """The value of a field of the current record, in the form formulas expect."""
        getter = self._getters.get(field_name)
        if getter is None:
            getter = self._getters[field_name] = self._resolve(field_name)
        return getter(self.row)


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
        self._bases: dict[str, _BaseState] = {}
        self._load()

    def _load(self) -> None:
        for base_id, spec in self._conn.execute("SELECT id, schema FROM bases"):
            self._bases[base_id] = _BaseState(build_base(base_id, json.loads(spec)))
        query = "SELECT base_id, table_id, id, created_time, fields FROM records ORDER BY seq"
        for base_id, table_id, record_id, created_time, fields in self._conn.execute(query):
            state = self._bases.get(base_id)
            if state is not None and table_id in state.rows:
                state.rows[table_id][record_id] = Row(record_id, created_time, json.loads(fields))

    def close(self) -> None:
        """Close the database; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

    # -- bases ---------------------------------------------------------------------------

    def seed(self, name: str, *, base_id: str | None = None) -> str:
        """Create a seed base ("demo" or "empty", see :mod:`seeds`) unless it exists; its id."""
        base_id = base_id or seeds.default_base_id(name)
        with self._lock:
            if base_id not in self._bases:
                seeds.load_seed(self, name, base_id)
        return base_id

    def create_base(self, base_id: str, spec: dict[str, Any], *, name: str | None = None) -> None:
        """Create an empty base from a schema spec (see :mod:`schema`); ValueError if invalid."""
        if not (base_id.startswith("app") and len(base_id) == 17 and base_id.isalnum()):
            raise ValueError(f"a base id is 'app' and 14 letters or digits, not {base_id!r}")
        schema = build_base(base_id, spec, name=name)
        with self._lock:
            if base_id in self._bases:
                raise ValueError(f"base {base_id} exists")
            self._write(base_id, schema, [], [])
            self._bases[base_id] = _BaseState(schema)

    def delete_base(self, base_id: str) -> None:
        """Delete a base and all its records; KeyError if there is no such base."""
        with self._lock:
            if base_id not in self._bases:
                raise KeyError(base_id)
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("DELETE FROM records WHERE base_id = ?", (base_id,))
                self._conn.execute("DELETE FROM bases WHERE id = ?", (base_id,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            del self._bases[base_id]

    def base_ids(self) -> list[str]:
        """The ids of all bases."""
        with self._lock:
            return list(self._bases)

    def base_name(self, base_id: str) -> str:
        """The name of a base."""
        with self._lock:
            return self._state(base_id).schema.name

    def schema(self, base_id: str, *, visible_field_ids: bool = False) -> dict[str, Any]:
        """The base's schema as ``GET /v0/meta/bases/{base}/tables`` answers it."""
        with self._lock:
            return self._state(base_id).schema.to_api(visible_field_ids=visible_field_ids)

    def table_names(self, base_id: str) -> list[str]:
        """The names of the base's tables, in order."""
        with self._lock:
            return [t.name for t in self._state(base_id).schema.tables]

    def _state(self, base_id: str) -> _BaseState:
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
            schema_table = state.table(table)
            if query.view is not None and query.view not in ("Grid view", schema_table.view_id):
                raise errors.AirtableError(
                    422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{query.view}"'
                )
            render = self._renderer(
                state, schema_table, query.by_field_id, query.fields, query.cell_format
            )
            rows: list[Row] = list(state.rows[schema_table.id].values())
            if query.formula:
                rows = self._filter(state, schema_table, rows, query.formula)
            if query.sort:
                rows = self._sort(state, schema_table, rows, query)
            start, returned = self._resume(rows, query.offset)
            end = min(len(rows), start + query.page_size)
            if query.max_records is not None:
                end = min(end, start + max(0, query.max_records - returned))
            page = rows[start:end]
            out: dict[str, Any] = {"records": [render(row) for row in page]}
            if query.comment_count:
                for record in out["records"]:
                    record["commentCount"] = 0
            more = end < len(rows) and (
                query.max_records is None or returned + len(page) < query.max_records
            )
            if more and page:
                out["offset"] = f"itr{returned + len(page):014d}/{page[-1].id}"
            return out

    def get_record(
        self, base_id: str, table: str, record_id: str, *, by_field_id: bool = False
    ) -> dict[str, Any]:
        """One record of the table; 404 NOT_FOUND if the table has no such record."""
        with self._lock:
            state = self._state(base_id)
            schema_table = state.table(table)
            row = state.rows[schema_table.id].get(record_id)
            if row is None:
                raise errors.not_found()
            return self._renderer(state, schema_table, by_field_id, None, "json")(row)

    def all_records(self, base_id: str, table: str) -> list[dict[str, Any]]:
        """Every record of the table, by field name, in creation order (for tests and tools)."""
        with self._lock:
            state = self._state(base_id)
            schema_table = state.table(table)
            render = self._renderer(state, schema_table, False, None, "json")
            return [render(row) for row in state.rows[schema_table.id].values()]

    @staticmethod
    def _resume(rows: list[Row], offset: str | None) -> tuple[int, int]:
        # Offsets look like Airtable's ("itr.../rec..."): how many records were returned so
        # far, and the last one. Resuming after that record keeps pages stable when records
        # are added or removed elsewhere between two pages.
        if offset is None:
            return 0, 0
        head, _, last_id = offset.partition("/")
        if not (head.startswith("itr") and head[3:].isdigit() and is_record_id(last_id)):
            raise errors.AirtableError(
                422, "INVALID_OFFSET_VALUE", f"The value of offset {offset} is invalid"
            )
        returned = int(head[3:])
        for index, row in enumerate(rows):
            if row.id == last_id:
                return index + 1, returned
        return min(returned, len(rows)), returned

    def _filter(self, state: _BaseState, table: Table, rows: list[Row], text: str) -> list[Row]:
        try:
            compiled: CompiledFormula = compile_cached(text)
        except FormulaError as exc:
            raise errors.invalid_formula(str(exc)) from None
        unknown = [name for name in compiled.field_names if table.field(name) is None]
        if unknown:
            raise errors.invalid_formula("Unknown field names: " + ", ".join(unknown))
        ctx = _FormulaContext(functools.partial(self._formula_getter, state, table))
        matched = []
        try:
            for row in rows:
                ctx.set_row(row)
                if compiled.matches(ctx):
                    matched.append(row)
        except FormulaError as exc:
            raise errors.invalid_formula(str(exc)) from None
        except Exception as exc:  # a bug in the evaluator must not turn into a 500 or a match-all
            logger.exception("formula %r failed on record %s", text, ctx.record_id)
            raise errors.invalid_formula(f"{type(exc).__name__}: {exc}") from None
        return matched

    def _formula_getter(self, state: _BaseState, table: Table, name: str) -> Callable[[Row], Any]:
        field = table.field(name)
        if field is None:
            raise FormulaError(f"Unknown field names: {name}")
        field_id = field.id
        if field.type == "checkbox":
            return lambda row: bool(row.fields.get(field_id))
        if field.type == "singleSelect":
            names = {c.id: c.name for c in field.choices}
            return lambda row: names.get(row.fields.get(field_id))  # type: ignore[arg-type]
        if field.type == "multipleSelects":
            options = {c.id: c.name for c in field.choices}
            return lambda row: (
                [options[c] for c in row.fields.get(field_id) or () if c in options] or None
            )
        if field.type == "multipleRecordLinks":
            names_of = self._link_names(state, field)
            return lambda row: names_of(row.fields.get(field_id) or []) or None
        return lambda row: row.fields.get(field_id)

    def _link_names(self, state: _BaseState, field: Field) -> Callable[[list[str]], list[str]]:
        """How to turn linked record ids into the linked records' primary values, as text."""
        assert field.linked_table_id is not None
        target = state.schema.table_by_id(field.linked_table_id)
        target_rows = state.rows[target.id]
        primary = target.primary

        def names(ids: list[str]) -> list[str]:
            out = []
            for record_id in ids:
                row = target_rows.get(record_id)
                if row is not None:
                    out.append(values.display(primary, row.fields.get(primary.id), _no_links))
            return out

        return names

    def _sort(
        self, state: _BaseState, table: Table, rows: list[Row], query: ListQuery
    ) -> list[Row]:
        rows = list(rows)
        # Sort by the last key first; Python's sort is stable, so earlier keys win.
        for sort in reversed(query.sort):
            field = table.field(sort.field)
            if field is None:
                raise errors.unknown_field(sort.field)
            key = values.sort_key(
                field,
                self._link_names(state, field)
                if field.type == "multipleRecordLinks"
                else _no_links,
            )
            field_id = field.id

            def full_key(
                row: Row, key: Callable[[Any], Any] = key, field_id: str = field_id
            ) -> tuple[Any, ...]:
                value = row.fields.get(field_id)
                # Empty cells come first in ascending order, as in Airtable.
                return (0,) if value is None else (1, key(value))

            rows.sort(key=full_key, reverse=sort.descending)
        return rows

    def _renderer(
        self,
        state: _BaseState,
        table: Table,
        by_field_id: bool,
        only: list[str] | None,
        cell_format: str,
    ) -> Callable[[Row], dict[str, Any]]:
        fields = table.fields
        if only is not None:
            wanted = set()
            for name in only:
                field = table.field(name)
                if field is None:
                    raise errors.unknown_field(name)
                wanted.add(field.id)
            fields = [f for f in table.fields if f.id in wanted]
        columns: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        for field in fields:
            convert: Callable[[Any], Any] | None
            if cell_format == "string":
                link_names = (
                    self._link_names(state, field)
                    if field.type == "multipleRecordLinks"
                    else _no_links
                )
                convert = functools.partial(_display_or_none, field, link_names)
            else:
                convert = values.output_converter(field)
            columns.append((field.id if by_field_id else field.name, field.id, convert))

        def render(row: Row) -> dict[str, Any]:
            stored = row.fields
            out: dict[str, Any] = {}
            for key, field_id, convert in columns:
                value = stored.get(field_id)
                if value is not None and convert is not None:
                    value = convert(value)
                if value is not None:
                    out[key] = value
            return {"id": row.id, "createdTime": row.created_time, "fields": out}

        return render

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
            schema_table = state.table(table)
            txn = _Txn(state)
            created = []
            for index, fields in enumerate(records):
                self._check_fields_object(fields)
                fixed_id = record_ids[index] if record_ids else None
                if fixed_id is not None and not is_record_id(fixed_id):
                    raise ValueError(f"not a record id: {fixed_id!r}")
                row = txn.add(schema_table.id, record_id=fixed_id)
                self._apply_fields(txn, schema_table, row, fields, typecast=typecast, replace=False)
                created.append(row.id)
            self._commit(base_id, state, txn)
            return self._render_ids(state, schema_table, created, by_field_id)

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
            schema_table = state.table(table)
            merge_fields = (
                self._merge_fields(schema_table, fields_to_merge_on)
                if fields_to_merge_on is not None
                else None
            )
            txn = _Txn(state)
            ids, created, updated = [], [], []
            for record in records:
                if not isinstance(record, dict) or set(record) - {"id", "fields"}:
                    raise errors.invalid_request()
                fields = record.get("fields")
                if fields is None:
                    raise errors.missing_field("fields")
                self._check_fields_object(fields)
                record_id = record.get("id")
                if record_id is None and merge_fields is None:
                    raise errors.missing_field("id")
                if record_id is None:
                    assert merge_fields is not None
                    row = self._upsert_target(txn, schema_table, merge_fields, fields, typecast)
                    if row is None:
                        row = txn.add(schema_table.id)
                        created.append(row.id)
                    else:
                        updated.append(row.id)
                else:
                    if not isinstance(record_id, str):
                        raise errors.invalid_request("Record ids must be strings")
                    row = txn.edit(schema_table.id, record_id)
                    if row is None:
                        raise errors.row_does_not_exist(record_id)
                    updated.append(row.id)
                self._apply_fields(
                    txn, schema_table, row, fields, typecast=typecast, replace=replace
                )
                ids.append(row.id)
            self._commit(base_id, state, txn)
            rendered = self._render_ids(state, schema_table, ids, by_field_id)
            return UpdateResult(
                rendered, list(dict.fromkeys(created)), list(dict.fromkeys(updated))
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
            schema_table = state.table(table)
            if record_id not in state.rows[schema_table.id]:
                raise errors.not_found()
            result = self.update_records(
                base_id,
                schema_table.id,
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
            schema_table = state.table(table)
            txn = _Txn(state)
            for record_id in record_ids:
                if txn.get(schema_table.id, record_id) is None:
                    raise errors.row_does_not_exist(record_id)
                self._delete(txn, schema_table, record_id)
            self._commit(base_id, state, txn)
            return list(record_ids)

    def delete_record(self, base_id: str, table: str, record_id: str) -> None:
        """Delete one record addressed by URL; 404 NOT_FOUND if the table has no such record."""
        with self._lock:
            state = self._state(base_id)
            schema_table = state.table(table)
            if record_id not in state.rows[schema_table.id]:
                raise errors.not_found()
            self.delete_records(base_id, schema_table.id, [record_id])

    @staticmethod
    def _check_fields_object(fields: Any) -> None:
        if not isinstance(fields, dict):
            raise errors.invalid_request('"fields" must be an object')

    def _merge_fields(self, table: Table, names: Any) -> list[Field]:
        if not isinstance(names, list) or not 1 <= len(names) <= 3:
            raise errors.invalid_request(
                "performUpsert.fieldsToMergeOn must list between 1 and 3 field names or ids"
            )
        merge = []
        for name in names:
            field = table.field(name) if isinstance(name, str) else None
            if field is None:
                raise errors.unknown_field(str(name))
            if field.type not in MERGEABLE_TYPES:
                raise errors.invalid_request(
                    f'Field "{field.name}" of type {field.type} cannot be used in fieldsToMergeOn'
                )
            merge.append(field)
        return merge

    def _upsert_target(
        self,
        txn: _Txn,
        table: Table,
        merge_fields: list[Field],
        fields: dict[str, Any],
        typecast: bool,
    ) -> Row | None:
        wanted: list[tuple[str, Any]] = []
        for field in merge_fields:
            keys = [key for key in (field.name, field.id) if key in fields]
            if not keys:
                raise errors.invalid_request(
                    f'Record is missing the value of "{field.name}", a field in fieldsToMergeOn'
                )
            needle = self._match_value(txn, field, fields[keys[0]], typecast)
            if needle is _NO_MATCH:
                return None
            wanted.append((field.id, needle))
        matches = [
            row
            for row in txn.rows(table.id)
            if all(row.fields.get(field_id) == needle for field_id, needle in wanted)
        ]
        if len(matches) > 1:
            # Airtable: "If multiple matches are found, the request will fail."
            raise errors.AirtableError(
                422,
                "INVALID_RECORDS",
                f"Cannot upsert: {len(matches)} records match the fieldsToMergeOn values",
            )
        if not matches:
            return None
        return txn.edit(table.id, matches[0].id)

    def _match_value(self, txn: _Txn, field: Field, raw: Any, typecast: bool) -> Any:
        if field.type in SELECT_TYPES:
            ids = []
            for name in values.select_names(field, raw, typecast=typecast):
                choice = field.choice(name)
                pending = [c for c in txn.new_choices.get(field.id, []) if c.name == name]
                if choice is None and not pending:
                    return _NO_MATCH
                ids.append(choice.id if choice else pending[0].id)
            if field.type == "singleSelect":
                return ids[0] if ids else None
            return ids or None
        return values.coerce(field, raw, typecast=typecast)

    def _apply_fields(
        self,
        txn: _Txn,
        table: Table,
        row: Row,
        fields: dict[str, Any],
        *,
        typecast: bool,
        replace: bool,
    ) -> None:
        given: dict[str, tuple[Field, Any]] = {}
        for key, raw in fields.items():
            field = table.field(key)
            if field is None:
                raise errors.unknown_field(key)
            given[field.id] = (field, raw)
        if replace:
            for field in table.fields:
                given.setdefault(field.id, (field, None))
        for field_id, (field, raw) in given.items():
            if field.type == "multipleRecordLinks":
                self._set_links(txn, row, field, self._link_targets(txn, field, raw, typecast))
                continue
            if field.type in SELECT_TYPES:
                names = values.select_names(field, raw, typecast=typecast)
                ids = [txn.choice_id(field, name, typecast) for name in names]
                value: Any = (
                    (ids[0] if ids else None) if field.type == "singleSelect" else ids or None
                )
            else:
                value = values.coerce(field, raw, typecast=typecast)
            if value is None:
                row.fields.pop(field_id, None)
            else:
                row.fields[field_id] = value

    def _link_targets(self, txn: _Txn, field: Field, raw: Any, typecast: bool) -> list[str]:
        assert field.linked_table_id is not None
        target_id = field.linked_table_id
        out: list[str] = []
        for item in values.link_items(field, raw, typecast=typecast):
            if txn.get(target_id, item) is not None:
                out.append(item)
            elif is_record_id(item) or not typecast:
                if not is_record_id(item):
                    raise errors.AirtableError(
                        422, "INVALID_VALUE_FOR_COLUMN", "Value is not an array of record IDs."
                    )
                raise errors.row_does_not_exist(item)
            else:
                out.append(self._typecast_link(txn, target_id, item).id)
        return list(dict.fromkeys(out))

    def _typecast_link(self, txn: _Txn, table_id: str, name: str) -> Row:
        """The record whose primary value is ``name``; created if none is (as Airtable does)."""
        table = txn.state.schema.table_by_id(table_id)
        primary = table.primary
        for row in txn.rows(table_id):
            if values.display(primary, row.fields.get(primary.id), _no_links) == name:
                return row
        row = txn.add(table_id)
        self._apply_fields(txn, table, row, {primary.id: name}, typecast=True, replace=False)
        return row

    def _set_links(self, txn: _Txn, row: Row, field: Field, new: list[str]) -> None:
        old: list[str] = row.fields.get(field.id) or []
        if new:
            row.fields[field.id] = new
        else:
            row.fields.pop(field.id, None)
        inverse_id = field.inverse_field_id
        if inverse_id is None or old == new:
            return
        assert field.linked_table_id is not None
        old_set, new_set = set(old), set(new)
        for other_id in old:
            if other_id not in new_set:
                other = txn.edit(field.linked_table_id, other_id)
                if other is not None:
                    _unlink(other, inverse_id, row.id)
        for other_id in new:
            if other_id not in old_set:
                other = txn.edit(field.linked_table_id, other_id)
                assert other is not None
                current: list[str] = other.fields.get(inverse_id) or []
                if row.id not in current:
                    other.fields[inverse_id] = [*current, row.id]

    def _delete(self, txn: _Txn, table: Table, record_id: str) -> None:
        row = txn.get(table.id, record_id)
        assert row is not None
        for field in table.fields:
            linked = row.fields.get(field.id)
            if field.type != "multipleRecordLinks" or not linked or not field.inverse_field_id:
                continue
            assert field.linked_table_id is not None
            for other_id in linked:
                other = txn.edit(field.linked_table_id, other_id)
                if other is not None and other.id != record_id:
                    _unlink(other, field.inverse_field_id, record_id)
        # Links without an inverse (a table linking to itself) are found by looking.
        for other_table in txn.state.schema.tables:
            for field in other_table.fields:
                if (
                    field.type == "multipleRecordLinks"
                    and field.linked_table_id == table.id
                    and field.inverse_field_id is None
                ):
                    for other in list(txn.rows(other_table.id)):
                        if other.id != record_id and record_id in (
                            other.fields.get(field.id) or ()
                        ):
                            edited = txn.edit(other_table.id, other.id)
                            assert edited is not None
                            _unlink(edited, field.id, record_id)
        txn.delete(table.id, record_id)

    def _render_ids(
        self, state: _BaseState, table: Table, ids: list[str], by_field_id: bool
    ) -> list[dict[str, Any]]:
        table = state.schema.table_by_id(table.id)  # the commit may have changed the schema
        render = self._renderer(state, table, by_field_id, None, "json")
        rows = state.rows[table.id]
        return [render(rows[record_id]) for record_id in ids]

    def _commit(
        self, base_id: str, state: _BaseState, txn: _Txn, schema: BaseSchema | None = None
    ) -> None:
        """Write the transaction to SQLite, then (only if that worked) to memory."""
        if txn.new_choices:
            schema = _clone(schema or state.schema)
            for field_id, choices in txn.new_choices.items():
                _, field = schema.field_by_id(field_id)
                field.choices.extend(choices)
        upserts = []
        deletes = []
        for record_id, (table_id, row) in txn.touched.items():
            if row is None:
                deletes.append((base_id, record_id))
            else:
                fields = json.dumps(row.fields, ensure_ascii=False, separators=(",", ":"))
                upserts.append((base_id, table_id, record_id, row.created_time, fields))
        self._write(base_id, schema, upserts, deletes)
        if schema is not None:
            state.schema = schema
            for table in schema.tables:
                state.rows.setdefault(table.id, {})
        for record_id, (table_id, row) in txn.touched.items():
            if row is None:
                state.rows[table_id].pop(record_id, None)
            else:
                state.rows[table_id][record_id] = row

    def _write(
        self,
        base_id: str,
        schema: BaseSchema | None,
        upserts: list[tuple[str, str, str, str, str]],
        deletes: list[tuple[str, str]],
    ) -> None:
        conn = self._conn
        conn.execute("BEGIN")
        try:
            if schema is not None:
                conn.execute(
                    "INSERT INTO bases (id, schema) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET schema = excluded.schema",
                    (base_id, json.dumps(schema.to_spec(), ensure_ascii=False)),
                )
            if deletes:
                conn.executemany("DELETE FROM records WHERE base_id = ? AND id = ?", deletes)
            if upserts:
                conn.executemany(UPSERT_ROW_SQL, upserts)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- schema changes (for tests) --------------------------------------------------------

    def rename_table(self, base_id: str, table: str, new_name: str) -> None:
        """Rename a table (its id, and so the records, stay)."""
        self._change_spec(base_id, lambda spec: _set_name(spec["tables"], table, new_name))

    def rename_field(self, base_id: str, table: str, field: str, new_name: str) -> None:
        """Rename a field (its id, and so the values, stay)."""
        self._change_spec(
            base_id,
            lambda spec: _set_name(_table_spec(spec, table)["fields"], field, new_name),
        )

    def add_field(self, base_id: str, table: str, spec: dict[str, Any]) -> str:
        """Add a field from a field spec (links may name ``linkedTable``); its id."""
        name = spec.get("name")

        def change(base_spec: dict[str, Any]) -> None:
            _table_spec(base_spec, table)["fields"].append(dict(spec))

        schema = self._change_spec(base_id, change)
        added = schema.table(table)
        assert added is not None and isinstance(name, str)
        new_field = added.field(name)
        assert new_field is not None
        return new_field.id

    def remove_field(self, base_id: str, table: str, field: str) -> None:
        """Remove a field and its values (a link takes its inverse with it)."""
        with self._lock:
            state = self._state(base_id)
            schema_table = _known_table(state.schema, table)
            removed = _known_field(schema_table, field)
            if removed.id == schema_table.primary_field_id:
                raise ValueError("the primary field cannot be removed")
            gone = {removed.id}
            if removed.inverse_field_id:
                gone.add(removed.inverse_field_id)

            def change(spec: dict[str, Any]) -> None:
                for table_spec in spec["tables"]:
                    table_spec["fields"] = [f for f in table_spec["fields"] if f["id"] not in gone]

            self._change_spec(base_id, change, drop_values=gone)

    def add_select_option(self, base_id: str, table: str, field: str, name: str) -> str:
        """Add an option to a select field; its id."""
        with self._lock:
            state = self._state(base_id)
            select = _known_field(_known_table(state.schema, table), field)
            if select.type not in SELECT_TYPES:
                raise ValueError(f"{select.name} is not a select field")
            txn = _Txn(state)
            choice_id = txn.choice_id(select, name, typecast=True)
            self._commit(base_id, state, txn)
            return choice_id

    def remove_select_option(self, base_id: str, table: str, field: str, option: str) -> None:
        """Remove an option from a select field; cells holding it lose it, as in Airtable."""
        with self._lock:
            state = self._state(base_id)
            schema_table = _known_table(state.schema, table)
            select = _known_field(schema_table, field)
            choice = select.choice(option) if select.type in SELECT_TYPES else None
            if choice is None:
                raise KeyError(option)
            schema = _clone(state.schema)
            _, new_field = schema.field_by_id(select.id)
            new_field.choices = [c for c in new_field.choices if c.id != choice.id]
            txn = _Txn(state)
            for row in list(txn.rows(schema_table.id)):
                value = row.fields.get(select.id)
                if value == choice.id or (isinstance(value, list) and choice.id in value):
                    edited = txn.edit(schema_table.id, row.id)
                    assert edited is not None
                    kept = [c for c in value if c != choice.id] if isinstance(value, list) else None
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

        Values become text and are typecast into the new type; a select gets an option for
        every value it receives. A link field loses its inverse. Converting *to* a link is
        not supported (ValueError).
        """
        if new_type == "multipleRecordLinks":
            raise ValueError("converting a field to a link is not supported")
        with self._lock:
            state = self._state(base_id)
            schema_table = _known_table(state.schema, table)
            old = _known_field(schema_table, field)
            gone = {old.inverse_field_id} if old.inverse_field_id else set()
            link_names = (
                self._link_names(state, old) if old.type == "multipleRecordLinks" else _no_links
            )

            def change(spec: dict[str, Any]) -> None:
                for table_spec in spec["tables"]:
                    table_spec["fields"] = [f for f in table_spec["fields"] if f["id"] not in gone]
                for field_spec in _table_spec(spec, schema_table.id)["fields"]:
                    if field_spec["id"] == old.id:
                        field_spec["type"] = new_type
                        field_spec["options"] = dict(options or {})

            spec = state.schema.to_spec()
            change(spec)
            schema = build_base(base_id, spec, name=state.schema.name)
            new_table = schema.table_by_id(schema_table.id)
            new_field = _known_field(new_table, old.id)
            txn = _Txn(state)
            for row in list(txn.rows(schema_table.id)):
                if old.id not in row.fields:
                    continue
                edited = txn.edit(schema_table.id, row.id)
                assert edited is not None
                converted = _convert(txn, old, new_field, edited.fields.pop(old.id), link_names)
                if converted is not None:
                    edited.fields[old.id] = converted
            for gone_id in gone:
                _, inverse_table_field = state.schema.field_by_id(gone_id)
                inverse_table = next(
                    t for t in state.schema.tables if inverse_table_field in t.fields
                )
                for row in list(txn.rows(inverse_table.id)):
                    if gone_id in row.fields:
                        edited = txn.edit(inverse_table.id, row.id)
                        assert edited is not None
                        edited.fields.pop(gone_id)
            for field_id, choices in txn.new_choices.items():
                _, target = schema.field_by_id(field_id)
                target.choices.extend(choices)
            txn.new_choices.clear()
            self._commit(base_id, state, txn, schema)

    def _change_spec(
        self,
        base_id: str,
        change: Callable[[dict[str, Any]], None],
        drop_values: Iterable[str] = (),
    ) -> BaseSchema:
        with self._lock:
            state = self._state(base_id)
            spec = state.schema.to_spec()
            change(spec)
            schema = build_base(base_id, spec, name=state.schema.name)
            txn = _Txn(state)
            dropped = set(drop_values)
            if dropped:
                for table in state.schema.tables:
                    for row in list(txn.rows(table.id)):
                        if dropped & row.fields.keys():
                            edited = txn.edit(table.id, row.id)
                            assert edited is not None
                            for field_id in dropped:
                                edited.fields.pop(field_id, None)
            self._commit(base_id, state, txn, schema)
            return schema


_NO_MATCH = object()


def _no_links(ids: list[str]) -> list[str]:
    return list(ids)


def _display_or_none(
    field: Field, link_names: Callable[[list[str]], list[str]], value: Any
) -> str | None:
    return values.display(field, value, link_names) or None


def _unlink(row: Row, field_id: str, record_id: str) -> None:
    kept = [other for other in row.fields.get(field_id) or () if other != record_id]
    if kept:
        row.fields[field_id] = kept
    else:
        row.fields.pop(field_id, None)


def _clone(schema: BaseSchema) -> BaseSchema:
    return build_base(schema.id, schema.to_spec(), name=schema.name)


def _table_spec(spec: dict[str, Any], table: str) -> dict[str, Any]:
    for table_spec in spec["tables"]:
        if table in (table_spec["name"], table_spec["id"]):
            return table_spec
    raise KeyError(table)


def _set_name(items: list[dict[str, Any]], name_or_id: str, new_name: str) -> None:
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


def _convert(
    txn: _Txn,
    old: Field,
    new: Field,
    value: Any,
    link_names: Callable[[list[str]], list[str]],
) -> Any:
    """A stored value of ``old`` converted for ``new``, or None where it cannot be."""
    if old.type == "multipleSelects":
        names = [n for n in (values.choice_name(old, c) for c in value) if n]
    elif old.type == "multipleRecordLinks":
        names = link_names(value)
    else:
        names = [values.display(old, value, link_names)]
    text = ", ".join(names)
    if new.type in SELECT_TYPES:
        ids = [txn.choice_id(new, name, typecast=True) for name in names if name]
        return (ids[0] if ids else None) if new.type == "singleSelect" else ids or None
    raw = value if old.type not in SELECT_TYPES | {"multipleRecordLinks"} else text
    try:
        return values.coerce(new, raw, typecast=True)
    except errors.AirtableError:
        try:
            return values.coerce(new, text, typecast=True)
        except errors.AirtableError:
            return None
