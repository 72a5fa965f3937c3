"""The metadata API's writes: create a table, create a field, rename or describe a field.

=====================================================  ======================================
``POST  /v0/meta/bases/{base}/tables``                 create a table; answers the table model
``POST  /v0/meta/bases/{base}/tables/{table}/fields``  create a field; answers the field model
``PATCH …/tables/{table}/fields/{field}``              change a field's name or description
=====================================================  ======================================

As Airtable documents them (https://airtable.com/developers/web/api/create-table,
``/create-field``, ``/update-field``): a table needs a name unique in the base and at least
one field, the first being its primary field (not a link, checkbox or multiple select);
field names are unique in their table, ignoring case; each type takes its options in the
write format of https://airtable.com/developers/web/api/field-model (select ``choices`` as
``{name, color?}``, ``dateFormat``/``timeFormat`` by ``name``, a link's ``linkedTableId``),
and a type without options takes none. A new link gets its inverse in the linked table,
named after the linking table (the store's schema adds it, as Airtable does). Updating a
field changes only its name and description: Airtable's API changes nothing else of an
existing field (not its type, not its select options).

Tables and fields are addressed by name or id. An unknown base, table or field is answered
403 as for records; a body Airtable would refuse, 422: ``DUPLICATE_TABLE_NAME``,
``DUPLICATE_OR_EMPTY_FIELD_NAME``, else ``INVALID_REQUEST_UNKNOWN`` with what is wrong.
Authentication and the rate limit are the server's middlewares'. What is created is
persisted like any schema change, so records can be written to it at once.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.airtable_local import errors
from bot.airtable_local.bodies import json_body
from bot.airtable_local.schema import FIELD_TYPES, SELECT_TYPES, TEXT_TYPES, new_id
from bot.airtable_local.store import Store

TABLES_PATH = "/v0/meta/bases/{base}/tables"
FIELDS_PATH = TABLES_PATH + "/{table}/fields"
TABLE_KEYS = frozenset({"name", "description", "fields"})
FIELD_KEYS = frozenset({"name", "type", "description", "options"})
UPDATE_FIELD_KEYS = frozenset({"name", "description"})
MAX_DESCRIPTION = 20_000
NOT_PRIMARY = frozenset({"multipleRecordLinks", "checkbox", "multipleSelects"})
DATE_FORMATS = {
    "local": "l",
    "friendly": "LL",
    "us": "M/D/YYYY",
    "european": "D/M/YYYY",
    "iso": "YYYY-MM-DD",
}
TIME_FORMATS = {"12hour": "h:mma", "24hour": "HH:mm"}
CHECKBOX_KEYS = frozenset({"color", "icon"})
LINK_KEYS = frozenset({"linkedTableId", "viewIdForRecordSelection", "prefersSingleRecordLink"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_meta_routes(app: web.Application, store: Store) -> None:
    """Register the metadata write routes on ``app``, over ``store``."""

    def bound(handler: Callable[[Store, web.Request], Awaitable[web.Response]]) -> Handler:
        return functools.partial(handler, store)

    app.router.add_post(TABLES_PATH, bound(create_table))
    app.router.add_post(FIELDS_PATH, bound(create_field))
    app.router.add_patch(FIELDS_PATH + "/{field}", bound(update_field))


async def create_table(store: Store, request: web.Request) -> web.Response:
    """``POST /v0/meta/bases/{base}/tables``: the new table, as the metadata API shows it."""
    body = await json_body(request, TABLE_KEYS)
    base_id = request.match_info["base"]
    with store.exclusive():
        tables = store.schema(base_id)["tables"]  # 403 for an unknown base
        name = _name(body, "table")
        if any(t["name"].casefold() == name.casefold() for t in tables):
            raise errors.duplicate_table_name(name)
        fields = body.get("fields")
        if not isinstance(fields, list) or not fields:
            raise errors.invalid_request('A table needs at least one field in "fields"')
        specs: list[dict[str, Any]] = []
        for item in fields:
            spec = _field_spec(item, tables, [s["name"] for s in specs])
            specs.append(spec)
        if specs[0]["type"] in NOT_PRIMARY:
            raise errors.invalid_request(
                f'The first field, "{specs[0]["name"]}", is the primary field and cannot be '
                f"of type {specs[0]['type']}"
            )
        table: dict[str, Any] = {
            "id": new_id("tbl"),
            "name": name,
            "fields": specs,
            "views": [{"id": new_id("viw")}],
        }
        description = _description(body, nullable=False)
        if description is not None:
            table["description"] = description
        table_id = _schema_change(lambda: store.add_table(base_id, table))
        created = next(t for t in store.schema(base_id)["tables"] if t["id"] == table_id)
    return web.json_response(created)


async def create_field(store: Store, request: web.Request) -> web.Response:
    """``POST …/tables/{table}/fields``: the new field, as the metadata API shows it."""
    body = await json_body(request, FIELD_KEYS)
    base_id = request.match_info["base"]
    with store.exclusive():
        tables = store.schema(base_id)["tables"]
        table = _find(tables, request.match_info["table"])
        spec = _field_spec(body, tables, [f["name"] for f in table["fields"]])
        field_id = _schema_change(lambda: store.add_field(base_id, table["id"], spec))
        return web.json_response(_field_model(store, base_id, table["id"], field_id))


async def update_field(store: Store, request: web.Request) -> web.Response:
    """``PATCH …/tables/{table}/fields/{field}``: a new name or description (or both)."""
    body = await json_body(request)
    unknown = set(body) - UPDATE_FIELD_KEYS
    if unknown:
        raise errors.invalid_request(
            f"Only a field's name and description can be updated, not {sorted(unknown)[0]}"
        )
    if not body:
        raise errors.invalid_request("Give the field's new name or description (or both)")
    base_id = request.match_info["base"]
    with store.exclusive():
        tables = store.schema(base_id)["tables"]
        table = _find(tables, request.match_info["table"])
        field = _find(table["fields"], request.match_info["field"])
        if "name" in body:
            name = _name(body, "field")
            others = [f["name"] for f in table["fields"] if f["id"] != field["id"]]
            if name.casefold() in {n.casefold() for n in others}:
                raise errors.duplicate_field_name(name)
            if name != field["name"]:
                store.rename_field(base_id, table["id"], field["id"], name)
        if "description" in body:
            store.describe_field(
                base_id, table["id"], field["id"], _description(body, nullable=True)
            )
        return web.json_response(_field_model(store, base_id, table["id"], field["id"]))


def _field_model(store: Store, base_id: str, table_id: str, field_id: str) -> dict[str, Any]:
    table = _find(store.schema(base_id)["tables"], table_id)
    return _find(table["fields"], field_id)


def _find(items: list[dict[str, Any]], name_or_id: str) -> dict[str, Any]:
    """The table or field with this id or name; 403 as Airtable answers an unknown model."""
    for item in items:
        if name_or_id in (item["id"], item["name"]):
            return item
    raise errors.model_not_found()


def _schema_change(change: Callable[[], str]) -> str:
    """Make a checked change; anything the schema still refuses is a 422."""
    try:
        return change()
    except ValueError as exc:
        raise errors.invalid_request(str(exc)) from None


def _name(body: dict[str, Any], what: str) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        if what == "field":
            raise errors.duplicate_field_name(name if isinstance(name, str) else "")
        raise errors.invalid_request('A table needs a non-empty "name"')
    return name.strip()


def _description(body: dict[str, Any], *, nullable: bool) -> str | None:
    if "description" not in body or (nullable and body["description"] is None):
        return None
    description = body["description"]
    if not isinstance(description, str) or not description or len(description) > MAX_DESCRIPTION:
        raise errors.invalid_request(
            f'"description" must be a non-empty string of at most {MAX_DESCRIPTION} characters'
        )
    return description


def _field_spec(body: object, tables: list[dict[str, Any]], taken: list[str]) -> dict[str, Any]:
    """A field config in Airtable's write format as a spec the store takes (with its id);
    ``taken``: the names already in its table."""
    if not isinstance(body, dict):
        raise errors.invalid_request("A field must be a JSON object")
    unknown = set(body) - FIELD_KEYS
    if unknown:
        raise errors.invalid_request(f"Unknown parameter for a field: {sorted(unknown)[0]}")
    name = _name(body, "field")
    if name.casefold() in {n.casefold() for n in taken}:
        raise errors.duplicate_field_name(name)
    field_type = body.get("type")
    if not isinstance(field_type, str) or field_type not in FIELD_TYPES:
        raise errors.invalid_request(f'Field "{name}": unsupported field type {field_type!r}')
    spec: dict[str, Any] = {"id": new_id("fld"), "name": name, "type": field_type}
    description = _description(body, nullable=False)
    if description is not None:
        spec["description"] = description
    options = body.get("options")
    if options is not None and not isinstance(options, dict):
        raise errors.invalid_request(f'Field "{name}": "options" must be an object')
    spec["options"] = _options(name, field_type, options, tables)
    return spec


def _options(
    name: str, field_type: str, options: dict[str, Any] | None, tables: list[dict[str, Any]]
) -> dict[str, Any]:
    """The options of a new field, checked against the type's write format."""

    def bad(problem: str) -> errors.AirtableError:
        return errors.invalid_request(f'Field "{name}" ({field_type}): {problem}')

    if field_type in TEXT_TYPES:
        if options:
            raise bad("this type takes no options")
        return {}
    if options is None:
        raise bad('"options" are required for this type')
    if field_type in SELECT_TYPES:
        return {"choices": _choices(options, bad)}
    if field_type == "multipleRecordLinks":
        if set(options) - LINK_KEYS:
            raise bad(f"unknown option {sorted(set(options) - LINK_KEYS)[0]}")
        target = options.get("linkedTableId")
        if not any(t["id"] == target for t in tables):
            raise bad(f'"linkedTableId" {target!r} is not the id of a table of this base')
        single = options.get("prefersSingleRecordLink", False)
        if not isinstance(single, bool):
            raise bad('"prefersSingleRecordLink" must be a boolean')
        return {"linkedTableId": target, "prefersSingleRecordLink": single}
    if field_type == "date":
        _only(options, {"dateFormat"}, bad)
        return {"dateFormat": _format(options.get("dateFormat"), DATE_FORMATS, "dateFormat", bad)}
    if field_type == "dateTime":
        _only(options, {"dateFormat", "timeFormat", "timeZone"}, bad)
        zone = options.get("timeZone")
        if not isinstance(zone, str) or not zone:
            raise bad('"timeZone" is required ("utc", "client" or a tz database name)')
        return {
            "dateFormat": _format(options.get("dateFormat"), DATE_FORMATS, "dateFormat", bad),
            "timeFormat": _format(options.get("timeFormat"), TIME_FORMATS, "timeFormat", bad),
            "timeZone": zone,
        }
    if field_type == "checkbox":
        _only(options, CHECKBOX_KEYS, bad)
        if not all(isinstance(options.get(key), str) for key in CHECKBOX_KEYS):
            raise bad('"color" and "icon" are required')
        return dict(options)
    # number, percent, currency: a precision (and a currency's symbol).
    keys = {"precision", "symbol"} if field_type == "currency" else {"precision"}
    _only(options, keys, bad)
    precision = options.get("precision")
    top = 7 if field_type == "currency" else 8
    if not isinstance(precision, int) or isinstance(precision, bool) or not 0 <= precision <= top:
        raise bad(f'"precision" must be a whole number from 0 to {top}')
    if field_type == "currency" and not isinstance(options.get("symbol"), str):
        raise bad('"symbol" is required')
    return dict(options)


