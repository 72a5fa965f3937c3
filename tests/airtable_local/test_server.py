"""Tests for the embedded Airtable-compatible server, through the real pyairtable over HTTP."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyairtable import Api
from pyairtable.formulas import OR, match
from pyairtable.orm import Model
from pyairtable.orm import fields as F

from bot.airtable_local import DEMO_BASE_ID
from bot.airtable_local.errors import AirtableError
from bot.airtable_local.query import ListQuery
from bot.airtable_local.ratelimit import RateLimiter
from bot.airtable_local.schema import build_base, stable_id
from bot.airtable_local.server import run
from bot.airtable_local.store import Store
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import TYPES_SPEC, airtable_request

RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")
CREATED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MISSING_ID = "recAAAAAAAAAAAAAA"
DELIVERABLES = "Project Deliverables"


def error_of(exc: pytest.ExceptionInfo[requests.HTTPError]) -> tuple[int, Any]:
    """The status and JSON body behind a pyairtable HTTPError."""
    response = exc.value.response
    assert response is not None
    return response.status_code, response.json()


def project_id(at: LocalAirtable, name: str = "Setup workshop hub") -> str:
    """The id of a demo project, found by name."""
    record = at.table("Projects").first(formula=match({"Name": name}))
    assert record is not None
    return str(record["id"])


# -- the demo seed -----------------------------------------------------------------------


def test_demo_seed_is_the_base_of_design_section_6(local_airtable: LocalAirtable) -> None:
    at = local_airtable
    assert at.base_id == DEMO_BASE_ID
    opportunity = at.table("Opportunities").all()[0]["fields"]
    assert opportunity["Name"] == "Example University workshop"
    assert (opportunity["Type"], opportunity["Stage"]) == ("New", "Closed-Won")
    contract = at.table("Contracts").get(opportunity["Contracts"][0])
    assert contract["fields"]["Name"] == "Example University MOU"
    assert contract["fields"]["Kind"] == "MOU"
    engagement = at.table("Engagements").get(opportunity["Engagement"][0])["fields"]
    assert (engagement["Start"], engagement["End"], engagement["Status"]) == (
        "2026-01-01",
        "2028-12-31",
        "Active",
    )
    project = at.table("Projects").get(engagement["Projects"][0])["fields"]
    assert project["Name"] == "Setup workshop hub"
    assert project["Status"] == "In progress"
    assert project["Statement of Work"] == "https://example.org/sow/example-university-2026"
    deliverables = at.table(DELIVERABLES).all()
    assert [
        (d["fields"]["Name"], d["fields"]["GitHub Issue"], d["fields"]["Status"])
        for d in deliverables
    ] == [
        ("Deploy the hub", "https://github.com/example-org/infrastructure/issues/1", "In progress"),
        (
            "Configure login",
            "https://github.com/example-org/infrastructure/issues/2",
            "In progress",
        ),
        (
            "Load workshop materials",
            "https://github.com/example-org/infrastructure/issues/3",
            "Todo",
        ),
    ]
    assert sorted(project["Deliverables"]) == sorted(d["id"] for d in deliverables)
    # Seed records get the same ids on every run.
    assert deliverables[0]["id"] == stable_id("rec", DEMO_BASE_ID, DELIVERABLES, "Deploy the hub")


def test_empty_seed_has_the_schema_and_no_records(local_airtable_empty: LocalAirtable) -> None:
    at = local_airtable_empty
    assert at.base_id == "appEmptyBase00001"
    schema = at.api().base(at.base_id).schema()
    assert [t.name for t in schema.tables] == [
        "Opportunities",
        "Contracts",
        "Engagements",
        "Projects",
        DELIVERABLES,
    ]
    assert all(at.table(t.name).all() == [] for t in schema.tables)


def test_base_schema_parses_with_pyairtable(local_airtable: LocalAirtable) -> None:
    base = local_airtable.api().base(DEMO_BASE_ID)
    schema = base.schema()
    deliverables = schema.table(DELIVERABLES)
    assert re.match(r"^tbl[A-Za-z0-9]{14}$", deliverables.id)
    assert deliverables.field(deliverables.primary_field_id).name == "Name"
    assert all(re.match(r"^fld[A-Za-z0-9]{14}$", f.id) for f in deliverables.fields)
    types = {f.name: f.type for f in deliverables.fields}
    assert types == {
        "Name": "singleLineText",
        "Project": "multipleRecordLinks",
        "GitHub Issue": "url",
        "Status": "singleSelect",
        "Completed": "dateTime",
        "Assignees": "singleLineText",
        "Last synced": "dateTime",
    }
    status = deliverables.field("Status")
    choices = status.options.choices  # type: ignore[union-attr]
    assert [c.name for c in choices] == ["Todo", "In progress", "Blocked", "Done", "Cancelled"]
    assert all(re.match(r"^sel[A-Za-z0-9]{14}$", c.id) for c in choices)
    project_link = deliverables.field("Project")
    projects = schema.table("Projects")
    back_link = projects.field("Deliverables")
    assert project_link.options.linked_table_id == projects.id  # type: ignore[union-attr]
    assert project_link.options.inverse_link_field_id == back_link.id  # type: ignore[union-attr]
    assert back_link.options.inverse_link_field_id == project_link.id  # type: ignore[union-attr]
    assert project_link.options.prefers_single_record_link  # type: ignore[union-attr]
    assert deliverables.views[0].type == "grid"
    assert deliverables.views[0].visible_field_ids == [f.id for f in deliverables.fields]
    # Table.schema() and tables addressed by id work too.
    table = local_airtable.api().table(DEMO_BASE_ID, DELIVERABLES)
    assert table.schema().id == deliverables.id
    by_id = local_airtable.api().table(DEMO_BASE_ID, deliverables.id)
    assert len(by_id.all()) == 3
    assert [b.id for b in local_airtable.api().bases()] == [DEMO_BASE_ID]
    assert local_airtable.api().whoami()["id"].startswith("usr")


# -- create, read, update, delete ------------------------------------------------------------


def test_create_read_update_replace_delete(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    created = table.create({"Name": "Write docs", "Status": "Todo", "Assignees": "alice"})
    assert RECORD_ID.match(created["id"])
    assert CREATED_TIME.match(created["createdTime"])
    assert created["fields"] == {"Name": "Write docs", "Status": "Todo", "Assignees": "alice"}
    assert table.get(created["id"]) == created
    updated = table.update(created["id"], {"Status": "Done", "Completed": "2026-02-03T04:05:06Z"})
    assert updated["fields"] == {
        "Name": "Write docs",
        "Status": "Done",
        "Assignees": "alice",
        "Completed": "2026-02-03T04:05:06.000Z",
    }
    replaced = table.update(created["id"], {"Name": "Write the docs"}, replace=True)
    assert replaced["fields"] == {"Name": "Write the docs"}
    assert replaced["createdTime"] == created["createdTime"]
    assert table.delete(created["id"]) == {"id": created["id"], "deleted": True}
    with pytest.raises(requests.HTTPError) as exc:
        table.get(created["id"])
    assert error_of(exc) == (404, {"error": "NOT_FOUND"})


def test_batch_create_update_and_delete(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    names = [f"Task {i}" for i in range(23)]
    created = table.batch_create([{"Name": name} for name in names])
    assert [r["fields"]["Name"] for r in created] == names
    updated = table.batch_update(
        [{"id": r["id"], "fields": {"Status": "Blocked"}} for r in created]
    )
    assert {r["fields"]["Status"] for r in updated} == {"Blocked"}
    replaced = table.batch_update(
        [{"id": r["id"], "fields": {"Assignees": "bob"}} for r in created], replace=True
    )
    assert all(r["fields"] == {"Assignees": "bob"} for r in replaced)
    deleted = table.batch_delete([r["id"] for r in created])
    assert deleted == [{"id": r["id"], "deleted": True} for r in created]
    assert len(table.all()) == 3


def test_records_leave_empty_values_out(local_airtable: LocalAirtable, types_base: str) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    record = things.create(
        {
            "Name": "",
            "Notes": None,
            "Tags": [],
            "Done": False,
            "Parts": [],
            "Count": 0,
            "Size": None,
        }
    )
    assert record["fields"] == {"Count": 0}
    checked = things.update(record["id"], {"Done": True, "Name": "x"})
    assert checked["fields"] == {"Count": 0, "Done": True, "Name": "x"}
    cleared = things.update(record["id"], {"Done": False, "Count": None})
    assert cleared["fields"] == {"Name": "x"}


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        pytest.param("Name", "plain text", "plain text", id="text"),
        pytest.param("Notes", "two\nlines", "two\nlines", id="long-text"),
        pytest.param("Link", "https://example.org/a?b=c", "https://example.org/a?b=c", id="url"),
        pytest.param("Count", 3, 3, id="integer"),
        pytest.param("Count", -2.5, -2.5, id="float"),
        pytest.param("Price", 9.99, 9.99, id="currency"),
        pytest.param("Done", True, True, id="checkbox"),
        pytest.param("Day", "2026-02-29", None, id="date-not-in-calendar"),
        pytest.param("Day", "2028-02-29", "2028-02-29", id="date"),
        pytest.param("Day", "2028-02-29T23:00:00.000Z", "2028-02-29", id="date-from-datetime"),
        pytest.param("At", "2026-05-06T07:08:09Z", "2026-05-06T07:08:09.000Z", id="datetime-z"),
        pytest.param("At", "2026-05-06T09:08:09+02:00", "2026-05-06T07:08:09.000Z", id="offset"),
        pytest.param("At", "2026-05-06", "2026-05-06T00:00:00.000Z", id="datetime-from-date"),
        pytest.param("Size", "M", "M", id="select"),
        pytest.param("Tags", ["b", "a"], ["b", "a"], id="multiple-select"),
    ],
)
def test_values_by_field_type(
    local_airtable: LocalAirtable, types_base: str, field: str, value: Any, stored: Any
) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    if stored is None:
        with pytest.raises(requests.HTTPError) as exc:
            things.create({field: value})
        status, body = error_of(exc)
        assert (status, body["error"]["type"]) == (422, "INVALID_VALUE_FOR_COLUMN")
        return
    assert things.create({field: value})["fields"] == {field: stored}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("Name", 5, id="number-for-text"),
        pytest.param("Link", ["https://example.org"], id="list-for-url"),
        pytest.param("Count", "5", id="text-for-number"),
        pytest.param("Count", True, id="bool-for-number"),
        pytest.param("Done", "yes", id="text-for-checkbox"),
        pytest.param("Day", "02/03/2026", id="us-date"),
        pytest.param("Day", 20260203, id="number-for-date"),
        pytest.param("At", "yesterday", id="words-for-datetime"),
        pytest.param("Size", ["M"], id="list-for-select"),
        pytest.param("Tags", "a", id="text-for-multiple-select"),
        pytest.param("Parts", "recAAAAAAAAAAAAAA", id="text-for-links"),
        pytest.param("Parts", [1], id="numbers-for-links"),
    ],
)
def test_wrong_value_types_are_422(
    local_airtable: LocalAirtable, types_base: str, field: str, value: Any
) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    with pytest.raises(requests.HTTPError) as exc:
        things.create({field: value})
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (422, "INVALID_VALUE_FOR_COLUMN")
    assert things.all() == []


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        pytest.param("Name", 5, "5", id="number-to-text"),
        pytest.param("Count", "1,234", 1234, id="text-to-number"),
        pytest.param("Count", "2.50", 2.5, id="text-to-float"),
        pytest.param("Done", "yes", True, id="text-to-checkbox"),
        pytest.param("Tags", "a, b", ["a", "b"], id="text-to-multiple-select"),
        pytest.param("Size", "XL", "XL", id="new-select-option"),
        pytest.param("Size", 3, "3", id="number-to-select"),
        pytest.param("Name", True, "true", id="bool-to-text"),
        pytest.param("Notes", ["x", "y"], "x, y", id="list-to-text"),
        pytest.param("Count", " ", None, id="blank-to-number"),
        pytest.param("Done", 0, None, id="zero-to-checkbox"),
        pytest.param("Day", " 2026-03-04 ", "2026-03-04", id="padded-date"),
        pytest.param("At", "", None, id="blank-to-datetime"),
        pytest.param("Day", "", None, id="blank-to-date"),
    ],
)
def test_typecast_converts(
    local_airtable: LocalAirtable, types_base: str, field: str, value: Any, stored: Any
) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    expected = {} if stored is None else {field: stored}
    assert things.create({field: value}, typecast=True)["fields"] == expected


def test_typecast_adds_a_select_option_to_the_schema(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    with pytest.raises(requests.HTTPError) as exc:
        table.create({"Name": "x", "Status": "Waiting"})
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (422, "INVALID_MULTIPLE_CHOICE_OPTIONS")
    record = table.create({"Name": "x", "Status": "Waiting"}, typecast=True)
    assert record["fields"]["Status"] == "Waiting"
    choices = table.schema(force=True).field("Status").options.choices  # type: ignore[union-attr]
    assert [c.name for c in choices][-1] == "Waiting"
    # Now that it exists, it needs no typecast.
    assert table.create({"Name": "y", "Status": "Waiting"})["fields"]["Status"] == "Waiting"


def test_typecast_links_by_primary_value_and_creates_missing(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    hub = project_id(local_airtable)
    record = table.create({"Name": "x", "Project": "Setup workshop hub"}, typecast=True)
    assert record["fields"]["Project"] == [hub]
    record = table.create({"Name": "y", "Project": ["Brand new project"]}, typecast=True)
    new_project = local_airtable.table("Projects").get(record["fields"]["Project"][0])
    assert new_project["fields"] == {"Name": "Brand new project", "Deliverables": [record["id"]]}


# -- upsert ------------------------------------------------------------------------------------


def test_upsert_creates_updates_and_refuses_ambiguous_matches(
    local_airtable: LocalAirtable,
) -> None:
    table = local_airtable.table(DELIVERABLES)
    issue = "https://github.com/example-org/infrastructure/issues/"
    result = table.batch_upsert(
        [
            {"fields": {"GitHub Issue": issue + "1", "Status": "Done"}},
            {"fields": {"GitHub Issue": issue + "9", "Name": "New one", "Status": "Todo"}},
        ],
        key_fields=["GitHub Issue"],
    )
    assert len(result["updatedRecords"]) == 1 and len(result["createdRecords"]) == 1
    by_issue = {r["fields"]["GitHub Issue"]: r for r in result["records"]}
    assert by_issue[issue + "1"]["id"] == result["updatedRecords"][0]
    assert by_issue[issue + "1"]["fields"]["Name"] == "Deploy the hub"
    assert by_issue[issue + "1"]["fields"]["Status"] == "Done"
    assert by_issue[issue + "9"]["id"] == result["createdRecords"][0]
    assert len(table.all()) == 4
    # PUT upsert replaces the matched record's other fields.
    replaced = table.batch_upsert(
        [{"fields": {"GitHub Issue": issue + "9", "Status": "Done"}}],
        key_fields=["GitHub Issue"],
        replace=True,
    )
    assert replaced["records"][0]["fields"] == {"GitHub Issue": issue + "9", "Status": "Done"}
    # Two records with the same key: an upsert on it fails and changes nothing.
    table.create({"Name": "Twin", "GitHub Issue": issue + "9"})
    with pytest.raises(requests.HTTPError) as exc:
        table.batch_upsert(
            [{"fields": {"GitHub Issue": issue + "9", "Status": "Blocked"}}],
            key_fields=["GitHub Issue"],
        )
    assert error_of(exc)[0] == 422
    assert "Blocked" not in {r["fields"].get("Status") for r in table.all()}


def test_upsert_on_a_select_and_a_number(local_airtable: LocalAirtable, types_base: str) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    things.batch_create([{"Name": "a", "Size": "S", "Count": 1}, {"Name": "b", "Size": "M"}])
    result = things.batch_upsert(
        [
            {"fields": {"Size": "S", "Count": 1, "Name": "a2"}},
            {"fields": {"Size": "XL", "Count": 1, "Name": "new"}},
            {"fields": {"Size": "XL", "Count": 1, "Name": "same new"}},
        ],
        key_fields=["Size", "Count"],
        typecast=True,
    )
    assert len(result["updatedRecords"]) == 2 and len(result["createdRecords"]) == 1
    assert sorted(r["fields"]["Name"] for r in things.all()) == ["a2", "b", "same new"]


def test_upsert_response_shape_over_raw_http(local_airtable: LocalAirtable) -> None:
    response = airtable_request(
        local_airtable,
        "PATCH",
        f"/v0/{DEMO_BASE_ID}/Projects",
        json={
            "performUpsert": {"fieldsToMergeOn": ["Name"]},
            "records": [{"fields": {"Name": "Setup workshop hub", "Status": "Complete"}}],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"records", "createdRecords", "updatedRecords"}
    assert body["createdRecords"] == [] and body["updatedRecords"] == [body["records"][0]["id"]]
    # A record with an id is a plain update, even in an upsert.
    record_id = body["records"][0]["id"]
    response = airtable_request(
        local_airtable,
        "PATCH",
        f"/v0/{DEMO_BASE_ID}/Projects",
        json={
            "performUpsert": {"fieldsToMergeOn": ["Name"]},
            "records": [{"id": record_id, "fields": {"Name": "Renamed"}}],
        },
    )
    assert response.json()["updatedRecords"] == [record_id]


# -- links ---------------------------------------------------------------------------------


def test_inverse_links_follow_create_update_and_delete(local_airtable: LocalAirtable) -> None:
    at = local_airtable
    deliverables, projects = at.table(DELIVERABLES), at.table("Projects")
    hub = project_id(at)
    other = projects.create({"Name": "Second project"})["id"]

    def links_of(record_id: str) -> list[str]:
        return list(projects.get(record_id)["fields"].get("Deliverables", []))

    created = deliverables.create({"Name": "New task", "Project": [hub]})
    assert created["id"] in links_of(hub)
    deliverables.update(created["id"], {"Project": [other]})
    assert created["id"] not in links_of(hub)
    assert links_of(other) == [created["id"]]
    # The other direction: writing the project's side moves the deliverable's link.
    projects.update(hub, {"Deliverables": [*links_of(hub), created["id"]]})
    assert deliverables.get(created["id"])["fields"]["Project"] == [other, hub]
    projects.update(other, {"Deliverables": []})
    assert deliverables.get(created["id"])["fields"]["Project"] == [hub]
    # Deleting a record removes it from every link.
    deliverables.delete(created["id"])
    assert created["id"] not in links_of(hub)
    projects.delete(hub)
    assert all("Project" not in d["fields"] for d in deliverables.all())
    engagement = at.table("Engagements").all()[0]
    assert "Projects" not in engagement["fields"]


def test_links_to_missing_records_are_refused(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    with pytest.raises(requests.HTTPError) as exc:
        table.create({"Name": "x", "Project": [MISSING_ID]})
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (422, "ROW_DOES_NOT_EXIST")
    # A record of another table is not a record of the linked table.
    engagement = local_airtable.table("Engagements").all()[0]["id"]
    with pytest.raises(requests.HTTPError) as exc:
        table.create({"Name": "x", "Project": [engagement]})
    assert error_of(exc)[1]["error"]["type"] == "ROW_DOES_NOT_EXIST"


def test_self_links_without_inverse_lose_deleted_records(
    local_airtable: LocalAirtable, types_base: str
) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    first = things.create({"Name": "first"})
    second = things.create({"Name": "second", "Related": [first["id"]]})
    assert things.get(first["id"])["fields"] == {"Name": "first"}
    things.delete(first["id"])
    assert things.get(second["id"])["fields"] == {"Name": "second"}


# -- listing -------------------------------------------------------------------------------


def test_pagination_over_250_records(local_airtable_empty: LocalAirtable) -> None:
    table = local_airtable_empty.table(DELIVERABLES)
    table.batch_create([{"Name": f"Task {i:03d}"} for i in range(250)])
    pages = list(table.iterate(page_size=100))
    assert [len(page) for page in pages] == [100, 100, 50]
    names = [r["fields"]["Name"] for page in pages for r in page]
    assert names == [f"Task {i:03d}" for i in range(250)]
    assert len(table.all(max_records=120, page_size=50)) == 120
    assert len(table.all(max_records=100)) == 100
    assert [r["fields"]["Name"] for r in table.all(sort=["-Name"], max_records=2)] == [
        "Task 249",
        "Task 248",
    ]
    assert table.first(sort=["Name"])["fields"]["Name"] == "Task 000"  # type: ignore[index]


def test_pages_stay_stable_when_records_change_between_them(
    local_airtable_empty: LocalAirtable,
) -> None:
    table = local_airtable_empty.table(DELIVERABLES)
    created = table.batch_create([{"Name": f"Task {i}"} for i in range(30)])
    pages = table.iterate(page_size=10)
    first = next(pages)
    table.delete(created[0]["id"])
    table.create({"Name": "Late"})
    rest = [r["fields"]["Name"] for page in pages for r in page]
    assert [r["fields"]["Name"] for r in first] == [f"Task {i}" for i in range(10)]
    assert rest == [f"Task {i}" for i in range(10, 30)] + ["Late"]


def test_sort_fields_and_field_ids(local_airtable: LocalAirtable, types_base: str) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    things.batch_create(
        [
            {"Name": "b", "Count": 2, "Size": "S"},
            {"Name": "a", "Count": 10, "Size": "M"},
            {"Name": "c"},
            {"Name": "B", "Count": 2, "Size": "M"},
        ]
    )
    names = [r["fields"]["Name"] for r in things.all(sort=["Count", "-Name"])]
    assert names == ["c", "b", "B", "a"]
    # Selects sort by the order of their options, not alphabetically.
    assert [r["fields"]["Name"] for r in things.all(sort=["-Size", "Name"])] == ["a", "B", "b", "c"]
    only = things.all(fields=["Name"], formula=match({"Name": "a"}))
    assert [r["fields"] for r in only] == [{"Name": "a"}]
    by_id = things.all(use_field_ids=True, formula=match({"Name": "a"}))
    schema = things.schema()
    assert by_id[0]["fields"] == {
        schema.field("Name").id: "a",
        schema.field("Count").id: 10,
        schema.field("Size").id: "M",
    }
    assert things.get(by_id[0]["id"], use_field_ids=True)["fields"] == by_id[0]["fields"]
    # The POST form of list records carries the same options in its body.
    options = {
        "sort": [{"field": "Count", "direction": "desc"}],
        "fields": ["Name"],
        "filterByFormula": "{Count} >= 2",
        "pageSize": 2,
    }
    body = things.api.post(things.urls.records_post, json=options)
    assert [r["fields"] for r in body["records"]] == [{"Name": "a"}, {"Name": "b"}]
    following = things.api.post(
        things.urls.records_post, json={**options, "offset": body["offset"]}
    )
    assert [r["fields"] for r in following["records"]] == [{"Name": "B"}]
    assert "offset" not in following


def test_formulas_over_every_field_type(local_airtable: LocalAirtable, types_base: str) -> None:
    things = local_airtable.table("Things", base_id=types_base)
    part = local_airtable.table("Parts", base_id=types_base).create({"Label": "bolt"})
    things.batch_create(
        [
            {
                "Name": "full",
                "Done": True,
                "Tags": ["a", "b"],
                "At": "2026-05-01T10:00:00Z",
                "Parts": [part["id"]],
                "Size": "M",
                "Count": 4,
            },
            {"Name": "empty"},
        ]
    )

    def names(formula: str) -> list[str]:
        return [r["fields"]["Name"] for r in things.all(formula=formula)]

    assert names("{Done}") == ["full"]
    assert names("NOT({Done})") == ["empty"]
    assert names("{Done} = FALSE()") == ["empty"]
    assert names("FIND('b', ARRAYJOIN({Tags}))") == ["full"]
    assert names("{Tags} = BLANK()") == ["empty"]
    assert names("{Parts} = 'bolt'") == ["full"]
    assert names("IS_AFTER({At}, '2026-04-30')") == ["full"]
    assert names("AND({Size} = 'M', {Count} > 3)") == ["full"]
    assert names(f"RECORD_ID() = '{part['id']}'") == []
    assert names("CREATED_TIME() <= NOW()") == ["full", "empty"]


def test_cell_format_string_and_comment_count(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    records = table.all(cell_format="string", time_zone="UTC", user_locale="en-us")
    assert records[0]["fields"]["Project"] == "Setup workshop hub"
    counted = table.all(count_comments=True)
    assert {r["commentCount"] for r in counted} == {0}


# -- formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "O'Brien's hub",
        'say "hi"',
        "{braces} and }",
        "back\\slash\\",
        "Café → 東京 🚀",
        "tab\tand\nnewline",
        "'",
        "\\'",
        "}",
    ],
)
def test_lookup_by_names_that_need_quoting(local_airtable: LocalAirtable, name: str) -> None:
    table = local_airtable.table(DELIVERABLES)
    wanted = table.create({"Name": name})
    table.create({"Name": name + " "})
    assert [r["id"] for r in table.all(formula=match({"Name": name}))] == [wanted["id"]]


@pytest.mark.parametrize("count", [10, 250, 700], ids=["short", "long-get", "post"])
def test_long_formulas_over_get_and_post(local_airtable: LocalAirtable, count: int) -> None:
    # pyairtable sends a GET up to 16,000 characters of URL, then POSTs to listRecords.
    table = local_airtable.table(DELIVERABLES)
    names = [f"Deploy the hub {i}" for i in range(count)] + ["Deploy the hub"]
    found = table.all(formula=OR(*(match({"Name": name}) for name in names)))
    assert [r["fields"]["Name"] for r in found] == ["Deploy the hub"]


def test_urls_over_16000_characters_are_414(local_airtable: LocalAirtable) -> None:
    response = airtable_request(
        local_airtable, "GET", PROJECTS, params={"filterByFormula": "'" + "x" * 16_000 + "'"}
    )
    assert response.status_code == 414
    assert response.json()["error"]["type"] == "URL_TOO_LONG"


def test_linked_fields_give_primary_values_to_formulas(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    found = table.all(formula="FIND('Setup workshop hub', ARRAYJOIN({Project}))")
    assert len(found) == 3
    assert table.all(formula=match({"Project": "Setup workshop hub"})) == found
    assert table.all(formula="AND({Status}='Todo', {Project}='Setup workshop hub')") == [
        r for r in found if r["fields"]["Status"] == "Todo"
    ]
    ids = [r["id"] for r in found[:2]]
    assert [
        r["id"]
        for r in table.all(
            formula=OR(*(match({"Name": n}) for n in ("Deploy the hub", "Configure login")))
        )
    ] == ids


@pytest.mark.parametrize(
    ("formula", "detail"),
    [
        pytest.param("AND(", "", id="syntax"),
        pytest.param("NOSUCHFUNCTION(1)", "", id="unknown-function"),
        pytest.param("{No such field}='x'", "Unknown field names: No such field", id="field"),
    ],
)
def test_bad_formulas_are_422_never_a_match_all(
    local_airtable: LocalAirtable, formula: str, detail: str
) -> None:
    with pytest.raises(requests.HTTPError) as exc:
        local_airtable.table(DELIVERABLES).all(formula=formula)
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (422, "INVALID_FILTER_BY_FORMULA")
    assert detail in body["error"]["message"]


@pytest.fixture(scope="module")
def shared_airtable() -> Iterator[LocalAirtable]:
    """One server for the whole module (property tests run many examples against it)."""
    with LocalAirtable(seed="empty", requests_per_second=None) as at:
        yield at


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=24) | st.sampled_from(["'", "\\", "}", "{", '"', "\\'", "\n"]))
def test_match_finds_exactly_the_records_named_so(
    shared_airtable: LocalAirtable, name: str
) -> None:
    table = shared_airtable.table("Projects")
    created = table.batch_create([{"Name": name}, {"Name": name + "x"}, {"Name": "x" + name}])
    try:
        expected = {r["id"] for r in table.all() if r["fields"].get("Name", "") == name}
        found = {r["id"] for r in table.all(formula=match({"Name": name}))}
        assert found == expected
        assert created[0]["id"] in found
    finally:
        table.batch_delete([r["id"] for r in created])


# -- the ORM -------------------------------------------------------------------------------


def test_pyairtable_orm_reads_linked_records(local_airtable: LocalAirtable) -> None:
    class Project(Model):
        name = F.TextField("Name")
        status = F.SelectField("Status")

        class Meta:
            api_key = "unused"
            base_id = DEMO_BASE_ID
            table_name = "Projects"

    class Deliverable(Model):
        name = F.TextField("Name")
        project = F.SingleLinkField("Project", Project)
        issue = F.UrlField("GitHub Issue")
        status = F.SelectField("Status")

        class Meta:
            api_key = "unused"
            base_id = DEMO_BASE_ID
            table_name = DELIVERABLES

    local_airtable.bind_models(Project, Deliverable)
    deliverable = Deliverable.first(formula=match({"Name": "Configure login"}))
    assert deliverable is not None
    assert deliverable.issue == "https://github.com/example-org/infrastructure/issues/2"
    project = deliverable.project
    assert project is not None and project.name == "Setup workshop hub"
    assert project.status == "In progress"
    deliverable.status = "Done"
    deliverable.save()
    assert local_airtable.table(DELIVERABLES).get(deliverable.id)["fields"]["Status"] == "Done"
    new = Deliverable(name="Via the ORM", project=project, status="Todo")
    new.save()
    project.fetch()
    assert local_airtable.table("Projects").get(project.id)["fields"]["Deliverables"][-1] == new.id


# -- errors --------------------------------------------------------------------------------

BASE = DEMO_BASE_ID
PROJECTS = f"/v0/{BASE}/Projects"
MISSING = f"{PROJECTS}/{MISSING_ID}"
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
    case("bad json", "POST", PROJECTS, 400, "INVALID_REQUEST_BODY", data=b"{", headers=JSON_TYPE),
    case("body not an object", "POST", PROJECTS, 422, BAD_REQUEST, json=[1]),
    case("no fields", "POST", PROJECTS, 422, "INVALID_REQUEST_MISSING_FIELDS", json={}),
    case("unknown body key", "POST", PROJECTS, 422, BAD_REQUEST, json={"fields": {}, "x": 1}),
    case(
        "typecast not a bool",
        "POST",
        PROJECTS,
        422,
        BAD_REQUEST,
        json={"fields": {}, "typecast": "yes"},
    ),
    case("fields not an object", "POST", PROJECTS, 422, BAD_REQUEST, json={"fields": [1]}),
    case(
        "more than 10 created",
        "POST",
        PROJECTS,
        422,
        "INVALID_RECORDS",
        json={"records": [{"fields": {}}] * 11},
    ),
    case("none created", "POST", PROJECTS, 422, "INVALID_RECORDS", json={"records": []}),
    case(
        "more than 10 updated",
        "PATCH",
        PROJECTS,
        422,
        "INVALID_RECORDS",
        json={"records": [{"id": MISSING_ID, "fields": {}}] * 11},
    ),
    case(
        "more than 10 deleted",
        "DELETE",
        PROJECTS,
        422,
        "INVALID_RECORDS",
        params={"records[]": [MISSING_ID] * 11},
    ),
    case(
        "batch update of a missing record",
        "PATCH",
        PROJECTS,
        422,
        "ROW_DOES_NOT_EXIST",
        json={"records": [{"id": MISSING_ID, "fields": {}}]},
    ),
    case(
        "batch delete of a missing record",
        "DELETE",
        PROJECTS,
        422,
        "ROW_DOES_NOT_EXIST",
        params={"records[]": [MISSING_ID]},
    ),
    case(
        "update without id",
        "PATCH",
        PROJECTS,
        422,
        "INVALID_REQUEST_MISSING_FIELDS",
        json={"records": [{"fields": {}}]},
    ),
    case("unknown field", "POST", PROJECTS, 422, "UNKNOWN_FIELD_NAME", json={"fields": {"N": 1}}),
    case(
        "unknown select option",
        "POST",
        PROJECTS,
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
        PROJECTS,
        422,
        BAD_VALUE,
        json={"fields": {"Engagement": "Example University 2026"}},
    ),
    case("upsert on four fields", "PATCH", PROJECTS, 422, BAD_REQUEST, json=upsert(["Name"] * 4)),
    case("upsert on a link", "PATCH", PROJECTS, 422, BAD_REQUEST, json=upsert(["Engagement"])),
    case("upsert on no field", "PATCH", PROJECTS, 422, "UNKNOWN_FIELD_NAME", json=upsert(["N"])),
    case("upsert without the key", "PATCH", PROJECTS, 422, BAD_REQUEST, json=upsert(["Name"])),
    case("page size over 100", "GET", PROJECTS, 422, BAD_REQUEST, params={"pageSize": 101}),
    case("unknown view", "GET", PROJECTS, 422, "VIEW_NAME_NOT_FOUND", params={"view": "Nope"}),
    case("bad offset", "GET", PROJECTS, 422, "INVALID_OFFSET_VALUE", params={"offset": "x"}),
    case(
        "unknown sort field",
        "GET",
        PROJECTS,
        422,
        "UNKNOWN_FIELD_NAME",
        params={"sort[0][field]": "Nope"},
    ),
    case(
        "bad sort direction",
        "GET",
        PROJECTS,
        422,
        BAD_REQUEST,
        params={"sort[0][field]": "Name", "sort[0][direction]": "up"},
    ),
    case(
        "unknown projected field",
        "GET",
        PROJECTS,
        422,
        "UNKNOWN_FIELD_NAME",
        params={"fields[]": "Nope"},
    ),
    case(
        "string cells without a locale",
        "GET",
        PROJECTS,
        422,
        BAD_REQUEST,
        params={"cellFormat": "string"},
    ),
    case("unknown list option", "POST", f"{PROJECTS}/listRecords", 422, BAD_REQUEST, json={"x": 1}),
    case(
        "formula not text",
        "POST",
        f"{PROJECTS}/listRecords",
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


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token",
        "local",
        "Basic bG9jYWw=",
        "Bearer localx",
        "Bearer lòcal".encode(),
    ],
    ids=["missing", "wrong", "no-scheme", "basic", "longer", "non-ascii"],
)
def test_bad_tokens_are_401(local_airtable: LocalAirtable, header: str | bytes | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = requests.get(local_airtable.url + PROJECTS, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "AUTHENTICATION_REQUIRED"
    with pytest.raises(requests.HTTPError) as exc:
        Api("wrong", endpoint_url=local_airtable.url).table(BASE, "Projects").all()
    assert error_of(exc)[0] == 401


def test_oversized_bodies_are_413(local_airtable_factory: Callable[..., LocalAirtable]) -> None:
    at = local_airtable_factory(seed="demo", max_body_bytes=4000)
    table = at.table(DELIVERABLES)
    assert table.create({"Name": "x" * 1000})["fields"]["Name"] == "x" * 1000
    with pytest.raises(requests.HTTPError) as exc:
        table.create({"Name": "x" * 5000})
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (413, "REQUEST_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"fields": {"Name": "'
        yield b"x" * 5000
        yield b'"}}'

    response = airtable_request(
        at,
        "POST",
        f"/v0/{BASE}/{DELIVERABLES}",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert len(table.all()) == 4


def test_rate_limit_429_then_recovery(local_airtable_factory: Callable[..., LocalAirtable]) -> None:
    at = local_airtable_factory(seed="demo", requests_per_second=3, penalty_seconds=0.3)
    other = "appOtherBase00001"
    at.store.create_base(other, TYPES_SPEC)
    path = f"/v0/{BASE}/Projects"
    statuses = [airtable_request(at, "GET", path).status_code for _ in range(3)]
    limited = airtable_request(at, "GET", path)
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert limited.json() == {
        "errors": [
            {
                "error": "RATE_LIMIT_REACHED",
                "message": "Rate limit exceeded. Please try again later",
            }
        ]
    }
    # The base stays limited for the penalty, however slowly it is called; others are not.
    time.sleep(0.15)
    assert airtable_request(at, "GET", path).status_code == 429
    assert airtable_request(at, "GET", f"/v0/{other}/Things").status_code == 200
    time.sleep(0.3)
    assert airtable_request(at, "GET", path).status_code == 200
    stats = at.stats()
    assert (stats.requests, stats.rate_limited, stats.served) == (6, 2, 4)
    # The limit can be changed while the server runs.
    at.set_rate_limit(None)
    assert all(airtable_request(at, "GET", path).status_code == 200 for _ in range(10))
    at.reset_stats()
    assert at.stats().requests == 0


def test_rate_limiter_window_and_penalty() -> None:
    now = [100.0]
    limiter = RateLimiter(2, penalty_seconds=5, clock=lambda: now[0])
    assert [limiter.admit("a"), limiter.admit("a"), limiter.admit("a")] == [True, True, False]
    now[0] += 4.9
    assert not limiter.admit("a")
    now[0] += 0.2
    assert limiter.admit("a") and limiter.admit("b")
    now[0] += 0.5
    assert limiter.admit("a") and not limiter.admit("a")
    assert limiter.all_stats()["a"].rate_limited == 3
    limiter.configure(0)
    assert all(limiter.admit("a") for _ in range(50))


# -- consistency ---------------------------------------------------------------------------


def test_batches_are_all_or_nothing(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    hub = project_id(local_airtable)
    before_projects = local_airtable.table("Projects").all()
    before = table.all()
    with pytest.raises(requests.HTTPError):
        table.batch_create(
            [
                {"Name": "ok", "Project": [hub]},
                {"Name": "ok too", "Status": "Brand new", "Project": [hub]},
                {"Name": "bad", "Project": [MISSING_ID]},
            ],
            typecast=True,
        )
    with pytest.raises(requests.HTTPError):
        table.batch_update(
            [
                {"id": before[0]["id"], "fields": {"Project": []}},
                {"id": before[1]["id"], "fields": {"Status": "Nope"}},
            ]
        )
    with pytest.raises(requests.HTTPError):
        table.batch_delete([before[0]["id"], MISSING_ID])
    assert table.all() == before
    assert local_airtable.table("Projects").all() == before_projects
    status = table.schema(force=True).field("Status")
    assert "Brand new" not in [c.name for c in status.options.choices]  # type: ignore[union-attr]


def test_concurrent_writers_lose_nothing(local_airtable: LocalAirtable) -> None:
    hub = project_id(local_airtable)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            table = local_airtable.table(DELIVERABLES)
            for batch in range(5):
                table.batch_create(
                    [{"Name": f"w{n}-{batch}-{i}", "Project": [hub]} for i in range(4)]
                )
                table.update(
                    table.first(formula=match({"Name": f"w{n}-{batch}-0"}))["id"],  # type: ignore[index]
                    {"Status": "Done"},
                )
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    records = local_airtable.table(DELIVERABLES).all()
    assert len(records) == 3 + 8 * 5 * 4
    assert sum(r["fields"].get("Status") == "Done" for r in records) == 8 * 5
    links = local_airtable.table("Projects").get(hub)["fields"]["Deliverables"]
    assert sorted(links) == sorted(r["id"] for r in records)


def test_data_outlives_a_restart(tmp_path: Any) -> None:
    db = tmp_path / "airtable.sqlite3"
    with LocalAirtable(seed="demo", db_path=db, requests_per_second=None) as at:
        created = at.table(DELIVERABLES).create(
            {"Name": "Persisted", "Status": "Later", "Project": [project_id(at)]}, typecast=True
        )
        at.store.rename_field(DEMO_BASE_ID, DELIVERABLES, "Assignees", "People")
        at.table(DELIVERABLES).update(created["id"], {"People": "carol"})
        before = {name: at.table(name).all() for name in at.store.table_names(DEMO_BASE_ID)}
        schema = at.store.schema(DEMO_BASE_ID)
    with LocalAirtable(seed="demo", db_path=db, requests_per_second=None) as at:
        after = {name: at.table(name).all() for name in at.store.table_names(DEMO_BASE_ID)}
        assert after == before
        assert at.store.schema(DEMO_BASE_ID) == schema
        record = at.table(DELIVERABLES).get(created["id"])
        assert record["fields"]["People"] == "carol"
        assert record["fields"]["Status"] == "Later"


# -- schema changes (used to test the bot's check command) ---------------------------------


def test_schema_changes(local_airtable: LocalAirtable) -> None:
    at, store = local_airtable, local_airtable.store
    table = at.table(DELIVERABLES)
    store.rename_field(BASE, DELIVERABLES, "GitHub Issue", "Issue")
    assert table.first()["fields"]["Issue"].endswith("/issues/1")  # type: ignore[index]
    with pytest.raises(requests.HTTPError) as exc:
        table.all(formula=match({"GitHub Issue": "x"}))
    assert error_of(exc)[1]["error"]["type"] == "INVALID_FILTER_BY_FORMULA"
    store.remove_select_option(BASE, DELIVERABLES, "Status", "Todo")
    assert [r["fields"].get("Status") for r in table.all()] == ["In progress", "In progress", None]
    store.change_field_type(BASE, DELIVERABLES, "Status", "singleLineText")
    assert table.first()["fields"]["Status"] == "In progress"  # type: ignore[index]
    assert table.schema(force=True).field("Status").type == "singleLineText"
    store.change_field_type(BASE, DELIVERABLES, "Status", "multipleSelects")
    assert table.first()["fields"]["Status"] == ["In progress"]  # type: ignore[index]
    store.change_field_type(BASE, DELIVERABLES, "Project", "singleLineText")
    assert table.first()["fields"]["Project"] == "Setup workshop hub"  # type: ignore[index]
    assert "Deliverables" not in at.table("Projects").first()["fields"]  # type: ignore[index]
    field_id = store.add_field(BASE, DELIVERABLES, {"name": "Points", "type": "number"})
    assert table.schema(force=True).field("Points").id == field_id
    store.remove_field(BASE, DELIVERABLES, "Points")
    store.rename_table(BASE, DELIVERABLES, "Tasks")
    assert len(at.table("Tasks").all()) == 3
    store.add_select_option(BASE, "Projects", "Status", "Paused")
    assert at.table("Projects").create({"Status": "Paused"}, typecast=False)
    with pytest.raises(KeyError):
        store.remove_select_option(BASE, "Projects", "Status", "Nope")
    with pytest.raises(ValueError):
        store.remove_field(BASE, "Projects", "Name")
    with pytest.raises(ValueError):
        store.change_field_type(BASE, "Projects", "Name", "multipleRecordLinks")


def test_add_and_remove_link_fields(local_airtable: LocalAirtable) -> None:
    store = local_airtable.store
    store.add_field(
        BASE,
        "Contracts",
        {"name": "Projects", "type": "multipleRecordLinks", "options": {"linkedTable": "Projects"}},
    )
    projects = local_airtable.table("Projects").schema(force=True)
    assert projects.field("Contracts").type == "multipleRecordLinks"
    contract = local_airtable.table("Contracts").all()[0]
    hub = project_id(local_airtable)
    local_airtable.table("Contracts").update(contract["id"], {"Projects": [hub]})
    assert local_airtable.table("Projects").get(hub)["fields"]["Contracts"] == [contract["id"]]
    store.remove_field(BASE, "Contracts", "Projects")
    assert "Contracts" not in local_airtable.table("Projects").get(hub)["fields"]


def test_a_failed_seed_leaves_no_base(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.airtable_local import seeds

    seed = seeds.read_seed("demo")
    seed["records"]["Projects"][0]["Engagement"] = ["No such engagement"]
    monkeypatch.setattr(seeds, "read_seed", lambda name: seed)
    with Store() as store:
        with pytest.raises(ValueError, match="No such engagement"):
            store.seed("demo")
        assert store.base_ids() == []
        with pytest.raises(KeyError):
            store.delete_base(DEMO_BASE_ID)


def test_local_airtable_without_a_base(
    local_airtable_factory: Callable[..., LocalAirtable],
) -> None:
    at = local_airtable_factory(seed=None)
    assert at.base_id is None and at.store.base_ids() == []
    with pytest.raises(ValueError):
        at.table("Projects")
    with pytest.raises(ValueError):
        at.stats()
    with pytest.raises(RuntimeError):
        at.start()
    assert at.api().bases() == []


def test_base_specs_are_checked() -> None:
    with Store() as store:
        with pytest.raises(ValueError, match="base id"):
            store.create_base("nope", TYPES_SPEC)
        store.create_base("appSpecBase000001", TYPES_SPEC)
        with pytest.raises(ValueError, match="exists"):
            store.create_base("appSpecBase000001", TYPES_SPEC)
        with pytest.raises(ValueError, match="unknown seed"):
            store.seed("nope")
    text = {"name": "A", "type": "singleLineText"}

    def link(**options: str) -> dict[str, Any]:
        return {"name": "L", "type": "multipleRecordLinks", "options": options}

    def base(*fields: dict[str, Any], **table: Any) -> dict[str, Any]:
        return {"tables": [{"name": "T", "fields": list(fields), **table}]}

    bad_specs: list[dict[str, Any]] = [
        {"tables": []},
        base(),
        base({"name": "A", "type": "formula"}),
        base(text, text),
        {"tables": base(text)["tables"] * 2},
        base(text, primaryField="B"),
        base(text, link(linkedTable="T"), primaryField="L"),
        base(link(linkedTable="Nope")),
        base({"name": "A", "type": "singleSelect", "options": {"choices": ["x", "x"]}}),
        # An inverse that is not a link, or that links to another table.
        base(text, link(linkedTable="T", inverseField="A")),
        {
            "tables": [
                base(text, link(linkedTable="U", inverseField="M"))["tables"][0],
                {"name": "U", "fields": [text, {**link(linkedTable="U"), "name": "M"}]},
            ]
        },
    ]
    for spec in bad_specs:
        with pytest.raises(ValueError):
            build_base("appSpecBase000001", spec)
    # A spec round-trips through the metadata form it is persisted in.
    built = build_base("appSpecBase000001", TYPES_SPEC)
    assert build_base("appSpecBase000001", built.to_spec()) == built


def test_list_query_parsing_errors() -> None:
    with pytest.raises(AirtableError):
        ListQuery.from_json({"sort": "Name"})
    with pytest.raises(AirtableError):
        ListQuery.from_json({"maxRecords": 0})
    with pytest.raises(AirtableError):
        ListQuery.from_json({"returnFieldsByFieldId": "maybe"})
    assert ListQuery.from_json({"returnFieldsByFieldId": 1, "pageSize": "5"}).page_size == 5


# -- the command's entry point -------------------------------------------------------------


async def test_run_prints_where_it_serves_and_serves(tmp_path: Any) -> None:
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(
        run(
            port=0,
            db_path=tmp_path / "db.sqlite3",
            seed="demo",
            token="secret-token",
            requests_per_second=None,
            stop=stop,
            out=out,
        )
    )
    for _ in range(200):
        if out.getvalue():
            break
        await asyncio.sleep(0.01)
    banner = out.getvalue()
    url = re.search(r"http://127\.0\.0\.1:\d+", banner)
    assert url is not None and DEMO_BASE_ID in banner and "secret-token" not in banner
    response = await asyncio.to_thread(
        requests.get,
        f"{url.group(0)}/v0/{DEMO_BASE_ID}/Projects",
        headers={"Authorization": "Bearer secret-token"},
        timeout=10,
    )
    assert response.json()["records"][0]["fields"]["Name"] == "Setup workshop hub"
    stop.set()
    await asyncio.wait_for(task, 10)
