"""Tests of the store (:mod:`bot.airtable_local.store`): concurrent writers, persistence,
schema changes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from pyairtable.formulas import match

from bot.airtable_local import DEMO_BASE_ID
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_local.support import (
    BASE,
    error_of,
    project_id,
)
from tests.constants import DELIVERABLES


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
