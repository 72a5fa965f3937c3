"""Webhook specifications: validating them, and turning one base transaction into a payload.

Pure functions over plain data (no I/O, no clock). A specification is Airtable's
(https://airtable.com/developers/web/api/model/webhooks-specification)::

    {"options": {"filters": {"dataTypes": ["tableData"], "recordChangeScope": "tbl...",
                             "changeTypes": ["add", "remove", "update"],
                             "fromSources": ["client", "publicApi", ...],
                             "watchDataInFieldIds": ["fld...", ...]},
                 "includes": {"includeCellValuesInFieldIds": "all" | ["fld...", ...],
                              "includePreviousCellValues": bool,
                              "includePreviousFieldDefinitions": bool}}}

:func:`validate_specification` answers a bad one with Airtable's 422
INVALID_REQUEST_UNKNOWN (the message says what is wrong). :func:`build_payload` applies the
filters and includes to the records one transaction touched (:class:`TouchedRecord`, cell
values already rendered) and gives the payload Airtable would record for that webhook, or
None when nothing in the transaction matches. Only record data (``tableData``) makes
payloads here: ``tableFields`` and ``tableMetadata`` are accepted, but schema changes are
not reported (the values a schema change clears or converts are, as ``tableData``).

How the payload reports records (https://airtable.com/developers/web/api/model/webhooks-payload):

- created: ``createdRecordsById[rec] = {"createdTime", "cellValuesByFieldId"}`` with every
  non-empty cell of the new record;
- changed: ``changedRecordsById[rec] = {"current": {"cellValuesByFieldId"}}`` with the cells
  that changed (a cleared cell is ``null``), ``previous`` with their old values only when
  ``includePreviousCellValues``, and ``unchanged`` with the cells named by
  ``includeCellValuesInFieldIds`` that did not change;
- deleted: ``destroyedRecordIds``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.airtable_local import errors

DATA_TYPES = ("tableData", "tableFields", "tableMetadata")
CHANGE_TYPES = ("add", "remove", "update")
# https://airtable.com/developers/web/api/model/webhooks-specification (fromSources)
SOURCES = (
    "client",
    "publicApi",
    "formSubmission",
    "formPageSubmission",
    "automation",
    "system",
    "sync",
    "anonymousUser",
    "unknown",
)
SPEC_KEYS = frozenset({"options"})
OPTION_KEYS = frozenset({"filters", "includes"})
FILTER_KEYS = frozenset(
    {
        "dataTypes",
        "recordChangeScope",
        "changeTypes",
        "fromSources",
        "sourceOptions",
        "watchDataInFieldIds",
        "watchSchemasOfFieldIds",
    }
)
INCLUDE_KEYS = frozenset(
    {"includeCellValuesInFieldIds", "includePreviousCellValues", "includePreviousFieldDefinitions"}
)
PAYLOAD_FORMAT = "v0"


@dataclass(frozen=True)
class TouchedRecord:
    """A record one transaction touched, its cells rendered (field id to value, empty cells
    absent): ``before`` None if the transaction created it, ``after`` None if it deleted it."""

    table_id: str
    record_id: str
    created_time: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def change_type(self) -> str:
        """``add``, ``remove`` or ``update``, as ``changeTypes`` names them."""
        if self.before is None:
            return "add"
        if self.after is None:
            return "remove"
        return "update"

    def changed_field_ids(self) -> list[str]:
        """The fields whose values differ between before and after, sorted."""
        before, after = self.before or {}, self.after or {}
        return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def validate_specification(spec: Any, tables: dict[str, list[str]]) -> dict[str, Any]:
    """The specification as it will be stored, or 422 INVALID_REQUEST_UNKNOWN if it is bad.

    ``tables`` maps each table id of the base to its field ids.
    """
    spec = _object(spec, "specification", SPEC_KEYS)
    options = _object(spec.get("options"), "specification.options", OPTION_KEYS)
    filters = _object(options.get("filters"), "specification.options.filters", FILTER_KEYS)
    data_types = _names(filters.get("dataTypes"), "dataTypes", DATA_TYPES, required=True)
    if not data_types:
        raise errors.invalid_request("filters.dataTypes must not be empty")
    scope = filters.get("recordChangeScope")
    scoped: set[str] | None = None
    if scope is not None:
        if not isinstance(scope, str):
            raise errors.invalid_request("filters.recordChangeScope must be a string")
        if scope not in tables:
            raise errors.invalid_request(
                f"filters.recordChangeScope: {scope} is not a table id of this base"
            )
        scoped = set(tables[scope])
    _names(filters.get("changeTypes"), "changeTypes", CHANGE_TYPES)
    _names(filters.get("fromSources"), "fromSources", SOURCES)
    for key in ("watchDataInFieldIds", "watchSchemasOfFieldIds"):
        watched = _strings(filters.get(key), f"filters.{key}")
        if watched and scoped is None:
            raise errors.invalid_request(f"filters.{key} needs a recordChangeScope table")
        for field_id in watched:
            if scoped is not None and field_id not in scoped:
                raise errors.invalid_request(
                    f"filters.{key}: {field_id} is not a field id of table {scope}"
                )
    source_options = filters.get("sourceOptions")
    if source_options is not None and not isinstance(source_options, dict):
        raise errors.invalid_request("filters.sourceOptions must be an object")
    if "includes" in options:
        includes = _object(options["includes"], "specification.options.includes", INCLUDE_KEYS)
        cells = includes.get("includeCellValuesInFieldIds")
        if cells is not None and cells != "all":
            field_ids = _strings(cells, "includes.includeCellValuesInFieldIds")
            known = scoped if scoped is not None else {f for ids in tables.values() for f in ids}
            for field_id in field_ids:
                if field_id not in known:
                    raise errors.invalid_request(
                        f"includes.includeCellValuesInFieldIds: unknown field id {field_id}"
                    )
        for key in ("includePreviousCellValues", "includePreviousFieldDefinitions"):
            if key in includes and not isinstance(includes[key], bool):
                raise errors.invalid_request(f"includes.{key} must be a boolean")
    return spec


def build_payload(
    spec: dict[str, Any],
    records: Iterable[TouchedRecord],
    *,
    timestamp: str,
    base_transaction_number: int,
    action_metadata: dict[str, Any],
) -> dict[str, Any] | None:
    """The payload this webhook records for one transaction, or None if nothing matches."""
    options = spec["options"]
    filters = options["filters"]
    includes = options.get("includes") or {}
    if "tableData" not in filters["dataTypes"]:
        return None
    sources = filters.get("fromSources")
    if sources and action_metadata.get("source") not in sources:
        return None
    scope = filters.get("recordChangeScope")
    change_types = filters.get("changeTypes") or CHANGE_TYPES
    watched = set(filters.get("watchDataInFieldIds") or ())
    tables: dict[str, dict[str, Any]] = {}
    for record in records:
        if scope is not None and record.table_id != scope:
            continue
        kind = record.change_type
        if kind not in change_types:
            continue
        changed = record.changed_field_ids()
        if kind == "update" and (not changed or (watched and not watched & set(changed))):
            continue
        table = tables.setdefault(record.table_id, {})
        if kind == "add":
            created = table.setdefault("createdRecordsById", {})
            created[record.record_id] = {
                "createdTime": record.created_time,
                "cellValuesByFieldId": dict(record.after or {}),
            }
        elif kind == "remove":
            table.setdefault("destroyedRecordIds", []).append(record.record_id)
        else:
            table.setdefault("changedRecordsById", {})[record.record_id] = _record_changed(
                record, changed, includes
            )
    if not tables:
        return None
    return {
        "timestamp": timestamp,
        "baseTransactionNumber": base_transaction_number,
        "actionMetadata": action_metadata,
        "payloadFormat": PAYLOAD_FORMAT,
        "changedTablesById": tables,
    }


def _record_changed(
    record: TouchedRecord, changed: list[str], includes: dict[str, Any]
) -> dict[str, Any]:
    before, after = record.before or {}, record.after or {}
    out: dict[str, Any] = {
        "current": {"cellValuesByFieldId": {k: after.get(k) for k in changed}},
    }
    if includes.get("includePreviousCellValues"):
        out["previous"] = {"cellValuesByFieldId": {k: before.get(k) for k in changed}}
    wanted = includes.get("includeCellValuesInFieldIds")
    if wanted:
        names = after.keys() if wanted == "all" else wanted
        unchanged = {k: after[k] for k in names if k in after and k not in changed}
        if unchanged:
            out["unchanged"] = {"cellValuesByFieldId": unchanged}
    return out


def _object(value: Any, name: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid_request(f"{name} must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise errors.invalid_request(f"{name}: unknown property {unknown[0]}")
    return value


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise errors.invalid_request(f"{name} must be an array of strings")
    return value


def _names(value: Any, key: str, allowed: tuple[str, ...], *, required: bool = False) -> list[str]:
    if value is None and required:
        raise errors.invalid_request(f"filters.{key} is required")
    names = _strings(value, f"filters.{key}")
    for name in names:
        if name not in allowed:
            raise errors.invalid_request(
                f"filters.{key}: {name!r} is not one of {', '.join(allowed)}"
            )
    return names
