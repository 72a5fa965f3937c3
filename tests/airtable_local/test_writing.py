"""Tests of writing records (:mod:`bot.airtable_local.writing`): select options, links, upserts."""

from __future__ import annotations

import pytest
import requests

from bot.airtable_local.thread import LocalAirtable
from tests.airtable_local.support import (
    MISSING_ID,
    error_of,
    project_id,
)
from tests.constants import DELIVERABLES


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
