"""Writing records inside one transaction (:class:`~bot.airtable_local.rows.Txn`).

- :func:`apply_fields` checks every value against its field (422s from :mod:`values`),
  resolves select options (added with typecast) and link targets (which must exist in the
  linked table; with typecast a primary value names one, and a missing one is created, as
  Airtable does), and keeps every inverse link in step.
- :func:`delete_row` removes a record from every link that holds it.
- :func:`merge_fields` and :func:`upsert_target` implement ``performUpsert``.
- :func:`convert` turns values of a field whose type changes.

Nothing here touches SQLite or committed rows: an error anywhere leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.airtable_local import errors, values
from bot.airtable_local.rows import Row, Txn
from bot.airtable_local.schema import (
    NUMBER_TYPES,
    SELECT_TYPES,
    TEXT_TYPES,
    Field,
    Table,
    is_record_id,
)

MERGEABLE_TYPES = TEXT_TYPES | NUMBER_TYPES | SELECT_TYPES | {"date", "dateTime"}
NOT_RECORD_IDS = "Value is not an array of record IDs."


def apply_fields(
    txn: Txn,
    table: Table,
    row: Row,
    fields: Any,
    *,
    typecast: bool,
    replace: bool,
) -> None:
    """Write ``fields`` (by name or id) to ``row``; ``replace`` clears the fields not given."""
    if not isinstance(fields, dict):
        raise errors.invalid_request('"fields" must be an object')
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
            set_links(txn, row, field, _link_targets(txn, field, raw, typecast))
            continue
        if field.type in SELECT_TYPES:
            ids = [
                txn.choice_id(field, name, typecast)
                for name in values.select_names(field, raw, typecast=typecast)
            ]
            value: Any = ids or None
            if field.type == "singleSelect":
                value = ids[0] if ids else None
        else:
            value = values.coerce(field, raw, typecast=typecast)
        if value is None:
            row.fields.pop(field_id, None)
        else:
            row.fields[field_id] = value


def _link_targets(txn: Txn, field: Field, raw: Any, typecast: bool) -> list[str]:
    assert field.linked_table_id is not None
    target_id = field.linked_table_id
    out: list[str] = []
    for item in values.link_items(field, raw, typecast=typecast):
        if txn.get(target_id, item) is not None:
            out.append(item)
        elif is_record_id(item):
            raise errors.row_does_not_exist(item)
        elif not typecast:
            raise errors.AirtableError(422, "INVALID_VALUE_FOR_COLUMN", NOT_RECORD_IDS)
        else:
            out.append(_record_named(txn, target_id, item).id)
    return list(dict.fromkeys(out))


def _record_named(txn: Txn, table_id: str, name: str) -> Row:
    """The record whose primary value is ``name``; created if there is none (as Airtable does)."""
    table = txn.state.schema.table_by_id(table_id)
    primary = table.primary
    for row in txn.rows(table_id):
        if values.display(primary, row.fields.get(primary.id), values.raw_ids) == name:
            return row
    row = txn.add(table_id)
    apply_fields(txn, table, row, {primary.id: name}, typecast=True, replace=False)
    return row


def set_links(txn: Txn, row: Row, field: Field, new: list[str]) -> None:
    """Set a link field of ``row`` and add or remove ``row`` in the inverse field of each target."""
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
                unlink(other, inverse_id, row.id)
    for other_id in new:
        if other_id not in old_set:
            other = txn.edit(field.linked_table_id, other_id)
            assert other is not None
            current: list[str] = other.fields.get(inverse_id) or []
            if row.id not in current:
                other.fields[inverse_id] = [*current, row.id]


def unlink(row: Row, field_id: str, record_id: str) -> None:
    """Remove ``record_id`` from a link field of ``row`` (a working copy)."""
    kept = [other for other in row.fields.get(field_id) or () if other != record_id]
    if kept:
        row.fields[field_id] = kept
    else:
        row.fields.pop(field_id, None)


def delete_row(txn: Txn, table: Table, record_id: str) -> None:
    """Delete a record of ``table`` and remove it from every link that holds it."""
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
                unlink(other, field.inverse_field_id, record_id)
    # Links without an inverse (a table linking to itself) are found by looking.
    for other_table in txn.state.schema.tables:
        for field in other_table.fields:
            if (
                field.type == "multipleRecordLinks"
                and field.linked_table_id == table.id
                and field.inverse_field_id is None
            ):
                for other in list(txn.rows(other_table.id)):
                    if other.id != record_id and record_id in (other.fields.get(field.id) or ()):
                        edited = txn.edit(other_table.id, other.id)
                        assert edited is not None
                        unlink(edited, field.id, record_id)
    txn.delete(table.id, record_id)


def merge_fields(table: Table, names: Any) -> list[Field]:
    """The fields of ``performUpsert.fieldsToMergeOn`` (1 to 3 fields of mergeable types)."""
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


def upsert_target(
    txn: Txn,
    table: Table,
    merge: list[Field],
    fields: dict[str, Any],
    typecast: bool,
) -> Row | None:
    """The record whose merge fields equal those in ``fields`` (a working copy), or None.

    Several matches fail the request, as Airtable's documentation says; its error type for
    that is not documented, so this answers 422 INVALID_RECORDS.
    """
    wanted: list[tuple[str, Any]] = []
    for field in merge:
        keys = [key for key in (field.name, field.id) if key in fields]
        if not keys:
            raise errors.invalid_request(
                f'Record is missing the value of "{field.name}", a field in fieldsToMergeOn'
            )
        needle = _match_value(txn, field, fields[keys[0]], typecast)
        if needle is _NO_MATCH:
            return None
        wanted.append((field.id, needle))
    matches = [
        row
        for row in txn.rows(table.id)
        if all(row.fields.get(field_id) == needle for field_id, needle in wanted)
    ]
    if len(matches) > 1:
        raise errors.AirtableError(
            422,
            "INVALID_RECORDS",
            f"Cannot upsert: {len(matches)} records match the fieldsToMergeOn values",
        )
    return txn.edit(table.id, matches[0].id) if matches else None


_NO_MATCH = object()


def _match_value(txn: Txn, field: Field, raw: Any, typecast: bool) -> Any:
    if field.type not in SELECT_TYPES:
        return values.coerce(field, raw, typecast=typecast)
    ids = []
    for name in values.select_names(field, raw, typecast=typecast):
        choice = txn.pending_choice(field, name)
        if choice is None:
            return _NO_MATCH  # an option no record can have yet
        ids.append(choice.id)
    if field.type == "singleSelect":
        return ids[0] if ids else None
    return ids or None


def convert(
    txn: Txn,
    old: Field,
    new: Field,
    value: Any,
    link_names: Callable[[list[str]], list[str]],
) -> Any:
    """A stored value of ``old`` converted for ``new`` (its type changed), or None."""
    if old.type == "multipleSelects":
        names = [n for n in (values.choice_name(old, c) for c in value) if n]
    elif old.type == "multipleRecordLinks":
        names = link_names(value)
    else:
        names = [values.display(old, value, link_names)]
    if new.type in SELECT_TYPES:
        ids = [txn.choice_id(new, name, typecast=True) for name in names if name]
        if new.type == "singleSelect":
            return ids[0] if ids else None
        return ids or None
    text = ", ".join(names)
    raw = text if old.type in SELECT_TYPES | {"multipleRecordLinks"} else value
    for candidate in (raw, text):
        try:
            return values.coerce(new, candidate, typecast=True)
        except errors.AirtableError:
            continue
    return None
