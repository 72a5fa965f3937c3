"""The lane's read cache against the embedded Airtable: whole tables page after page, then
only what changed (one request however large the table), deletions seen by the whole read
in the background, the fallback when a change read is refused, the issue index kept true
by the lane's own writes and by others', and writes that land mid-read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable_cache import ChangeReadRefused, TableCache, changed_since_formula
from tests.clients.lanes import make_lane
from tests.constants import DELIVERABLES, OWNER, PROJECTS, REPO

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


async def test_an_expired_snapshot_reads_only_what_changed(
    local_airtable_empty: LocalAirtable,
) -> None:
    writer = make_lane(local_airtable_empty)
    await asyncio.gather(
        *(writer.create(DELIVERABLES, {"Name": f"d{n}", ISSUE: url(n)}) for n in range(1, 351))
    )
    await writer.close()
    # The creations become older than a change read's reach: its overlap, and up to a second
    # more for Airtable's clock, known from Date headers in whole seconds.
    await asyncio.sleep(1.2)
    lane = make_lane(local_airtable_empty, cache_ttl_seconds=0.3, change_overlap_seconds=0.1)
    record = await lane.find_deliverable(url(7))
    assert record is not None
    table = local_airtable_empty.table(DELIVERABLES)
    table.update(record["id"], {"Name": "renamed elsewhere", ISSUE: url(700)})
    added = table.create({"Name": "typed in Airtable", ISSUE: url(701)})
    cached = await lane.table_records(DELIVERABLES)
    assert cached[record["id"]]["fields"]["Name"] == "d7"  # still fresh: nothing read
    await asyncio.sleep(0.4)
    local_airtable_empty.reset_stats()
    fresh = await lane.table_records(DELIVERABLES)
    assert local_airtable_empty.stats().requests == 1  # not the four pages of the table
    assert len(fresh) == 351
    assert fresh[record["id"]]["fields"]["Name"] == "renamed elsewhere"
    moved = await lane.find_deliverable(url(700))
    assert moved is not None and moved["id"] == record["id"]
    assert await lane.find_deliverable(url(7)) is None
    new = await lane.find_deliverable(url(701))
    assert new is not None and new["id"] == added["id"]
    await lane.close()


async def test_a_link_made_in_airtable_is_seen_on_both_sides(local_airtable: LocalAirtable) -> None:
    lane = make_lane(local_airtable, cache_ttl_seconds=0.2, change_overlap_seconds=0.1)
    projects = await lane.table_records(PROJECTS)
    before = len(await lane.table_records(DELIVERABLES))
    project = next(iter(projects.values()))
    # A person creates a deliverable in Airtable and links it to the Project.
    loose = local_airtable.table(DELIVERABLES).create({"Name": "loose", ISSUE: url(55)})
    local_airtable.table(DELIVERABLES).update(loose["id"], {"Project": [project["id"]]})
    await asyncio.sleep(0.3)
    local_airtable.reset_stats()
    linked = {r["id"] for r in await lane.project_deliverables(project["id"])}
    refreshed = await lane.get_project(project["id"])
    assert loose["id"] in linked
    assert len(await lane.table_records(DELIVERABLES)) == before + 1
    # The Project changed through the link's other side: its change read brings it too.
    assert refreshed is not None and loose["id"] in refreshed["fields"]["Deliverables"]
    assert local_airtable.stats().requests == 2  # one change read per table
    await lane.close()


async def test_deleted_records_leave_with_the_whole_read_in_the_background(
    local_airtable: LocalAirtable,
) -> None:
    lane = make_lane(local_airtable, cache_ttl_seconds=0.2, full_read_seconds=0.5)
    record = await lane.find_deliverable(url(1))
    assert record is not None
    local_airtable.table(DELIVERABLES).delete(record["id"])
    await asyncio.sleep(0.3)
    assert await lane.find_deliverable(url(1)) is not None  # a change read cannot see it
    await asyncio.sleep(0.3)
    await lane.table_records(DELIVERABLES)  # due: the whole read starts behind this one
    deadline = time.monotonic() + 5
    while await lane.find_deliverable(url(1)) is not None:
        assert time.monotonic() < deadline, "the deleted record was never dropped"
        await asyncio.sleep(0.05)
    await lane.close()


async def test_a_refused_change_read_falls_back_to_whole_reads() -> None:
    pages: list[str | None] = []
    rows = [{"id": "rec1", "fields": {ISSUE: url(1)}}]

    async def read_page(name: str, offset: str | None, formula: str | None) -> dict[str, Any]:
        pages.append(formula)
        if formula is not None:
            raise ChangeReadRefused("INVALID_FILTER_BY_FORMULA")
        return {"records": list(rows)}

    cache = TableCache(read_page, ttl=0.05, issue_table=DELIVERABLES, issue_field=ISSUE)
    await cache.snapshot(DELIVERABLES)
    rows.append({"id": "rec2", "fields": {ISSUE: url(2)}})
    await asyncio.sleep(0.1)
    assert set((await cache.snapshot(DELIVERABLES)).records) == {"rec1", "rec2"}
    await asyncio.sleep(0.1)
    await cache.snapshot(DELIVERABLES)
    assert pages[0] is None and pages[1] is not None and pages[2:] == [None, None]
    await cache.close()


def test_the_change_formula_names_the_moment_in_milliseconds() -> None:
    formula = changed_since_formula(1_764_651_600.25)  # 2025-12-02T05:00:00.250Z
    moment = "DATETIME_PARSE('2025-12-02T05:00:00.250Z')"
    assert formula == (
        f"OR(IS_AFTER(LAST_MODIFIED_TIME(), {moment}), IS_AFTER(CREATED_TIME(), {moment}))"
    )


async def test_a_write_that_lands_while_the_table_loads_is_kept(
    local_airtable: LocalAirtable,
) -> None:
    table = local_airtable.table(DELIVERABLES)
    target = next(r for r in table.all() if r["fields"].get(ISSUE) == url(2))

    async def read_page(name: str, offset: str | None, formula: str | None) -> dict[str, Any]:
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
