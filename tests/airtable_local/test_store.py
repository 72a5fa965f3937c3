"""Tests of the store (:mod:`bot.airtable_local.store`): concurrent writers, persistence,
schema changes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from pyairtable.formulas import match

from bot.airtable_local import DEMO_BASE_ID
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_local.support import (
    BASE,
    changed_since,
    error_of,
    holds,
    moment,
    project_id,
)
from tests.constants import DELIVERABLES, PROJECTS


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


# --- modification times ------------------------------------------------------------------


def test_writes_stamp_the_records_they_change(local_airtable: LocalAirtable) -> None:
    deliverables, projects = local_airtable.table(DELIVERABLES), local_airtable.table(PROJECTS)
    hub = project_id(local_airtable)
    since = moment()
    assert changed_since(deliverables, since) == changed_since(projects, since) == set()

    created = deliverables.create({"Name": "New", "Status": "Todo"})["id"]
    assert changed_since(deliverables, since) == {created}
    assert changed_since(projects, since) == set()

    since = moment()
    deliverables.update(created, {"Project": [hub]})
    assert changed_since(deliverables, since) == {created}
    assert changed_since(projects, since) == {hub}  # its inverse link gained the record

    since = moment()
    deliverables.update(created, {"Name": "New", "Status": "Todo", "Project": [hub]})
    assert changed_since(deliverables, since) == changed_since(projects, since) == set()

    since = moment()
    deliverables.update(created, {"Project": []})
    assert changed_since(deliverables, since) == {created}
    assert changed_since(projects, since) == {hub}

    since = moment()
    projects.update(hub, {"Deliverables": [*projects.get(hub)["fields"]["Deliverables"], created]})
    assert changed_since(projects, since) == {hub}
    assert changed_since(deliverables, since) == {created}  # written through the other side

    since = moment()
    deliverables.delete(created)
    assert changed_since(projects, since) == {hub}  # the deleted record left its links


def test_upserts_and_typecast_creations_are_stamped(local_airtable: LocalAirtable) -> None:
    deliverables, projects = local_airtable.table(DELIVERABLES), local_airtable.table(PROJECTS)
    kept = deliverables.create({"Name": "Kept", "Status": "Todo"})["id"]
    since = moment()
    result = deliverables.batch_upsert(
        [{"fields": {"Name": "Kept", "Status": "Done"}}, {"fields": {"Name": "Fresh"}}],
        key_fields=["Name"],
    )
    assert result["updatedRecords"] == [kept]
    assert changed_since(deliverables, since) == {kept, *result["createdRecords"]}

    since = moment()
    deliverables.batch_upsert([{"fields": {"Name": "Kept", "Status": "Done"}}], key_fields=["Name"])
    assert changed_since(deliverables, since) == set()  # the same values again

    since = moment()
    typecast = deliverables.create(
        {"Name": "Typecast", "Status": "Brand new", "Project": ["A new project"]}, typecast=True
    )
    new_project = typecast["fields"]["Project"][0]
    assert changed_since(deliverables, since) == {typecast["id"]}
    assert changed_since(projects, since) == {new_project}
    # Created by the write with its name and the link back: never modified since.
    assert holds(projects, new_project, "LAST_MODIFIED_TIME() = CREATED_TIME()")
    assert holds(projects, new_project, "LAST_MODIFIED_TIME({Deliverables}) = CREATED_TIME()")


def test_field_times(local_airtable_empty: LocalAirtable) -> None:
    table = local_airtable_empty.table(DELIVERABLES)
    record = table.create({"Name": "A", "Status": "Todo"})
    record_id, created = record["id"], record["createdTime"]
    for formula in (
        f"LAST_MODIFIED_TIME() & '' = '{created}'",
        f"LAST_MODIFIED_TIME({{Status}}) & '' = '{created}'",
        f"LAST_MODIFIED_TIME({{Name}}, {{Assignees}}) & '' = '{created}'",
        "LAST_MODIFIED_TIME({Assignees}) = BLANK()",
        "LAST_MODIFIED_TIME({Assignees}, {Completed}) = BLANK()",
    ):
        assert holds(table, record_id, formula), formula

    since = moment()
    table.update(record_id, {"Status": "Done"})
    after = moment()
    status_changed = f"IS_AFTER(LAST_MODIFIED_TIME({{Status}}), DATETIME_PARSE('{since}'))"
    for formula, expected in (
        (status_changed, True),
        (f"IS_BEFORE(LAST_MODIFIED_TIME({{Status}}), DATETIME_PARSE('{after}'))", True),
        (f"IS_AFTER(LAST_MODIFIED_TIME({{Name}}), DATETIME_PARSE('{since}'))", False),
        ("LAST_MODIFIED_TIME({Name}, {Status}) = LAST_MODIFIED_TIME({Status})", True),
        ("LAST_MODIFIED_TIME() = LAST_MODIFIED_TIME({Status})", True),
        (f"CREATED_TIME() & '' = '{created}'", True),
    ):
        assert holds(table, record_id, formula) is expected, formula

    since = moment()
    table.update(record_id, {"Assignees": "carol", "Status": None})
    assert "Status" not in table.get(record_id)["fields"]
    # Clearing a field is a change to it.
    assert holds(table, record_id, f"IS_AFTER(LAST_MODIFIED_TIME({{Status}}), '{since}')")
    assert not holds(table, record_id, "LAST_MODIFIED_TIME({Assignees}) = BLANK()")

    since = moment()
    table.update(record_id, {"Name": "A"}, replace=True)  # PUT clears the rest
    assert holds(table, record_id, f"IS_AFTER(LAST_MODIFIED_TIME({{Assignees}}), '{since}')")
    assert not holds(table, record_id, f"IS_AFTER(LAST_MODIFIED_TIME({{Name}}), '{since}')")


def test_schema_changes_that_change_values_stamp_them(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    todo = {r["id"] for r in table.all() if r["fields"].get("Status") == "Todo"}
    assert todo
    since = moment()
    local_airtable.store.rename_field(BASE, DELIVERABLES, "Assignees", "People")
    assert changed_since(table, since) == set()
    local_airtable.store.remove_select_option(BASE, DELIVERABLES, "Status", "Todo")
    assert changed_since(table, since) == todo


def test_modification_times_outlive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "airtable.sqlite3"
    with LocalAirtable(seed="demo", db_path=db, requests_per_second=None) as at:
        table = at.table(DELIVERABLES)
        record_id = table.first()["id"]  # type: ignore[index]
        since = moment()
        table.update(record_id, {"Status": "Done"})
        after = moment()
        formulas = [
            f"IS_AFTER(LAST_MODIFIED_TIME({{Status}}), '{since}')",
            f"IS_BEFORE(LAST_MODIFIED_TIME({{Status}}), '{after}')",
            f"IS_AFTER(LAST_MODIFIED_TIME(), '{since}')",
            f"IS_AFTER(LAST_MODIFIED_TIME({{Name}}), '{since}')",
            "LAST_MODIFIED_TIME({Name}) = CREATED_TIME()",
            "LAST_MODIFIED_TIME({Completed}) = BLANK()",
        ]
        before = [holds(table, record_id, formula) for formula in formulas]
        assert before == [True, True, True, False, True, True]
        unchanged = changed_since(table, since)
    with LocalAirtable(seed="demo", db_path=db, requests_per_second=None) as at:
        table = at.table(DELIVERABLES)
        assert [holds(table, record_id, formula) for formula in formulas] == before
        assert changed_since(table, since) == unchanged == {record_id}


# The records table as it was before modification times were kept.
OLD_SQL_SCHEMA = """
CREATE TABLE bases (id TEXT PRIMARY KEY, schema TEXT NOT NULL);
CREATE TABLE records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    base_id TEXT NOT NULL,
    table_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_time TEXT NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE (base_id, id)
);
"""


def old_format_copy(source: Path, target: Path) -> None:
    """Write the bases and records of the database ``source`` to ``target`` in the old format."""
    with sqlite3.connect(target) as conn:
        conn.executescript(OLD_SQL_SCHEMA)
        conn.execute("ATTACH DATABASE ? AS new", (str(source),))
        conn.execute("INSERT INTO bases SELECT id, schema FROM new.bases")
        conn.execute(
            "INSERT INTO records (base_id, table_id, id, created_time, fields)"
            " SELECT base_id, table_id, id, created_time, fields FROM new.records ORDER BY seq"
        )
    conn.close()


def test_a_database_from_before_modification_times_is_migrated(tmp_path: Path) -> None:
    new_db, old_db = tmp_path / "new.sqlite3", tmp_path / "old.sqlite3"
    with LocalAirtable(seed="demo", db_path=new_db, requests_per_second=None) as at:
        expected = {name: at.table(name).all() for name in at.store.table_names(DEMO_BASE_ID)}
    old_format_copy(new_db, old_db)

    with LocalAirtable(seed="demo", db_path=old_db, requests_per_second=None) as at:
        assert {name: at.table(name).all() for name in expected} == expected
        table = at.table(DELIVERABLES)
        records = table.all()
        for record in records:
            # Records from before the times were kept count as last modified when created.
            assert holds(table, record["id"], "LAST_MODIFIED_TIME() = CREATED_TIME()")
            for name in ("Name", "Status", "Completed"):
                if name in record["fields"]:
                    assert holds(
                        table, record["id"], f"LAST_MODIFIED_TIME({{{name}}}) = CREATED_TIME()"
                    )
                else:
                    assert holds(table, record["id"], f"LAST_MODIFIED_TIME({{{name}}}) = BLANK()")
        since = moment()
        assert changed_since(table, since) == set()
        table.update(records[0]["id"], {"Status": "Done"})
        assert changed_since(table, since) == {records[0]["id"]}

    with sqlite3.connect(old_db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
    conn.close()
    assert columns[-1] == "modified_times"
    with LocalAirtable(seed="demo", db_path=old_db, requests_per_second=None) as at:
        table = at.table(DELIVERABLES)
        assert changed_since(table, since) == {records[0]["id"]}
        assert holds(table, records[1]["id"], "LAST_MODIFIED_TIME() = CREATED_TIME()")
