"""The worker survives its journal refusing writes: deliveries end right without a restart.

The fault really happens in SQLite: ``PRAGMA query_only`` on the journal's connection makes
every write fail with "attempt to write a readonly database", as a read-only file does. (As
root, chmod does not stop SQLite; ``max_page_count`` only fails writes that grow the file,
which the updates that end a delivery seldom do; there is no tiny filesystem here.)
"""

from __future__ import annotations

import asyncio
import time

from bot.intake.journal import Journal
from bot.storage.database import SqliteDatabase
from tests.bot_fixtures import RunningBot, StartBot, issue_url
from tests.constants import OWNER, REPO
from tests.intake.support import scrape, value, wait_until
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event

ERRORS = "deliverables_bot_journal_write_errors_total"


def set_read_only(journal: Journal, on: bool) -> None:
    """Make SQLite refuse (or accept again) every write on the journal's connection."""
    database = journal.database
    assert isinstance(database, SqliteDatabase)
    with database._lock:
        database._conn.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


async def deliver_closes(bot: RunningBot, github: GitHubStandIn, numbers: range) -> None:
    """Close each issue on the stand-in and deliver its ``issues.closed``."""
    for n in numbers:
        response = await bot.deliver(
            "issues", issues_event("closed", github.close_issue(OWNER, REPO, n))
        )
        assert response.status == 202


async def test_deliveries_finished_while_the_journal_refuses_writes_end_done(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    journal = bot.services.journal
    project = bot.airtable.table("Projects").all()[0]["id"]
    for n in range(4, 13):
        github.add_issue(OWNER, REPO, n, title=f"Task {n}")
    # Linked, so that every delivery reads its issue from GitHub (and waits, below).
    bot.airtable.table("Project Deliverables").batch_create(
        [
            {"Name": f"Task {n}", "GitHub Issue": issue_url(n), "Project": [project]}
            for n in range(4, 13)
        ]
    )
    # Every issue read takes three seconds (room for a loaded machine), so the deliveries are
    # in their handlers when the journal starts refusing writes, and end (done or retry)
    # while it still does.
    github.delay(r"/issues/\d+$", 3.0, times=None, method="GET")
    await deliver_closes(bot, github, range(1, 13))
    await wait_until(lambda: journal.counts()["processing"] == 12, timeout=20)
    set_read_only(journal, True)
    try:
        deadline = time.monotonic() + 20
        # Every delivery's end tried at least twice.
        while value(await scrape(bot), ERRORS) < 24:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        async with bot.session.get(bot.url("/readyz")) as response:
            assert response.status == 503  # the journal is not writable: not ready, as ever
            assert "not writable" in (await response.json())["error"]
        assert bot.services.worker.running
        assert len(bot.services.worker._running) == 12  # no task died
    finally:
        set_read_only(journal, False)
    github.clear_faults()
    await bot.drain(timeout=20)
    counts = journal.counts()
    assert (counts["done"], counts["processing"], counts["pending"], counts["failed"]) == (
        12,
        0,
        0,
        0,
    )
    for n in (1, 2, 3):
        assert bot.deliverable(n)["Status"] == "Done"
    async with bot.session.get(bot.url("/readyz")) as response:
        assert response.status == 200


async def test_a_failed_delivery_whose_retry_cannot_be_recorded_goes_back_to_the_queue(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    journal = bot.services.journal
    github.delay(r"/issues/1$", 1.0, times=1, method="GET")
    github.inject(r"/issues/1$", status=502, times=1, method="GET")
    await deliver_closes(bot, github, range(1, 2))
    await wait_until(lambda: journal.counts()["processing"] == 1)
    set_read_only(journal, True)
    try:
        deadline = time.monotonic() + 10
        while value(await scrape(bot), ERRORS, operation="schedule a retry") < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert journal.counts()["processing"] == 1
    finally:
        set_read_only(journal, False)
    await bot.drain(timeout=20)
    [delivery] = journal.list()
    assert (delivery.state, delivery.attempts) == ("done", 1)
    assert "502" in (delivery.last_error or "") or "Bad Gateway" in (delivery.last_error or "")
    assert bot.deliverable(1)["Status"] == "Done"
