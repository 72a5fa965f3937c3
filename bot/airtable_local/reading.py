"""Reading records: formula filters, sorting, pages with offsets, records as Airtable returns them.

Formulas are compiled by :mod:`formula` (cached by text) and evaluated against each row
through a :class:`FormulaContext`, which gives linked fields as the linked records'
primary values and ``LAST_MODIFIED_TIME`` the times the store keeps in ``Row.modified``.
A formula that does not compile, or names a field the table lacks, is a 422
INVALID_FILTER_BY_FORMULA; a formula is never skipped, so it can never match everything by
mistake.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from bot.airtable_local import errors, values
from bot.airtable_local.formula import CompiledFormula, FormulaError, compile_formula
from bot.airtable_local.query import ListQuery, Sort
from bot.airtable_local.rows import BaseState, Row
from bot.airtable_local.schema import Field, Table, is_record_id

logger = logging.getLogger(__name__)

compile_cached = functools.lru_cache(maxsize=512)(compile_formula)

Render = Callable[[Row], dict[str, Any]]


class FormulaContext:
    """One record as a compiled formula reads it (see ``formula.py``); reused row after row."""

    __slots__ = (
        "_field_id",
        "_field_ids",
        "_getters",
        "_resolve",
        "created_time",
        "last_modified_time",
        "record_id",
        "row",
    )

    def __init__(
        self,
        resolve: Callable[[str], Callable[[Row], Any]],
        field_id: Callable[[str], str],
    ) -> None:
        """A context whose field values come from the getters ``resolve(name)`` returns, and
        whose modification times are kept by the field ids ``field_id(name)`` returns."""
        self._resolve = resolve
        self._getters: dict[str, Callable[[Row], Any]] = {}
        self._field_ids: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._field_id = field_id
        self.row = Row("", "", {})
        self.record_id = ""
        self.created_time = ""
        self.last_modified_time = ""

    def set_row(self, row: Row) -> None:
        """Evaluate against ``row`` from now on."""
        self.row = row
        self.record_id = row.id
        self.created_time = row.created_time
        self.last_modified_time = row.last_modified

    def fields_modified_time(self, field_names: tuple[str, ...]) -> str | None:
        """When the latest of the named fields of the record changed; None if none ever did."""
        ids = self._field_ids.get(field_names)
        if ids is None:
            ids = self._field_ids[field_names] = tuple(map(self._field_id, field_names))
        modified = self.row.modified
        stamps = [modified[field_id] for field_id in ids if field_id in modified]
        return max(stamps) if stamps else None

    def value(self, field_name: str) -> Any:
        """The value of a field of the current record, in the form formulas expect."""
        getter = self._getters.get(field_name)
        if getter is None:
            getter = self._getters[field_name] = self._resolve(field_name)
        return getter(self.row)


def link_names(state: BaseState, field: Field) -> Callable[[list[str]], list[str]]:
    """How to turn the ids in a link field into the linked records' primary values, as text."""
    if field.type != "multipleRecordLinks":
        return values.raw_ids
    assert field.linked_table_id is not None
    target = state.schema.table_by_id(field.linked_table_id)
    target_rows = state.rows[target.id]
    primary = target.primary

    def names(ids: list[str]) -> list[str]:
        out = []
        for record_id in ids:
            row = target_rows.get(record_id)
            if row is not None:
                out.append(values.display(primary, row.fields.get(primary.id), values.raw_ids))
        return out

    return names


def filter_rows(state: BaseState, table: Table, rows: list[Row], text: str) -> list[Row]:
    """The rows for which the formula ``text`` is true; 422 if it is not a valid formula."""
    try:
        compiled: CompiledFormula = compile_cached(text)
    except FormulaError as exc:
        raise errors.invalid_formula(str(exc)) from None
    unknown = sorted(name for name in compiled.field_names if table.field(name) is None)
    if unknown:
        raise errors.invalid_formula("Unknown field names: " + ", ".join(unknown))
    ctx = FormulaContext(functools.partial(_formula_getter, state, table), _field_id_of(table))
    try:
        return compiled.select(rows, ctx, ctx.set_row)
    except Exception as exc:  # a bug in the evaluator must be neither a 500 nor a match-all
        logger.exception("formula %r failed on record %s", text, ctx.record_id)
        raise errors.invalid_formula(f"{type(exc).__name__}: {exc}") from None


