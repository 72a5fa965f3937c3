"""Tests of write transactions (:mod:`bot.airtable_local.rows`): a batch is all or nothing."""

from __future__ import annotations

import pytest
import requests

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
