"""The worker on its own: a real journal on disk, a small real gidgethub ``Router``.

Deliveries are journaled as ``POST /webhook`` journals them (with the issue key the server
derives), then the real :class:`bot.intake.worker.Worker` takes them. The handlers only
record what they were called with, so each test sees exactly which deliveries ran, in what
order and how often, and what the journal and ``/metrics`` counters say afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from gidgethub import sansio
from gidgethub.routing import Router

from bot.config import Config, WorkerSettings
from bot.intake.delivery_context import NO_DELIVERY, DeliveryIdFilter
from bot.intake.journal import Journal
from bot.intake.server import issue_key_of
from bot.intake.worker import Worker
from bot.metrics import Metrics
from tests.constants import OWNER, REPO
from tests.intake.support import wait_until
from tests.webhooks import issue_comment_event, issues_event, make_issue

BOT_LOGIN = "deliverables-bot[bot]"
DELIVERIES = "deliverables_bot_deliveries_total"


def config(**worker: Any) -> Config:
    """A configuration whose retries come quickly (3 attempts, 0.2 s, 0.4 s apart)."""
    settings = {"max_attempts": 3, "base_delay_seconds": 0.2, "max_delay_seconds": 5.0}
    return Config(worker=WorkerSettings(**(settings | worker)))


def issue(number: int, updated_second: int = 0) -> dict[str, Any]:
    """Issue *number* of the test repository, last updated at 12:00 and *updated_second* s."""
    return make_issue(OWNER, REPO, number, updated_at=f"2024-05-01T12:00:{updated_second:02d}Z")


def journal_delivery(journal: Journal, event: str, payload: dict[str, Any]) -> str:
    """Journal a delivery as the server does; its new id."""
    delivery_id = str(uuid.uuid4())
    action = payload.get("action")
    assert journal.record(delivery_id, event, action, payload, issue_key=issue_key_of(payload))
    return delivery_id


def counted(metrics: Metrics, event: str, outcome: str) -> float:
    """``deliverables_bot_deliveries_total`` for one event and outcome."""
    labels = {"event": event, "outcome": outcome}
    return metrics.registry.get_sample_value(DELIVERIES, labels) or 0.0


@pytest.fixture
def journal(store_location: str) -> Iterator[Journal]:
    """A journal of the test's own, on each backend: a SQLite file, a PostgreSQL schema."""
    with Journal(store_location) as journal:
        yield journal


@asynccontextmanager
async def running(
    journal: Journal, router: Router, settings: Config | None = None, **options: Any
) -> AsyncIterator[Worker]:
    """The worker, started on *journal* with *router*, stopped at the end."""
    worker = Worker(
        settings or config(),
        journal=journal,
        router=router,
        dependencies={},
        metrics=Metrics(),
        **options,
    )
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


# -- coalescing ----------------------------------------------------------------------------


async def test_state_only_events_of_one_issue_run_once_as_the_newest(journal: Journal) -> None:
    router = Router()
    ran: list[tuple[str, str]] = []

    @router.register("issues")
    async def issue_changed(event: sansio.Event, **_: Any) -> None:
        ran.append((event.delivery_id, event.data["action"]))

    @router.register("issue_comment")
    async def commented(event: sansio.Event, **_: Any) -> None:
        ran.append((event.delivery_id, "comment"))

    labeled = journal_delivery(journal, "issues", issues_event("labeled", issue(1, 1)))
    newest = journal_delivery(journal, "issues", issues_event("assigned", issue(1, 3)))
    closed = journal_delivery(journal, "issues", issues_event("closed", issue(1, 2)))
    other = journal_delivery(journal, "issues", issues_event("closed", issue(2)))
    # News in themselves, not only state: a project label's event and a comment.
    project = journal_delivery(
        journal, "issues", issues_event("labeled", issue(1), label="project: Hub")
    )
    comment = journal_delivery(journal, "issue_comment", issue_comment_event("created", issue(1)))

    async with running(journal, router) as worker:
        await worker.drain()

    assert sorted(ran) == sorted(
        [(newest, "assigned"), (other, "closed"), (project, "labeled"), (comment, "comment")]
    )
    states = {d.id: d.state for d in journal.list()}
    assert states == dict.fromkeys([labeled, newest, closed, other, project, comment], "done")
    assert counted(worker.metrics, "issues", "coalesced") == 2
    assert counted(worker.metrics, "issues", "done") == 3
    assert counted(worker.metrics, "issue_comment", "done") == 1


async def test_a_delivery_the_bot_sent_itself_is_ignored(journal: Journal) -> None:
    router = Router()
    ran: list[str] = []

    @router.register("issue_comment")
    async def commented(event: sansio.Event, **_: Any) -> None:
        ran.append(event.delivery_id)

    own = issue_comment_event("created", issue(1), user=BOT_LOGIN, sender=BOT_LOGIN)
    own_id = journal_delivery(journal, "issue_comment", own)
    someone = journal_delivery(journal, "issue_comment", issue_comment_event("created", issue(1)))
    async with running(journal, router, bot_login=BOT_LOGIN) as worker:
        await worker.drain()
    assert ran == [someone]
    assert {d.id: d.state for d in journal.list()} == {own_id: "ignored", someone: "done"}
    assert counted(worker.metrics, "issue_comment", "ignored") == 1