def _field_id_of(table: Table) -> Callable[[str], str]:
    def field_id(name: str) -> str:
        field = table.field(name)
        if field is None:  # pragma: no cover - unknown names are refused before evaluating
            raise FormulaError(f"Unknown field names: {name}")
        return field.id

    return field_id


def _formula_getter(state: BaseState, table: Table, name: str) -> Callable[[Row], Any]:
    field = table.field(name)
    if field is None:  # pragma: no cover - unknown names are refused before evaluating
        raise FormulaError(f"Unknown field names: {name}")
    field_id = field.id
    if field.type == "checkbox":
        return lambda row: bool(row.fields.get(field_id))
    if field.type == "singleSelect":
        names = {c.id: c.name for c in field.choices}
        return lambda row: names.get(row.fields.get(field_id, ""))
    if field.type == "multipleSelects":
        options = {c.id: c.name for c in field.choices}
        return lambda row: [options[c] for c in row.fields.get(field_id, ()) if c in options]
    if field.type == "multipleRecordLinks":
        names_of = link_names(state, field)
        return lambda row: names_of(row.fields.get(field_id) or [])
    return lambda row: row.fields.get(field_id)


def sort_rows(state: BaseState, table: Table, rows: list[Row], sorts: list[Sort]) -> list[Row]:
    """The rows sorted by each key in turn (empty cells first when ascending, as in Airtable)."""
    rows = list(rows)
    # Sort by the last key first: Python's sort is stable, so earlier keys win.
    for sort in reversed(sorts):
        field = table.field(sort.field)
        if field is None:
            raise errors.unknown_field(sort.field)
        key = values.sort_key(field, link_names(state, field))
        field_id = field.id

        def full_key(
            row: Row, key: Callable[[Any], Any] = key, field_id: str = field_id
        ) -> tuple[Any, ...]:
            value = row.fields.get(field_id)
            return (0,) if value is None else (1, key(value))

        rows.sort(key=full_key, reverse=sort.descending)
    return rows


def renderer(
    state: BaseState,
    table: Table,
    *,
    by_field_id: bool = False,
    only: list[str] | None = None,
    cell_format: str = "json",
) -> Render:
    """How to turn rows of ``table`` into records as Airtable returns them.

    Fields are keyed by name (or id), in the table's order, empty ones left out; ``only``
    keeps the fields named (422 UNKNOWN_FIELD_NAME for a field the table lacks);
    ``cell_format="string"`` gives every value as text.
    """
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
            convert = functools.partial(_display_or_none, field, link_names(state, field))
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


def _display_or_none(
    field: Field, names: Callable[[list[str]], list[str]], value: Any
) -> str | None:
    return values.display(field, value, names) or None


def page(rows: list[Row], query: ListQuery, render: Render) -> dict[str, Any]:
    """The page of ``rows`` that ``query`` asks for: ``{"records": [...], "offset"?: ...}``.

    Offsets look like Airtable's (``itr.../rec...``): how many records were returned so
    far, and the last of them. The next page starts after that record, so pages stay
    stable when records are added or removed elsewhere between two requests.
    """
    start, returned = _resume(rows, query.offset)
    end = min(len(rows), start + query.page_size)
    if query.max_records is not None:
        end = min(end, start + max(0, query.max_records - returned))
    chosen = rows[start:end]
    records = [render(row) for row in chosen]
    if query.comment_count:
        for record in records:
            record["commentCount"] = 0
    out: dict[str, Any] = {"records": records}
    more = end < len(rows) and (
        query.max_records is None or returned + len(chosen) < query.max_records
    )
    if more and chosen:
        out["offset"] = f"itr{returned + len(chosen):014d}/{chosen[-1].id}"
    return out


def _resume(rows: list[Row], offset: str | None) -> tuple[int, int]:
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
