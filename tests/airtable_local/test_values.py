"""Tests of cell values (:mod:`bot.airtable_local.values`): each field type, wrong types,
typecasts."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bot.airtable_local.thread import LocalAirtable
from tests.airtable_local.support import (
    error_of,
)


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
