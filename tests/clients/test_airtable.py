"""The Airtable lane against the embedded server: batching, caching, refusals."""

from __future__ import annotations

import asyncio

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable import AirtableError, AirtableLane
from bot.config import AirtableSettings, Config
from bot.metrics import Metrics

DELIVERABLES = "Project Deliverables"


def make_lane(at: LocalAirtable) -> AirtableLane:
    config = Config(
        airtable_token=at.token,
        airtable_endpoint_url=at.url,
        airtable_base_id=at.base_id,
        airtable=AirtableSettings(requests_per_second=100, batch_wait_seconds=0.02),
    )
    assert at.base_id is not None
    return AirtableLane(config, at.base_id, metrics=Metrics())


async def test_writes_share_a_request_and_update_the_cache(local_airtable: LocalAirtable) -> None:
    lane = make_lane(local_airtable)
    records = await lane.table_records(DELIVERABLES)
    local_airtable.reset_stats()
    await asyncio.gather(*(lane.update(DELIVERABLES, rid, {"Assignees": "zed"}) for rid in records))
    assert local_airtable.stats().requests == 1  # three records, one batch
    cached = await lane.table_records(DELIVERABLES)
    assert {r["fields"]["Assignees"] for r in cached.values()} == {"zed"}
    assert local_airtable.stats().requests == 1  # served from the snapshot
    await lane.close()


async def test_one_refused_record_does_not_sink_its_batch(local_airtable: LocalAirtable) -> None:
    lane = make_lane(local_airtable)
    good, bad, other = list(await lane.table_records(DELIVERABLES))
    results = await asyncio.gather(
        lane.update(DELIVERABLES, good, {"Status": "Done"}),
        lane.update(DELIVERABLES, bad, {"Status": "No such option"}),
        lane.update(DELIVERABLES, other, {"Status": "Blocked"}),
        return_exceptions=True,
    )
    assert isinstance(results[1], AirtableError)
    assert results[1].status == 422
    statuses = {
        r["id"]: r["fields"].get("Status") for r in local_airtable.table(DELIVERABLES).all()
    }
    assert statuses[good] == "Done"
    assert statuses[other] == "Blocked"
    assert statuses[bad] != "No such option"
    await lane.close()


async def test_unknown_table_is_a_permanent_error(local_airtable: LocalAirtable) -> None:
    lane = make_lane(local_airtable)
    with pytest.raises(AirtableError) as error:
        await lane.table_records("No such table")
    assert error.value.status == 403
    assert not error.value.retriable
    await lane.close()
