"""Two replicas of the bot in one test process, on one PostgreSQL schema, the local Airtable
and the GitHub stand-in: each its own application, journal pool, Airtable snapshots and
locks, as two pods would have. Deliveries for one Project go to different replicas; the
Project is decided once, from what both wrote, and announced once."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from bot.intake.journal import Journal
from tests.bot_fixtures import RunningBot, StartBot, issue_url
from tests.constants import OWNER, REPO
from tests.handlers.test_issues import completion_comments
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event


async def two_replicas(start_bot: StartBot, github: GitHubStandIn, url: str) -> list[RunningBot]:
    """Two bots on the database at *url*."""
    return [await start_bot(github=github, database_url=url) for _ in range(2)]


async def drain(replicas: list[RunningBot]) -> None:
    """Wait until no replica has work left (the journal is shared)."""
    for bot in replicas:
        await bot.drain()


async def test_the_last_two_closed_on_two_replicas_at_once_announce_once(
    start_bot: StartBot, github: GitHubStandIn, postgres_url: str
) -> None:
    a, b = await two_replicas(start_bot, github, postgres_url)
    assert a.services.journal.is_shared and a.services.locks.shared
    one = github.close_issue(OWNER, REPO, 1)
    assert (await a.deliver("issues", issues_event("closed", one))).status == 202
    await drain([a, b])
    two = github.close_issue(OWNER, REPO, 2)
    three = github.close_issue(OWNER, REPO, 3)
    responses = await asyncio.gather(
        a.deliver("issues", issues_event("closed", two)),
        b.deliver("issues", issues_event("closed", three)),
    )
    assert [r.status for r in responses] == [202, 202]
    await drain([a, b])
    assert a.project()["Status"] == "Complete"
    assert sum(len(completion_comments(github, n)) for n in (1, 2, 3)) == 1
    for number in (1, 2, 3):
        assert a.deliverable(number)["Status"] == "Done"


async def test_a_replica_decides_from_what_another_wrote_not_from_its_old_snapshot(
    start_bot: StartBot, github: GitHubStandIn, postgres_url: str
) -> None:
    a, b = await two_replicas(start_bot, github, postgres_url)
    # B reads the base first (its snapshots now hold the Project In progress).
    one = github.close_issue(OWNER, REPO, 1)
    await b.deliver("issues", issues_event("closed", one))
    await drain([a, b])
    # A completes the Project.
    for number in (2, 3):
        issue = github.close_issue(OWNER, REPO, number)
        await a.deliver("issues", issues_event("closed", issue))
    await drain([a, b])
    assert a.project()["Status"] == "Complete"
    # B, whose snapshots are older than A's writes, handles the reopen.
    reopened = github.reopen_issue(OWNER, REPO, 2)
    await b.deliver("issues", issues_event("reopened", reopened))
    await drain([a, b])
    project = b.project()
    assert project["Status"] == "In progress"
    assert "Completed" not in project
    notes = [c for c in github.comments(OWNER, REPO, 2) if "project-reopened" in c["body"]]
    assert len(notes) == 1
    assert issue_url(2) in notes[0]["body"]


async def test_one_replica_journals_a_delivery_sent_to_both(
    start_bot: StartBot, github: GitHubStandIn, postgres_url: str
) -> None:
    a, b = await two_replicas(start_bot, github, postgres_url)
    issue = github.close_issue(OWNER, REPO, 1)
    payload = issues_event("closed", issue)
    responses = await asyncio.gather(
        a.deliver("issues", payload, delivery_id="same-delivery"),
        b.deliver("issues", payload, delivery_id="same-delivery"),
    )
    assert sorted(r.status for r in responses)[0] in (200, 202)
    await drain([a, b])
    with Journal(postgres_url) as journal:
        assert [d.id for d in journal.list()] == ["same-delivery"]
        assert journal.counts()["done"] == 1
    assert a.deliverable(1)["Status"] == "Done"


async def test_every_connection_killed_mid_burst_loses_and_refuses_nothing(
    start_bot: StartBot, github: GitHubStandIn, postgres_url: str
) -> None:
    # The bot's own connections carry a name of their own, so only they are killed (as a
    # server restart or a failover would end them), not other suites' on the same server.
    name = f"replica_fault_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_url}&application_name={name}"
    a, b = await two_replicas(start_bot, github, url)
    one = github.close_issue(OWNER, REPO, 1)
    assert (await a.deliver("issues", issues_event("closed", one))).status == 202
    await drain([a, b])
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (name,),
        ).fetchone()
    assert killed is not None and killed[0] >= 4  # pools, listeners, leadership
    responses = []
    for number, bot in ((2, b), (3, a)):
        issue = github.close_issue(OWNER, REPO, number)
        responses.append((await bot.deliver("issues", issues_event("closed", issue))).status)
    assert responses == [202, 202]
    await drain([a, b])
    assert a.project()["Status"] == "Complete"
    assert sum(len(completion_comments(github, n)) for n in (1, 2, 3)) == 1
