"""GroupCommit: what callers submit while a batch is written is the next call of the batch
function, in the group commit's own thread, which goes on without waiting for the event loop.

The batch function here is a real blocking function that records every batch it is given;
tests hold it on a ``threading.Event`` to see what arrives while a batch is being written.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time

from bot.intake.delivery_context import current_delivery_id, handling
from bot.intake.group_commit import GroupCommit


class Recorder:
    """A batch function that records its batches and answers each item doubled."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[int] = set()
        self.delivery_ids: list[str | None] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items: list[int]) -> list[int]:
        """Record the batch (and where it ran), wait while held, answer."""
        self.batches.append(list(items))
        self.threads.add(threading.get_ident())
        self.delivery_ids.append(current_delivery_id())
        self.started.set()
        assert self.release.wait(10)
        return [item * 2 for item in items]


async def test_every_caller_gets_its_own_result_from_a_thread_in_order() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder)
    results = await asyncio.gather(*(commit.submit(n) for n in range(5)))
    assert results == [0, 2, 4, 6, 8]
    assert [item for batch in recorder.batches for item in batch] == [0, 1, 2, 3, 4]
    assert threading.get_ident() not in recorder.threads


async def test_items_submitted_while_a_batch_runs_form_the_next_batch() -> None:
    recorder = Recorder()
    recorder.release.clear()
    commit = GroupCommit(recorder)
    first = asyncio.ensure_future(commit.submit(1))
    assert await asyncio.to_thread(recorder.started.wait, 10)
    later = [asyncio.ensure_future(commit.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0.05)
    assert recorder.batches == [[1]]
    recorder.release.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8]
    assert recorder.batches == [[1], [2, 3, 4]]


async def test_the_next_batch_is_written_while_the_event_loop_is_busy() -> None:
    # A burst of deliveries keeps the loop checking them; the ones already submitted must be
    # committing meanwhile, not waiting for the loop to come round and start their batch.
    recorder = Recorder()
    recorder.release.clear()
    commit = GroupCommit(recorder)
    first = asyncio.ensure_future(commit.submit(1))
    assert await asyncio.to_thread(recorder.started.wait, 10)
    later = [asyncio.ensure_future(commit.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)  # the two are submitted
    recorder.release.set()
    deadline = time.monotonic() + 5
    while len(recorder.batches) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the event loop is blocked all along
    assert recorder.batches == [[1], [2, 3]]
    assert await asyncio.gather(first, *later) == [2, 4, 6]


async def test_a_batch_holds_at_most_max_batch_items() -> None:
    recorder = Recorder()
    recorder.release.clear()
    commit = GroupCommit(recorder, max_batch=3)
    first = asyncio.ensure_future(commit.submit(0))
    assert await asyncio.to_thread(recorder.started.wait, 10)
    later = [asyncio.ensure_future(commit.submit(n)) for n in range(1, 8)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(first, *later) == [n * 2 for n in range(8)]
    assert recorder.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]


async def test_a_failed_batch_raises_its_error_in_every_waiter_and_the_next_batch_runs() -> None:
    batches: list[list[str]] = []
    error = OSError("disk full")
    started, release = threading.Event(), threading.Event()

    def write(items: list[str]) -> list[str]:
        batches.append(items)
        started.set()
        assert release.wait(10)
        if "bad" in items:
            raise error
        return items

    commit = GroupCommit(write)
    first = asyncio.ensure_future(commit.submit("a"))
    assert await asyncio.to_thread(started.wait, 10)
    failing = [asyncio.ensure_future(commit.submit(item)) for item in ("bad", "c")]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(first, *failing, return_exceptions=True)
    assert outcomes == ["a", error, error]
    assert await commit.submit("d") == "d"
    assert batches == [["a"], ["bad", "c"], ["d"]]


async def test_a_batch_answering_the_wrong_number_of_results_fails_every_waiter() -> None:
    def short(items: list[int]) -> list[int]:
        return items[:-1]

    commit = GroupCommit(short)
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(commit.submit(n) for n in range(3)), return_exceptions=True), 5
    )
    assert [type(outcome) for outcome in outcomes] == [RuntimeError] * 3
    for outcome in outcomes:
        said = re.fullmatch(r"the batch function returned (\d+) results for (\d+)", str(outcome))
        assert said is not None and int(said[1]) == int(said[2]) - 1


async def test_flush_waits_for_everything_submitted() -> None:
    recorder = Recorder()
    recorder.release.clear()
    commit = GroupCommit(recorder)
    pending = [asyncio.ensure_future(commit.submit(n)) for n in (1, 2)]
    await asyncio.sleep(0)
    threading.Timer(0.1, recorder.release.set).start()
    await commit.flush()
    assert all(future.done() for future in pending)
    assert [item for batch in recorder.batches for item in batch] == [1, 2]
    await commit.flush()  # nothing left: returns at once


async def test_a_batch_does_not_run_as_the_delivery_that_started_it() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder)
    with handling("delivery-1"):
        assert await commit.submit(1) == 2
        assert current_delivery_id() == "delivery-1"
    assert recorder.delivery_ids == [None]