# -- order ---------------------------------------------------------------------------------


async def test_deliveries_of_one_issue_run_one_at_a_time_in_order(journal: Journal) -> None:
    router = Router()
    steps: list[tuple[str, str]] = []

    @router.register("issue_comment")
    async def commented(event: sansio.Event, **_: Any) -> None:
        steps.append(("start", event.delivery_id))
        await asyncio.sleep(0.05)
        steps.append(("end", event.delivery_id))

    first, second, third = (
        journal_delivery(journal, "issue_comment", issue_comment_event("created", issue(1)))
        for _ in range(3)
    )
    elsewhere = journal_delivery(journal, "issue_comment", issue_comment_event("created", issue(2)))
    async with running(journal, router) as worker:
        await worker.drain()

    one_issue = [step for step in steps if step[1] != elsewhere]
    assert one_issue == [
        (step, delivery) for delivery in (first, second, third) for step in ("start", "end")
    ]
    # Another issue does not wait for this one.
    assert steps.index(("start", elsewhere)) < steps.index(("end", first))


# -- retries and dead letters ----------------------------------------------------------------


async def test_a_failing_delivery_is_retried_with_backoff_then_dead_lettered(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router()
    failed_at: list[float] = []
    others: list[str] = []

    @router.register("issues", action="closed")
    async def failing(event: sansio.Event, **_: Any) -> None:
        failed_at.append(time.monotonic())
        raise RuntimeError("Airtable is down")

    @router.register("issues", action="closed")
    async def working(event: sansio.Event, **_: Any) -> None:
        others.append(event.delivery_id)

    caplog.set_level(logging.INFO)
    delivery_id = journal_delivery(journal, "issues", issues_event("closed", issue(1)))
    async with running(journal, router) as worker:
        await wait_until(lambda: journal.counts()["failed"] == 1)

    # One handler's failure neither hides nor prevents the other's work.
    assert others == [delivery_id] * 3
    assert len(failed_at) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(failed_at)]
    # 0.2 s then 0.4 s, each give or take the 10% jitter.
    assert gaps[0] >= 0.2 * 0.9 - 0.02
    assert gaps[1] >= 0.4 * 0.9 - 0.02
    [delivery] = journal.list()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    assert delivery.last_error == "RuntimeError: Airtable is down"
    assert counted(worker.metrics, "issues", "retry") == 2
    assert counted(worker.metrics, "issues", "failed") == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("attempt 1 of 3" in m or "attempt 2 of 3" in m for m in messages) == 2
    assert any(f"delivery {delivery_id}" in m and "failed after 3 attempts" in m for m in messages)


async def test_a_delivery_that_fails_once_is_done_at_its_retry(journal: Journal) -> None:
    router = Router()
    attempts: list[str] = []

    @router.register("issues", action="closed")
    async def flaky(event: sansio.Event, **_: Any) -> None:
        attempts.append(event.delivery_id)
        if len(attempts) == 1:
            raise ConnectionError("reset by peer")

    delivery_id = journal_delivery(journal, "issues", issues_event("closed", issue(1)))
    async with running(journal, router) as worker:
        await worker.drain()
    assert attempts == [delivery_id, delivery_id]
    [delivery] = journal.list()
    assert (delivery.state, delivery.attempts) == ("done", 1)
    assert counted(worker.metrics, "issues", "retry") == 1
    assert counted(worker.metrics, "issues", "done") == 1


# -- the delivery id on every log line -------------------------------------------------------


async def test_log_lines_logged_while_a_delivery_is_handled_carry_its_id(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(DeliveryIdFilter())
    caplog.set_level(logging.INFO)
    handler_log = logging.getLogger("tests.intake.handler")
    router = Router()

    @router.register("issue_comment")
    async def commented(event: sansio.Event, **_: Any) -> None:
        handler_log.info("before %s", event.delivery_id)
        await asyncio.sleep(0.05)  # the other delivery logs meanwhile
        await asyncio.to_thread(handler_log.info, "in a thread %s", event.delivery_id)
        if event.data["issue"]["number"] == 2:
            raise RuntimeError("try again")

    ids = [
        journal_delivery(journal, "issue_comment", issue_comment_event("created", issue(n)))
        for n in (1, 2)
    ]
    async with running(journal, router, config(max_attempts=1)) as worker:
        await worker.drain()
    handler_log.info("after")

    handled = [r for r in caplog.records if r.name == handler_log.name and r.args]
    assert len(handled) == 4
    for record in handled:
        assert record.delivery_id == record.args[0]  # type: ignore[attr-defined,index]
    # The journal's dead-letter line, written in a thread, names the delivery too.
    [dead] = [r for r in caplog.records if "failed after 1 attempts" in r.getMessage()]
    assert dead.delivery_id == ids[1]  # type: ignore[attr-defined]
    assert caplog.records[-1].delivery_id == NO_DELIVERY  # type: ignore[attr-defined]
    assert counted(worker.metrics, "issue_comment", "failed") == 1