def _only(
    options: dict[str, Any],
    allowed: set[str] | frozenset[str],
    bad: Callable[[str], errors.AirtableError],
) -> None:
    if set(options) - allowed:
        raise bad(f"unknown option {sorted(set(options) - allowed)[0]}")


def _format(
    value: object,
    formats: dict[str, str],
    key: str,
    bad: Callable[[str], errors.AirtableError],
) -> dict[str, str]:
    """A ``dateFormat`` or ``timeFormat``: ``{name, format?}``, the format filled in."""
    if not isinstance(value, dict) or value.get("name") not in formats:
        raise bad(f'"{key}" needs a "name", one of {", ".join(formats)}')
    name = str(value["name"])
    given = value.get("format")
    if given is not None and given != formats[name]:
        raise bad(f'"{key}" {name} has the format {formats[name]}, not {given!r}')
    return {"name": name, "format": formats[name]}


def _choices(
    options: dict[str, Any], bad: Callable[[str], errors.AirtableError]
) -> list[dict[str, Any]]:
    """A new select's ``choices``: ``{name, color?}`` each, names unique."""
    _only(options, {"choices"}, bad)
    choices = options.get("choices")
    if not isinstance(choices, list):
        raise bad('"choices" must be an array of {"name", "color"?}')
    out: list[dict[str, Any]] = []
    for choice in choices:
        if not isinstance(choice, dict) or set(choice) - {"name", "color"}:
            raise bad('each choice is {"name", "color"?}')
        choice_name = choice.get("name")
        if not isinstance(choice_name, str) or not choice_name:
            raise bad("a choice needs a name")
        if any(c["name"] == choice_name for c in out):
            raise bad(f'two choices are named "{choice_name}"')
        color = choice.get("color")
        if color is not None and not isinstance(color, str):
            raise bad(f'choice "{choice_name}": "color" must be a string')
        out.append({"name": choice_name, **({"color": color} if color else {})})
    return out
