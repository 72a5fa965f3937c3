"""The metadata API's writes (:mod:`bot.airtable_local.meta_routes`): pyairtable creating tables
and fields over HTTP, renaming them, and every request Airtable would refuse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyairtable.models.schema import MultipleRecordLinksFieldSchema

from bot.airtable_local.store import Store
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import airtable_request

BLANK_ID = "appBlankBase00001"
DATE_TIME = {"dateFormat": {"name": "iso"}, "timeFormat": {"name": "24hour"}, "timeZone": "utc"}


@pytest.fixture
def blank(local_airtable_factory: Callable[..., LocalAirtable]) -> LocalAirtable:
    """A new base as Airtable makes it: one table, "Table 1"."""
    return local_airtable_factory(seed="blank")


def tables_path(at: LocalAirtable) -> str:
    return f"/v0/meta/bases/{at.base_id}/tables"


def create_projects(at: LocalAirtable) -> dict[str, Any]:
    """Create a Projects table over raw HTTP; its table model."""
    body = {
        "name": "Projects",
        "description": "What we deliver",
        "fields": [
            {"name": "Name", "type": "singleLineText", "description": "the project"},
            {
                "name": "Status",
                "type": "singleSelect",
                "options": {"choices": [{"name": "Open", "color": "redBright"}, {"name": "Done"}]},
            },
            {"name": "Due", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
            {"name": "Finished", "type": "dateTime", "options": DATE_TIME},
            {"name": "Points", "type": "number", "options": {"precision": 1}},
            {
                "name": "Paid",
                "type": "checkbox",
                "options": {"icon": "check", "color": "greenBright"},
            },
            {"name": "Home", "type": "url"},
        ],
    }
    answer = airtable_request(at, "POST", tables_path(at), json=body)
    assert answer.status_code == 200, answer.text
    model: dict[str, Any] = answer.json()
    return model


def test_the_blank_seed_is_a_new_airtable_base(blank: LocalAirtable) -> None:
    assert blank.base_id == BLANK_ID
    assert [t.name for t in blank.api().base(BLANK_ID).schema().tables] == ["Table 1"]


def test_a_created_table_is_answered_as_the_table_model(blank: LocalAirtable) -> None:
    model = create_projects(blank)
    assert model["id"].startswith("tbl") and len(model["id"]) == 17
    assert model["name"] == "Projects"
    assert model["description"] == "What we deliver"
    assert model["primaryFieldId"] == model["fields"][0]["id"]
    assert [f["name"] for f in model["fields"]] == [
        "Name",
        "Status",
        "Due",
        "Finished",
        "Points",
        "Paid",
        "Home",
    ]
    by_name = {f["name"]: f for f in model["fields"]}
    assert by_name["Name"]["description"] == "the project"
    choices = by_name["Status"]["options"]["choices"]
    assert [(c["name"], c["id"][:3]) for c in choices] == [("Open", "sel"), ("Done", "sel")]
    assert choices[0]["color"] == "redBright"
    assert by_name["Due"]["options"] == {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}
    assert by_name["Finished"]["options"]["timeFormat"] == {"name": "24hour", "format": "HH:mm"}
    assert by_name["Points"]["options"] == {"precision": 1}
    assert model["views"] == [{"id": model["views"][0]["id"], "name": "Grid view", "type": "grid"}]


def test_pyairtable_creates_a_table_and_writes_records_to_it(blank: LocalAirtable) -> None:
    base = blank.api().base(BLANK_ID)
    created = base.create_table(
        "Contracts",
        [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Kind", "type": "singleSelect", "options": {"choices": [{"name": "MOU"}]}},
        ],
    )
    assert created.schema().name == "Contracts"
    record = created.create({"Name": "Example MOU", "Kind": "MOU"})
    assert created.get(record["id"])["fields"] == {"Name": "Example MOU", "Kind": "MOU"}


def test_a_new_link_gets_its_inverse_named_after_the_linking_table(blank: LocalAirtable) -> None:
    projects = create_projects(blank)
    api = blank.api()
    tasks = api.base(BLANK_ID).create_table("Tasks", [{"name": "Name", "type": "singleLineText"}])
    link = tasks.create_field(
        "Project", "multipleRecordLinks", options={"linkedTableId": projects["id"]}
    )
    assert isinstance(link, MultipleRecordLinksFieldSchema)
    assert link.options.linked_table_id == projects["id"]
    inverse_id = link.options.inverse_link_field_id
    assert inverse_id is not None
    schema = api.base(BLANK_ID).schema(force=True)
    inverse = schema.table("Projects").field(inverse_id)
    assert isinstance(inverse, MultipleRecordLinksFieldSchema)
    assert inverse.name == "Tasks"
    assert inverse.options.linked_table_id == tasks.id
    # Records link both ways at once.
    project = blank.table("Projects").create({"Name": "Hub"})
    task = blank.table("Tasks").create({"Name": "Deploy", "Project": [project["id"]]})
    assert blank.table("Projects").get(project["id"])["fields"]["Tasks"] == [task["id"]]


def test_a_field_is_renamed_and_described_through_pyairtable(blank: LocalAirtable) -> None:
    create_projects(blank)
    table = blank.api().base(BLANK_ID).table("Projects")
    home = table.schema().field("Home")
    home.name = "Website"
    home.description = "where it lives"
    home.save()
    renamed = blank.api().base(BLANK_ID).schema(force=True).table("Projects").field("Website")
    assert (renamed.id, renamed.description) == (home.id, "where it lives")
    record = blank.table("Projects").create({"Name": "Hub", "Website": "https://example.org"})
    assert record["fields"]["Website"] == "https://example.org"


def test_what_is_created_is_persisted(tmp_path: Path) -> None:
    db = tmp_path / "airtable.sqlite3"
    with LocalAirtable(seed="blank", db_path=db, requests_per_second=None) as at:
        create_projects(at)
        at.table("Projects").create({"Name": "Hub", "Status": "Open"})
    with Store(db) as store:
        assert store.table_names(BLANK_ID) == ["Table 1", "Projects"]
        assert [r["fields"] for r in store.all_records(BLANK_ID, "Projects")] == [
            {"Name": "Hub", "Status": "Open"}
        ]


def field_body(**extra: Any) -> dict[str, Any]:
    return {"name": "New", **extra}


REFUSED = [
    ("table without fields", "tables", {"name": "T", "fields": []}, "INVALID_REQUEST_UNKNOWN"),
    (
        "table without name",
        "tables",
        {"fields": [field_body(type="url")]},
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "table named like another",
        "tables",
        {"name": "table 1", "fields": [field_body(type="singleLineText")]},
        "DUPLICATE_TABLE_NAME",
    ),
    (
        "two fields of one name",
        "tables",
        {
            "name": "T",
            "fields": [field_body(type="singleLineText"), {"name": "NEW", "type": "url"}],
        },
        "DUPLICATE_OR_EMPTY_FIELD_NAME",
    ),
    (
        "a checkbox as primary field",
        "tables",
        {
            "name": "T",
            "fields": [
                field_body(type="checkbox", options={"icon": "check", "color": "greenBright"})
            ],
        },
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "unknown table key",
        "tables",
        {"name": "T", "fields": [], "views": []},
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "field named like another",
        "fields",
        {"name": "notes", "type": "url"},
        "DUPLICATE_OR_EMPTY_FIELD_NAME",
    ),
    (
        "field with empty name",
        "fields",
        {"name": " ", "type": "url"},
        "DUPLICATE_OR_EMPTY_FIELD_NAME",
    ),
    ("unknown type", "fields", field_body(type="formula"), "INVALID_REQUEST_UNKNOWN"),
    (
        "select without choices",
        "fields",
        field_body(type="singleSelect"),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "select with two choices of one name",
        "fields",
        field_body(type="singleSelect", options={"choices": [{"name": "A"}, {"name": "A"}]}),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "date without format",
        "fields",
        field_body(type="date", options={}),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "date of an unknown format",
        "fields",
        field_body(type="date", options={"dateFormat": {"name": "mayan"}}),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "date time without time zone",
        "fields",
        field_body(
            type="dateTime",
            options={"dateFormat": {"name": "iso"}, "timeFormat": {"name": "24hour"}},
        ),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "text with options",
        "fields",
        field_body(type="url", options={"x": 1}),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "number without precision",
        "fields",
        field_body(type="number", options={}),
        "INVALID_REQUEST_UNKNOWN",
    ),
    (
        "link to no table",
        "fields",
        field_body(type="multipleRecordLinks", options={"linkedTableId": "tblNoSuchTable000"}),
        "INVALID_REQUEST_UNKNOWN",
    ),
    ("unknown field key", "fields", field_body(type="url", id="fldX"), "INVALID_REQUEST_UNKNOWN"),
]


@pytest.mark.parametrize(
    ("path", "body", "error_type"),
    [pytest.param(path, body, error, id=name) for name, path, body, error in REFUSED],
)
def test_a_request_airtable_refuses_is_answered_422(
    blank: LocalAirtable, path: str, body: dict[str, Any], error_type: str
) -> None:
    url = tables_path(blank) + ("/Table 1/fields" if path == "fields" else "")
    before = blank.store.schema(BLANK_ID)
    answer = airtable_request(blank, "POST", url, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["type"] == error_type
    assert error["message"]
    assert blank.store.schema(BLANK_ID) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("POST", "/v0/meta/bases/appNoSuchBase00000/tables", {}, 403, id="base"),
        pytest.param("POST", f"/v0/meta/bases/{BLANK_ID}/tables/Nope/fields", {}, 403, id="table"),
        pytest.param(
            "PATCH",
            f"/v0/meta/bases/{BLANK_ID}/tables/Table 1/fields/fldNoSuchField000",
            {"name": "x"},
            403,
            id="field",
        ),
    ],
)
def test_an_unknown_base_table_or_field(
    blank: LocalAirtable, method: str, path: str, body: dict[str, Any], status: int
) -> None:
    answer = airtable_request(blank, method, path, json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["type"] == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"


def test_no_token_no_schema_change(blank: LocalAirtable) -> None:
    body = {"name": "T", "fields": [{"name": "Name", "type": "singleLineText"}]}
    answer = airtable_request(blank, "POST", tables_path(blank), token="", json=body)
    assert answer.status_code == 401
    assert blank.store.table_names(BLANK_ID) == ["Table 1"]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        pytest.param({"type": "url"}, "INVALID_REQUEST_UNKNOWN", id="type"),
        pytest.param({"options": {"choices": []}}, "INVALID_REQUEST_UNKNOWN", id="options"),
        pytest.param({}, "INVALID_REQUEST_UNKNOWN", id="nothing"),
        pytest.param({"name": "notes"}, "DUPLICATE_OR_EMPTY_FIELD_NAME", id="taken-name"),
    ],
)
def test_updating_a_field_changes_only_its_name_and_description(
    blank: LocalAirtable, body: dict[str, Any], error_type: str
) -> None:
    path = tables_path(blank) + "/Table 1/fields/Status"
    answer = airtable_request(blank, "PATCH", path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["type"] == error_type


def test_a_rename_answers_the_field_model(blank: LocalAirtable) -> None:
    path = tables_path(blank) + "/Table 1/fields/Status"
    answer = airtable_request(blank, "PATCH", path, json={"name": "State"})
    assert answer.status_code == 200
    model = answer.json()
    assert (model["name"], model["type"]) == ("State", "singleSelect")
    assert [c["name"] for c in model["options"]["choices"]] == ["Todo", "In progress", "Done"]
