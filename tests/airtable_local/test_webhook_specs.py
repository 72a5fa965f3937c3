"""Tests of webhook specifications as pure functions (:mod:`bot.airtable_local.webhook_specs`):
validation, and the payload one transaction gives under each filter and include."""

from __future__ import annotations

from typing import Any

import pytest

from bot.airtable_local.errors import AirtableError
from bot.airtable_local.webhook_specs import (
    SOURCES,
    TouchedRecord,
    build_payload,
    validate_specification,
)

TABLES = {"tblProjects000000": ["fldName0000000000", "fldStatus00000000"], "tblOther000000000": []}
PROJECTS = "tblProjects000000"
NAME, STATUS = TABLES[PROJECTS]
API = {"source": "publicApi", "sourceMetadata": {}}
CREATED = TouchedRecord(
    PROJECTS, "recNew00000000000", "2026-01-01T00:00:00.000Z", None, {NAME: "A"}
)
RENAMED = TouchedRecord(
    PROJECTS,
    "recOld00000000000",
    "2025-01-01T00:00:00.000Z",
    {NAME: "Old", STATUS: "Todo"},
    {NAME: "New", STATUS: "Todo"},
)
DELETED = TouchedRecord(
    "tblOther000000000", "recGone0000000000", "2025-01-01T00:00:00.000Z", {}, None
)


def _spec(filters: dict[str, Any], includes: dict[str, Any] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"filters": {"dataTypes": ["tableData"], **filters}}
    if includes is not None:
        options["includes"] = includes
    return {"options": options}


def _payload(spec: dict[str, Any], source: str = "publicApi") -> dict[str, Any] | None:
    return build_payload(
        spec,
        [CREATED, RENAMED, DELETED],
        timestamp="2026-01-02T00:00:00.000Z",
        base_transaction_number=7,
        action_metadata={"source": source, "sourceMetadata": {}},
    )


def test_a_valid_specification_is_kept_as_given() -> None:
    spec = _spec(
        {
            "recordChangeScope": PROJECTS,
            "changeTypes": ["add", "update"],
            "fromSources": list(SOURCES),
            "watchDataInFieldIds": [STATUS],
        },
        {"includeCellValuesInFieldIds": "all", "includePreviousCellValues": True},
    )
    assert validate_specification(spec, TABLES) == spec


@pytest.mark.parametrize(
    "spec",
    [
        [],
        {"options": {"filters": {"dataTypes": "tableData"}}},
        _spec({"recordChangeScope": 5}),
        _spec({"fromSources": ["client", "carrierPigeon"]}),
        _spec({"recordChangeScope": PROJECTS, "watchDataInFieldIds": ["fldOther"]}),
        _spec({}, {"includeCellValuesInFieldIds": "some"}),
        _spec({}, {"includePreviousFieldDefinitions": 1}),
        _spec({}, {"includeEverything": True}),
    ],
    ids=[
        "not an object",
        "dataTypes not a list",
        "scope not a string",
        "one unknown source",
        "watching an unknown field",
        "cell values neither all nor ids",
        "field definitions not boolean",
        "unknown include",
    ],
)
def test_invalid_specifications(spec: Any) -> None:
    with pytest.raises(AirtableError) as exc:
        validate_specification(spec, TABLES)
    assert (exc.value.status, exc.value.error_type) == (422, "INVALID_REQUEST_UNKNOWN")


def test_the_payload_of_a_transaction() -> None:
    assert _payload(_spec({})) == {
        "timestamp": "2026-01-02T00:00:00.000Z",
        "baseTransactionNumber": 7,
        "actionMetadata": API,
        "payloadFormat": "v0",
        "changedTablesById": {
            PROJECTS: {
                "createdRecordsById": {
                    CREATED.record_id: {
                        "createdTime": CREATED.created_time,
                        "cellValuesByFieldId": {NAME: "A"},
                    }
                },
                "changedRecordsById": {
                    RENAMED.record_id: {"current": {"cellValuesByFieldId": {NAME: "New"}}}
                },
            },
            "tblOther000000000": {"destroyedRecordIds": [DELETED.record_id]},
        },
    }


@pytest.mark.parametrize(
    ("filters", "source", "tables"),
    [
        ({"recordChangeScope": "tblOther000000000"}, "publicApi", {"tblOther000000000"}),
        ({"changeTypes": ["remove"]}, "publicApi", {"tblOther000000000"}),
        ({"fromSources": ["client"]}, "publicApi", None),
        ({"fromSources": ["client"]}, "client", {PROJECTS, "tblOther000000000"}),
        ({"recordChangeScope": PROJECTS, "changeTypes": ["update"]}, "system", {PROJECTS}),
        (
            {
                "recordChangeScope": PROJECTS,
                "changeTypes": ["update"],
                "watchDataInFieldIds": [STATUS],
            },
            "publicApi",
            None,
        ),
        ({"dataTypes": ["tableFields"]}, "publicApi", None),
    ],
    ids=[
        "scope",
        "change type",
        "another source",
        "the source",
        "updates in scope",
        "watching an unchanged field",
        "no tableData",
    ],
)
def test_filters(filters: dict[str, Any], source: str, tables: set[str] | None) -> None:
    payload = _payload(_spec(filters), source)
    assert (set(payload["changedTablesById"]) if payload else None) == tables


def test_includes_previous_and_unchanged_values() -> None:
    spec = _spec(
        {"recordChangeScope": PROJECTS, "changeTypes": ["update"]},
        {"includeCellValuesInFieldIds": [STATUS], "includePreviousCellValues": True},
    )
    payload = _payload(spec)
    assert payload is not None
    changed = payload["changedTablesById"][PROJECTS]["changedRecordsById"][RENAMED.record_id]
    assert changed == {
        "current": {"cellValuesByFieldId": {NAME: "New"}},
        "previous": {"cellValuesByFieldId": {NAME: "Old"}},
        "unchanged": {"cellValuesByFieldId": {STATUS: "Todo"}},
    }


def test_a_cleared_cell_is_null() -> None:
    cleared = TouchedRecord(PROJECTS, "recC", "2025-01-01T00:00:00.000Z", {NAME: "X"}, {})
    assert cleared.change_type == "update" and cleared.changed_field_ids() == [NAME]
    payload = build_payload(
        _spec({}), [cleared], timestamp="t", base_transaction_number=1, action_metadata=API
    )
    assert payload is not None
    record = payload["changedTablesById"][PROJECTS]["changedRecordsById"]["recC"]
    assert record["current"]["cellValuesByFieldId"] == {NAME: None}
