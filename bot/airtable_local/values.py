"""Cell values per field type: checking and typecasting what clients write, and the forms read back.

Stored forms (what ``Row.fields`` holds, keyed by field id; an empty cell is absent):

==================  ===================================================================
type                stored value
==================  ===================================================================
text types          ``str``, never ``""``
number types        ``int`` or ``float`` (finite)
checkbox            ``True`` (unchecked is empty)
date                ``"YYYY-MM-DD"``
dateTime            ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` (UTC, milliseconds)
singleSelect        the choice id (``sel...``), so options can be renamed
multipleSelects     list of choice ids
multipleRecordLinks list of record ids
==================  ===================================================================

Selects and links are only *shaped* here (:func:`select_names`, :func:`link_items`); the
store resolves them, since that needs the choices being added and the records that exist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from bot.airtable_local import errors
from bot.airtable_local.schema import NUMBER_TYPES, TEXT_TYPES, Field

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_PREFIX_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]|$)")
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "checked", "on", "x"})
FALSE_WORDS = frozenset({"", "false", "0", "no", "n", "unchecked", "off"})


def is_empty(value: Any) -> bool:
    """Whether Airtable treats ``value`` as an empty cell (left out of records)."""
    return value is None or value is False or value == "" or value == []


def coerce(field: Field, value: Any, *, typecast: bool) -> Any:
    """The stored form of ``value`` for a scalar field (not a select or link); None if empty.

    Raises the 422 INVALID_VALUE_FOR_COLUMN error when the value has the wrong type or
    format and typecast cannot (or may not) convert it.
    """
    if value is None:
        return None
    if field.type in TEXT_TYPES:
        return _text(field, value, typecast)
    if field.type in NUMBER_TYPES:
        return _number(field, value, typecast)
    if field.type == "checkbox":
        return _checkbox(field, value, typecast)
    if field.type == "date":
        return _date(field, value, typecast)
    if field.type == "dateTime":
        return _datetime(field, value, typecast)
    raise AssertionError(f"coerce() does not handle {field.type}")  # pragma: no cover


def _text(field: Field, value: Any, typecast: bool) -> str | None:
    if isinstance(value, str):
        return value or None
    if typecast and isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else _number_text(value)
    if typecast and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or None
    raise errors.invalid_value(field.name, "expected a string")


def _number(field: Field, value: Any, typecast: bool) -> int | float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise errors.invalid_value(field.name, "expected a finite number")
        return value
    if typecast and isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise errors.invalid_value(field.name, f"cannot parse {value!r} as a number") from None
        if math.isfinite(number):
            return int(number) if number.is_integer() and "." not in text else number
    raise errors.invalid_value(field.name, "expected a number")


def _checkbox(field: Field, value: Any, typecast: bool) -> bool | None:
    if isinstance(value, bool):
        return True if value else None
    if typecast and isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return True if value.strip().lower() in TRUE_WORDS else None
    if typecast and isinstance(value, int | float):
        return True if value else None
    raise errors.invalid_value(field.name, "expected true or false")


def _time_text(field: Field, value: Any, typecast: bool, expected: str) -> str | None:
    """The text of a date or date-time value (stripped with typecast; None if then blank)."""
    if not isinstance(value, str):
        raise errors.invalid_value(field.name, expected)
    text = value.strip() if typecast else value
    return None if typecast and not text else text


def _date(field: Field, value: Any, typecast: bool) -> str | None:
    text = _time_text(field, value, typecast, "expected a date as YYYY-MM-DD")
    if text is None:
        return None
    if DATE_RE.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    elif DATETIME_PREFIX_RE.match(text):
        # Airtable accepts an ISO date-time for a date field and keeps the date.
        parsed = _parse_datetime(text)
        if parsed is not None:
            return parsed.date().isoformat()
    raise errors.invalid_value(field.name, f"cannot parse {value!r} as a date (YYYY-MM-DD)")


def _datetime(field: Field, value: Any, typecast: bool) -> str | None:
    text = _time_text(field, value, typecast, "expected an ISO 8601 date-time")
    if text is None:
        return None
    parsed = _parse_datetime(text) if DATETIME_PREFIX_RE.match(text) else None
    if parsed is None:
        raise errors.invalid_value(field.name, f"cannot parse {value!r} as an ISO 8601 date-time")
    return format_datetime(parsed)


def _parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """``moment`` the way Airtable writes times: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def select_names(field: Field, value: Any, *, typecast: bool) -> list[str]:
    """The option names written to a select field, checked for shape (not for existence)."""
    if value is None or value == "":
        return []
    if field.type == "singleSelect":
        if isinstance(value, str):
            return [value]
        if typecast and isinstance(value, int | float) and not isinstance(value, bool):
            return [_number_text(value)]
        raise errors.invalid_value(field.name, "expected the name of an option")
    if typecast and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(dict.fromkeys(value))
    raise errors.invalid_value(field.name, "expected a list of option names")


def link_items(field: Field, value: Any, *, typecast: bool) -> list[str]:
    """The items written to a link field: record ids (or, with typecast, primary names)."""
    if value is None:
        return []
    if typecast and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise errors.AirtableError(
            422, "INVALID_VALUE_FOR_COLUMN", "Value is not an array of record IDs."
        )
    return list(dict.fromkeys(value))


def raw_ids(ids: list[str]) -> list[str]:
    """Record ids shown as themselves (for fields that are not links)."""
    return list(ids)


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def display(field: Field, stored: Any, link_names: Callable[[list[str]], list[str]]) -> str:
    """A stored value as text: what a primary value shows, and ``cellFormat=string``."""
    if stored is None:
        return ""
    if field.type in NUMBER_TYPES:
        return _number_text(stored)
    if field.type == "checkbox":
        return "checked"
    if field.type == "singleSelect":
        return choice_name(field, stored) or ""
    if field.type == "multipleSelects":
        return ", ".join(filter(None, (choice_name(field, c) for c in stored)))
    if field.type == "multipleRecordLinks":
        return ", ".join(link_names(stored))
    return str(stored)


def choice_name(field: Field, choice_id: str) -> str | None:
    """The name of one of the field's choices, by id."""
    for choice in field.choices:
        if choice.id == choice_id:
            return choice.name
    return None


def output_converter(field: Field) -> Callable[[Any], Any] | None:
    """How to turn a stored value into the JSON Airtable returns; None means "as stored"."""
    if field.type == "singleSelect":
        names = {c.id: c.name for c in field.choices}
        return names.get
    if field.type == "multipleSelects":
        names = {c.id: c.name for c in field.choices}
        return lambda ids: [names[i] for i in ids if i in names] or None
    return None


def sort_key(field: Field, link_names: Callable[[list[str]], list[str]]) -> Callable[[Any], Any]:
    """A key for sorting stored values of ``field`` (the caller puts empty cells first)."""
    if field.type in NUMBER_TYPES:
        return lambda v: v
    if field.type == "checkbox":
        return lambda v: 1
    if field.type == "singleSelect":
        # Airtable sorts a select by the order of its options, not alphabetically.
        order = {c.id: i for i, c in enumerate(field.choices)}
        return lambda v: order.get(v, len(order))
    if field.type in ("date", "dateTime"):
        return lambda v: v
    return lambda v: display(field, v, link_names).casefold()
