"""Tests of reading records (:mod:`bot.airtable_local.reading`): pages, sorting, formula filters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyairtable import formulas as F
from pyairtable.formulas import OR, match

from bot.airtable_local.thread import LocalAirtable
from tests.airtable_local.support import (
    error_of,
    moment,
)
from tests.constants import DELIVERABLES


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
        pytest.param(
            "LAST_MODIFIED_TIME('Status')", "takes field references", id="last-modified-text"
        ),
        pytest.param(
            "LAST_MODIFIED_TIME({Name}, 1)", "takes field references", id="last-modified-number"
        ),
        pytest.param(
            "IS_AFTER(LAST_MODIFIED_TIME({Nope}), NOW())",
            "Unknown field names: Nope",
            id="last-modified-unknown-field",
        ),
        pytest.param("CREATED_TIME({Name})", "takes no arguments", id="created-time-argument"),
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


def test_reading_only_what_changed_with_pyairtable_formulas(
    local_airtable_empty: LocalAirtable,
) -> None:
    table = local_airtable_empty.table(DELIVERABLES)
    old = [r["id"] for r in table.batch_create([{"Name": f"Old {i}"} for i in range(30)])]
    since = moment()
    new = table.create({"Name": "New"})["id"]
    table.update(old[7], {"Status": "Done"})
    after = F.DATETIME_PARSE(since)
    changed = F.OR(F.IS_AFTER(F.LAST_MODIFIED_TIME(), after), F.IS_AFTER(F.CREATED_TIME(), after))
    assert {r["id"] for r in table.all(formula=changed)} == {new, old[7]}
    status = F.IS_AFTER(F.LAST_MODIFIED_TIME(F.Field("Status"), F.Field("Assignees")), after)
    assert [r["id"] for r in table.all(formula=status)] == [old[7]]
    earlier = F.IS_BEFORE(F.LAST_MODIFIED_TIME(), after)
    assert {r["id"] for r in table.all(formula=earlier)} == set(old) - {old[7]}
    # Over POST as well (pyairtable switches for long formulas).
    long = F.OR(changed, *(F.EQ(F.Field("Name"), f"none {i}") for i in range(400)))
    assert {r["id"] for r in table.all(formula=long)} == {new, old[7]}
