"""Tests of list-records options (:mod:`bot.airtable_local.query`)."""

from __future__ import annotations

import pytest

from bot.airtable_local.errors import AirtableError
from bot.airtable_local.query import ListQuery


def test_list_query_parsing_errors() -> None:
    with pytest.raises(AirtableError):
        ListQuery.from_json({"sort": "Name"})
    with pytest.raises(AirtableError):
        ListQuery.from_json({"maxRecords": 0})
    with pytest.raises(AirtableError):
        ListQuery.from_json({"returnFieldsByFieldId": "maybe"})
    assert ListQuery.from_json({"returnFieldsByFieldId": 1, "pageSize": "5"}).page_size == 5
