"""Records in memory: rows, a base's state, and the working copies one write makes.

A committed :class:`Row` is never changed in place. A write goes through a :class:`Txn`,
which copies each row it touches, collects the rows it creates and deletes and the select
options it adds; the store applies it only after SQLite has committed it, so a write that
fails part-way leaves nothing behind.

Each row also keeps when each of its fields was last modified (``Row.modified``, field id
to a time written as Airtable writes times, ``2026-12-02T04:00:00.000Z``, so that text order
is time order). The store stamps them as it commits a write (see ``Store._commit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from bot.airtable_local import errors, values
from bot.airtable_local.schema import CHOICE_COLORS, BaseSchema, Choice, Field, Table, new_id


class Row:
    """One record as stored: id, creation time, fields by field id (empty cells absent), and
    when each field was last modified."""

    __slots__ = ("created_time", "fields", "id", "last_modified", "modified")

    def __init__(
        self,
        record_id: str,
        created_time: str,
        fields: dict[str, Any],
        modified: dict[str, str] | None = None,
    ) -> None:
        """A row; ``fields`` maps field ids to stored values (see :mod:`values`), ``modified``
        field ids to when they last changed (a cleared field keeps its time)."""
        self.id = record_id
        self.created_time = created_time
        self.fields = fields
        self.modified: dict[str, str] = modified if modified is not None else {}
        self.last_modified = max([created_time, *self.modified.values()])

    def copy(self) -> Row:
        """A copy whose fields can be edited (values are replaced, never mutated)."""
        return Row(self.id, self.created_time, dict(self.fields), dict(self.modified))

    def stamp(self, field_ids: Iterable[str], moment: str) -> None:
        """Record that these fields changed at ``moment`` (a time as
        :func:`values.format_datetime` writes it)."""
        for field_id in field_ids:
            self.modified[field_id] = moment
            if moment > self.last_modified:
                self.last_modified = moment


class BaseState:
    """A base in memory: its schema and its rows, by table id then record id (in order)."""

    def __init__(self, schema: BaseSchema) -> None:
        """An empty base with this schema."""
        self.schema = schema
        self.rows: dict[str, dict[str, Row]] = {t.id: {} for t in schema.tables}

    def table(self, name_or_id: str) -> Table:
        """The table with this name or id; 403 as Airtable answers for an unknown table."""
        table = self.schema.table(name_or_id)
        if table is None:
            raise errors.model_not_found()
        return table

    def has_record(self, record_id: str) -> bool:
        """Whether any table of the base has this record id."""
        return any(record_id in rows for rows in self.rows.values())


class Txn:
    """The rows one write touches, as working copies, and the select options it adds."""

    def __init__(self, state: BaseState) -> None:
        """A write to ``state`` that has touched nothing yet."""
        self.state = state
        self.touched: dict[str, tuple[str, Row | None]] = {}
        self.new_choices: dict[str, list[Choice]] = {}

    def get(self, table_id: str, record_id: str) -> Row | None:
        """The row as this write sees it, or None if the table does not have it (now)."""
        hit = self.touched.get(record_id)
        if hit is not None:
            return hit[1] if hit[0] == table_id else None
        return self.state.rows[table_id].get(record_id)

    def edit(self, table_id: str, record_id: str) -> Row | None:
        """A working copy of the row to change, or None if the table does not have it."""
        hit = self.touched.get(record_id)
        if hit is not None:
            return hit[1] if hit[0] == table_id else None
        committed = self.state.rows[table_id].get(record_id)
        if committed is None:
            return None
        row = committed.copy()
        self.touched[record_id] = (table_id, row)
        return row

    def add(self, table_id: str, record_id: str | None = None) -> Row:
        """A new, empty row in the table, with a fresh id unless one is given."""
        if record_id is None:
            record_id = new_id("rec")
            while record_id in self.touched or self.state.has_record(record_id):
                record_id = new_id("rec")  # pragma: no cover - one chance in 62**14
        elif record_id in self.touched or self.state.has_record(record_id):
            raise ValueError(f"record id {record_id} is taken")
        row = Row(record_id, values.format_datetime(datetime.now(UTC)), {})
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

    def pending_choice(self, field: Field, name: str) -> Choice | None:
        """The option ``name`` of the field if it exists or this write adds it."""
        existing = field.choice(name)
        if existing is not None:
            return existing
        for choice in self.new_choices.get(field.id, ()):
            if choice.name == name:
                return choice
        return None
