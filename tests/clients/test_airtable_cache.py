"""The lane's read cache against the embedded Airtable: whole tables page after page, the
issue index kept true by the lane's own writes, expiry, and writes that land mid-load."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable_cache import TableCache
from tests.clients.lanes import make_lane
from tests.constants import DELIVERABLES, OWNER, REPO

ISSUE = "GitHub Issue"


def url(number: int) -> str:
    """The web URL of an issue of the demo repository."""
    return f"https://github.com/{OWNER}/{REPO}/issues/{number}"


async def test_a_table_is_read_whole_page_after_page(local_airtable_empty: LocalAirtable) -> None:
    writer = make_lane(local_airtable_empty)
    await asyncio.gather(
        *(writer.create(DELIVERABLES, {"Name": f"d{n}", ISSUE: url(n)}) for n in range(1, 151))
    )
    await writer.close()
    local_airtable_empty.reset_stats()
    lane = make_lane(local_airtable_empty)
    records, again = await asyncio.gather(
        lane.table_records(DELIVERABLES), lane.table_records(DELIVERABLES)
    )
    assert len(records) == 150 and again is records
    assert local_airtable_empty.stats().requests == 2  # one load, 100 records a page
    found = await lane.find_deliverable(url(42).upper())
    assert found is not None and found["fields"]["Name"] == "d42"
    await lane.close()


async def test_the_issue_index_follows_the_lanes_own_writes(
    local_airtable: LocalAirtable,
) -> None:
    lane = make_lane(local_airtable)
    record = await lane.find_deliverable(url(1))
    assert record is not None
    local_airtable.reset_stats()
    await lane.update(DELIVERABLES, record["id"], {ISSUE: url(99)})
    moved = await lane.find_deliverable(url(99))
    assert moved is not None and moved["id"] == record["id"]
    assert await lane.find_deliverable(url(1)) is None
    created = await lane.create(DELIVERABLES, {"Name": "new", ISSUE: url(100)})
    assert await lane.find_deliverable(url(100)) == created
    assert local_airtable.stats().requests == 2  # the two writes; every read from the cache
    await lane.close()


async def test_a_snapshot_is_read_again_once_it_expires(local_airtable: LocalAirtable) -> None:
    lane = make_lane(local_airtable, cache_ttl_seconds=0.3)
    record = await lane.find_deliverable(url(1))
    assert record is not None
    local_airtable.table(DELIVERABLES).update(record["id"], {"Name": "renamed elsewhere"})
    cached = await lane.table_records(DELIVERABLES)
    assert cached[record["id"]]["fields"]["Name"] == record["fields"]["Name"]
    await asyncio.sleep(0.4)
    fresh = await lane.table_records(DELIVERABLES)
    assert fresh[record["id"]]["fields"]["Name"] == "renamed elsewhere"
    await lane.close()


async def test_a_write_that_lands_while_the_table_loads_is_kept(
    local_airtable: LocalAirtable,
) -> None:
    table = local_airtable.table(DELIVERABLES)
    target = next(r for r in table.all() if r["fields"].get(ISSUE) == url(2))

    async def read_page(name: str, offset: str | None) -> dict[str, Any]:
        page = await asyncio.to_thread(table.api.get, table.urls.records, params={"pageSize": 100})
        # The lane's write of the record is answered after this page was read, before the
        # snapshot lands: the page still shows the record as it was.
        written = dict(table.update(target["id"], {ISSUE: url(77)}))
        cache.remember(name, written)
        return dict(page)

    cache = TableCache(read_page, ttl=60, issue_table=DELIVERABLES, issue_field=ISSUE)
    snapshot = await cache.snapshot(DELIVERABLES)
    assert snapshot.records[target["id"]]["fields"][ISSUE] == url(77)
    assert snapshot.by_issue[f"{OWNER}/{REPO}#77"] == target["id"]
    assert f"{OWNER}/{REPO}#2" not in snapshot.by_issue
