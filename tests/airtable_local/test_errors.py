"""Tests of the error answers (:mod:`bot.airtable_local.errors`): each in Airtable's shape,
and nothing changed by a refused request."""

from __future__ import annotations

from typing import Any

import pytest

from bot.airtable_local import DEMO_BASE_ID
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import airtable_request
from tests.airtable_local.support import BASE, MISSING_ID, PROJECTS_PATH

RECORDS = PROJECTS_PATH  # the records of the Projects table
MISSING = f"{RECORDS}/{MISSING_ID}"
FORBIDDEN = "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"
BAD_REQUEST = "INVALID_REQUEST_UNKNOWN"
BAD_VALUE = "INVALID_VALUE_FOR_COLUMN"
JSON_TYPE = {"Content-Type": "application/json"}


def case(name: str, method: str, path: str, status: int, error: str | None, **kw: Any) -> Any:
    """One row of the error table: the request, then the status and error type expected."""
    return pytest.param(method, path, kw, status, error, id=name)


def upsert(merge_on: list[str]) -> dict[str, Any]:
    """An upsert body merging on ``merge_on``, with one record that gives no fields."""
    return {"performUpsert": {"fieldsToMergeOn": merge_on}, "records": [{"fields": {}}]}


ERROR_CASES = [
    case("unknown base", "GET", "/v0/appNoSuchBase00000/Projects", 403, FORBIDDEN),
    case("unknown table", "GET", f"/v0/{BASE}/Nope", 403, FORBIDDEN),
    case("unknown base schema", "GET", "/v0/meta/bases/appNoSuchBase00000/tables", 403, FORBIDDEN),
    case("unknown record", "GET", MISSING, 404, None),
    case("update unknown record", "PATCH", MISSING, 404, None, json={"fields": {}}),
    case("delete unknown record", "DELETE", MISSING, 404, None),
    case("unknown route", "GET", "/v1/anything", 404, None),
    case("unknown method", "POST", MISSING, 404, None, json={}),
    case("bad json", "POST", RECORDS, 400, "INVALID_REQUEST_BODY", data=b"{", headers=JSON_TYPE),
    case("body not an object", "POST", RECORDS, 422, BAD_REQUEST, json=[1]),
    case("no fields", "POST", RECORDS, 422, "INVALID_REQUEST_MISSING_FIELDS", json={}),
    case("unknown body key", "POST", RECORDS, 422, BAD_REQUEST, json={"fields": {}, "x": 1}),
    case(
        "typecast not a bool",
        "POST",
        RECORDS,
        422,
        BAD_REQUEST,
        json={"fields": {}, "typecast": "yes"},
    ),
    case("fields not an object", "POST", RECORDS, 422, BAD_REQUEST, json={"fields": [1]}),
    case(
        "more than 10 created",
        "POST",
        RECORDS,
        422,
        "INVALID_RECORDS",
        json={"records": [{"fields": {}}] * 11},
    ),
    case("none created", "POST", RECORDS, 422, "INVALID_RECORDS", json={"records": []}),
    case(
        "more than 10 updated",
        "PATCH",
        RECORDS,
        422,
        "INVALID_RECORDS",
        json={"records": [{"id": MISSING_ID, "fields": {}}] * 11},
    ),
    case(
        "more than 10 deleted",
        "DELETE",
        RECORDS,
        422,
        "INVALID_RECORDS",
        params={"records[]": [MISSING_ID] * 11},
    ),
    case(
        "batch update of a missing record",
        "PATCH",
        RECORDS,
        422,
        "ROW_DOES_NOT_EXIST",
        json={"records": [{"id": MISSING_ID, "fields": {}}]},
    ),
    case(
        "batch delete of a missing record",
        "DELETE",
        RECORDS,
        422,
        "ROW_DOES_NOT_EXIST",
        params={"records[]": [MISSING_ID]},
    ),
    case(
        "update without id",
        "PATCH",
        RECORDS,
        422,
        "INVALID_REQUEST_MISSING_FIELDS",
        json={"records": [{"fields": {}}]},
    ),
    case("unknown field", "POST", RECORDS, 422, "UNKNOWN_FIELD_NAME", json={"fields": {"N": 1}}),
    case(
        "unknown select option",
        "POST",
        RECORDS,
        422,
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        json={"fields": {"Status": "Bogus"}},
    ),
    case(
        "bad date",
        "POST",
        f"/v0/{BASE}/Engagements",
        422,
        BAD_VALUE,
        json={"fields": {"Start": "1/2/2026"}},
    ),
    case(
        "link not a list",
        "POST",
        RECORDS,
        422,
        BAD_VALUE,
        json={"fields": {"Engagement": "Example University 2026"}},
    ),
    case("upsert on four fields", "PATCH", RECORDS, 422, BAD_REQUEST, json=upsert(["Name"] * 4)),
    case("upsert on a link", "PATCH", RECORDS, 422, BAD_REQUEST, json=upsert(["Engagement"])),
    case("upsert on no field", "PATCH", RECORDS, 422, "UNKNOWN_FIELD_NAME", json=upsert(["N"])),
    case("upsert without the key", "PATCH", RECORDS, 422, BAD_REQUEST, json=upsert(["Name"])),
    case("page size over 100", "GET", RECORDS, 422, BAD_REQUEST, params={"pageSize": 101}),
    case("unknown view", "GET", RECORDS, 422, "VIEW_NAME_NOT_FOUND", params={"view": "Nope"}),
    case("bad offset", "GET", RECORDS, 422, "INVALID_OFFSET_VALUE", params={"offset": "x"}),
    case(
        "unknown sort field",
        "GET",
        RECORDS,
        422,
        "UNKNOWN_FIELD_NAME",
        params={"sort[0][field]": "Nope"},
    ),
    case(
        "bad sort direction",
        "GET",
        RECORDS,
        422,
        BAD_REQUEST,
        params={"sort[0][field]": "Name", "sort[0][direction]": "up"},
    ),
    case(
        "unknown projected field",
        "GET",
        RECORDS,
        422,
        "UNKNOWN_FIELD_NAME",
        params={"fields[]": "Nope"},
    ),
    case(
        "string cells without a locale",
        "GET",
        RECORDS,
        422,
        BAD_REQUEST,
        params={"cellFormat": "string"},
    ),
    case(
        "unknown list option",
        "POST",
        f"{RECORDS}/listRecords",
        422,
        BAD_REQUEST,
        json={"x": 1},
    ),
    case(
        "formula not text",
        "POST",
        f"{RECORDS}/listRecords",
        422,
        BAD_REQUEST,
        json={"filterByFormula": 1},
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error_type"), ERROR_CASES)
def test_errors_in_airtable_shapes(
    local_airtable: LocalAirtable,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    error_type: str | None,
) -> None:
    before = local_airtable.store.all_records(DEMO_BASE_ID, "Projects")
    response = airtable_request(local_airtable, method, path, **kwargs)
    assert response.status_code == status
    if error_type is None:
        assert response.json() == {"error": "NOT_FOUND"}
    else:
        error = response.json()["error"]
        assert error["type"] == error_type
        assert isinstance(error["message"], str) and error["message"]
    assert local_airtable.store.all_records(DEMO_BASE_ID, "Projects") == before
