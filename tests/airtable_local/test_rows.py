"""Tests of write transactions (:mod:`bot.airtable_local.rows`): a batch is all or nothing."""

from __future__ import annotations

import pytest
import requests

from bot.airtable_local.rows import Row
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_local.support import (
    MISSING_ID,
    project_id,
)
from tests.constants import DELIVERABLES


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


def test_a_row_is_last_modified_at_its_latest_field_time_or_its_creation() -> None:
    created = "2026-12-01T10:00:00.000Z"
    assert Row("recAAAAAAAAAAAAAA", created, {}).last_modified == created
    row = Row("recAAAAAAAAAAAAAA", created, {"fldA": "x"}, {"fldA": "2026-12-02T04:00:00.000Z"})
    assert row.last_modified == "2026-12-02T04:00:00.000Z"
    copy = row.copy()
    copy.stamp(["fldB"], "2026-12-02T05:00:00.000Z")
    copy.stamp(["fldA"], "2026-12-02T04:30:00.000Z")
    assert copy.modified == {"fldA": "2026-12-02T04:30:00.000Z", "fldB": "2026-12-02T05:00:00.000Z"}
    assert copy.last_modified == "2026-12-02T05:00:00.000Z"
    assert row.modified == {"fldA": "2026-12-02T04:00:00.000Z"}  # the committed row is untouched
    assert row.last_modified == "2026-12-02T04:00:00.000Z"
