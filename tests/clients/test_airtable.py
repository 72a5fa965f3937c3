"""The Airtable lane against the embedded server: batching, caching, refusals, and the
failures a fault proxy in between makes (429s, error answers, a dropped connection)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable import AirtableError, AirtableLane, AnswerWindow
from tests.clients.lanes import make_lane
from tests.constants import DELIVERABLES
from tests.fault_fixtures import ProxiedAirtable


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


def proxied_lane(proxied: ProxiedAirtable) -> AirtableLane:
    """A lane to the demo base through the fault proxy, with a 0.1 s penalty after a 429."""
    return make_lane(
        proxied.airtable,
        endpoint=proxied.proxy.url,
        api_factory=proxied.api,
        penalty_seconds=0.1,
    )


async def test_a_429_pauses_the_lane_and_the_call_is_sent_again(
    proxied_airtable: ProxiedAirtable,
) -> None:
    proxy = proxied_airtable.proxy
    proxy.storm_429(times=2)
    lane = proxied_lane(proxied_airtable)
    began = time.monotonic()
    assert len(await lane.table_records(DELIVERABLES)) == 3
    assert time.monotonic() - began >= 0.2  # two pauses of the whole lane
    assert len(proxy.seen("GET")) == 3
    assert lane.metrics.health.failing() == []
    await lane.close()


async def test_429s_past_the_retries_fail_and_may_be_retried_later(
    proxied_airtable: ProxiedAirtable,
) -> None:
    proxy = proxied_airtable.proxy
    proxy.storm_429()
    lane = proxied_lane(proxied_airtable)
    with pytest.raises(AirtableError) as error:
        await lane.table_records(DELIVERABLES)
    assert (error.value.status, error.value.retriable) == (429, True)
    assert len(proxy.seen("GET")) == 4  # the call and three retries
    assert lane.metrics.health.dependencies["airtable"].last_error_kind == "429"
    await lane.close()


@pytest.mark.parametrize(
    ("status", "retriable"), [(503, True), (422, False), (404, False), (401, False)]
)
async def test_an_error_answer_says_whether_to_try_again(
    proxied_airtable: ProxiedAirtable, status: int, retriable: bool
) -> None:
    proxied_airtable.proxy.fail(status)
    lane = proxied_lane(proxied_airtable)
    with pytest.raises(AirtableError) as error:
        await lane.table_records(DELIVERABLES)
    assert (error.value.status, error.value.retriable, error.value.kind) == (
        status,
        retriable,
        "http",
    )
    assert error.value.detail  # Airtable's own words, from its error body
    assert lane.metrics.health.failing() == ["airtable"]
    await lane.close()


async def test_a_dropped_connection_is_a_network_failure(
    proxied_airtable: ProxiedAirtable,
) -> None:
    proxied_airtable.proxy.drop()
    lane = proxied_lane(proxied_airtable)
    with pytest.raises(AirtableError) as error:
        await lane.table_records(DELIVERABLES)
    assert (error.value.status, error.value.kind, error.value.retriable) == (None, "network", True)
    assert lane.metrics.health.dependencies["airtable"].last_error_kind == "network"
    assert len(await lane.table_records(DELIVERABLES)) == 3  # the next call goes through
    assert lane.metrics.health.failing() == []
    await lane.close()


class StaleBudget:
    """A request budget whose every slot is already half a second gone when it is handed
    out, as a worker thread sees it after waking late in a busy interpreter."""

    def __init__(self) -> None:
        self.booked = 0

    def reserve(self) -> float:
        self.booked += 1
        return time.time() - 0.5

    def pause(self, seconds: float) -> None:
        raise AssertionError("no 429 expected")

    def paused_until(self) -> float:
        return 0.0

    def close(self) -> None:
        pass


async def test_a_slot_missed_by_a_late_thread_is_booked_again_then_sent_anyway(
    local_airtable: LocalAirtable,
) -> None:
    budget = StaleBudget()
    lane = make_lane(local_airtable, budget=budget)
    local_airtable.reset_stats()
    records = await lane.table_records(DELIVERABLES)
    assert len(records) == 3
    assert local_airtable.stats().requests == 1  # the late slots were given up, not used
    assert budget.booked == 4  # three late turns, then sent on the fourth slot
    await lane.close()


def test_a_request_waits_a_second_after_the_answer_size_requests_back() -> None:
    window = AnswerWindow(2)
    began = time.monotonic()
    for _ in range(2):
        window.answered(window.enter())
    assert time.monotonic() - began < 0.5  # room for two at once
    window.enter()  # the third waits for a second after the first one's answer
    assert time.monotonic() - began >= 0.99


def test_an_unanswered_request_holds_the_window_only_so_long() -> None:
    window = AnswerWindow(1)
    window.MAX_WAIT_SECONDS = 0.3
    window.enter()  # never answered: lost in a timeout
    began = time.monotonic()
    window.enter()
    assert 0.29 <= time.monotonic() - began < 1.0
