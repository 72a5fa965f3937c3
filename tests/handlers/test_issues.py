"""End to end: signed delivery → server → journal → worker → Airtable and GitHub.

Every test runs the real aiohttp app on 127.0.0.1, the real pyairtable client against the
embedded Airtable-compatible server, and (with App credentials) the real gidgethub client
against the GitHub stand-in. Assertions are on what a user sees: the Airtable records and
the comments on GitHub.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.intake.journal import Journal
from tests.bot_fixtures import RunningBot, StartBot, issue_url
from tests.constants import DELIVERABLES, OWNER, PROJECTS, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, make_issue


async def close_and_deliver(
    bot: RunningBot, gh: GitHubStandIn, number: int, reason: str = "completed"
) -> None:
    """Close an issue on the stand-in and deliver the event GitHub would send."""
    issue = gh.close_issue(OWNER, REPO, number, state_reason=reason)
    response = await bot.deliver("issues", issues_event("closed", issue))
    assert response.status == 202


def completion_comments(gh: GitHubStandIn, number: int) -> list[dict[str, Any]]:
    return [
        c
        for c in gh.comments(OWNER, REPO, number)
        if "deliverables-bot:project-completed" in c["body"]
    ]


# -- the status table, reading GitHub as the App ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "assignees"),
    [
        pytest.param({"state": "closed", "state_reason": "completed"}, "Done", "alice", id="done"),
        pytest.param(
            {"state": "closed", "state_reason": "not_planned"},
            "Cancelled",
            "alice",
            id="not-planned",
        ),
        pytest.param(
            {"state": "closed", "state_reason": "duplicate"}, "Cancelled", "alice", id="duplicate"
        ),
        pytest.param({"assignees": []}, "Todo", None, id="unassigned"),
        pytest.param(
            {"assignees": ["alice", "carol"]}, "In progress", "alice, carol", id="assigned"
        ),
        pytest.param({"labels": ["blocked"]}, "Blocked", "alice", id="blocked"),
    ],
)
async def test_status_table_with_app_credentials(
    start_bot: StartBot,
    github: GitHubStandIn,
    change: dict[str, Any],
    status: str,
    assignees: str | None,
) -> None:
    bot = await start_bot(github=github)
    if change.get("state") == "closed":
        issue = github.close_issue(OWNER, REPO, 1, state_reason=change["state_reason"])
    else:
        issue = github.update_issue(OWNER, REPO, 1, **change)
    response = await bot.deliver("issues", issues_event("edited", issue))
    assert response.status == 202
    await bot.drain()
    fields = bot.deliverable(1)
    assert fields["Status"] == status
    assert fields.get("Assignees") == assignees
    assert "Last synced" in fields
    if status == "Done":
        assert fields["Completed"].startswith(issue["closed_at"][:19])
    else:
        assert "Completed" not in fields
    # The reconcile read the issue from GitHub, with one installation token.
    assert github.calls_matching("GET", r"/repos/example-org/infrastructure/issues/1$")
    assert github.tokens_issued == 1


async def test_title_follows_the_issue(start_bot: StartBot, github: GitHubStandIn) -> None:
    bot = await start_bot(github=github)
    issue = github.update_issue(OWNER, REPO, 2, title="Configure GitHub login")
    await bot.deliver("issues", issues_event("edited", issue, previous_title="Configure login"))
    await bot.drain()
    assert bot.deliverable(2)["Name"] == "Configure GitHub login"


# -- without App credentials: the delivery's own issue is the truth -------------------------


@pytest.mark.parametrize(
    ("action", "fields", "status"),
    [
        pytest.param("closed", {}, "Done", id="closed"),
        pytest.param("closed", {"state_reason": "not_planned"}, "Cancelled", id="not-planned"),
        pytest.param("unassigned", {"assignees": []}, "Todo", id="unassigned"),
        pytest.param("assigned", {}, "In progress", id="assigned"),
        pytest.param("labeled", {"labels": ["blocked"]}, "Blocked", id="labeled-blocked"),
        pytest.param("reopened", {}, "Todo", id="reopened"),
    ],
)
async def test_status_table_from_the_delivery(
    start_bot: StartBot, action: str, fields: dict[str, Any], status: str
) -> None:
    bot = await start_bot()
    issue = make_issue(OWNER, REPO, 3, title="Load workshop materials", **fields)
    if "state_reason" in fields:
        issue.update(state="closed")
    await bot.deliver("issues", issues_event(action, issue))
    await bot.drain()
    assert bot.deliverable(3)["Status"] == status


async def test_stale_delivery_cannot_move_a_record_backwards(start_bot: StartBot) -> None:
    bot = await start_bot()
    closed = issues_event("closed", make_issue(OWNER, REPO, 3, title="Load workshop materials"))
    closed["issue"]["updated_at"] = "2026-11-20T10:00:00Z"
    reopened = issues_event("reopened", make_issue(OWNER, REPO, 3, title="Load workshop materials"))
    reopened["issue"]["updated_at"] = "2026-11-20T10:05:00Z"
    # GitHub delivered them out of order: the reopen arrives first.
    await bot.deliver("issues", reopened)
    await bot.drain()
    await bot.deliver("issues", closed)
    await bot.drain()
    assert bot.deliverable(3)["Status"] == "Todo"
    assert bot.services.journal.counts()["done"] == 2


async def test_out_of_order_converges_to_the_issue_now(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    closed = github.close_issue(OWNER, REPO, 3)
    stale_close = issues_event("closed", closed)
    reopened = github.reopen_issue(OWNER, REPO, 3)
    await bot.deliver("issues", issues_event("reopened", reopened))
    await bot.deliver("issues", stale_close)
    await bot.drain()
    assert bot.deliverable(3)["Status"] == "Todo"


# -- Projects ----------------------------------------------------------------------------------


async def test_project_completes_once_with_its_comment(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    for number in (1, 2):
        await close_and_deliver(bot, github, number)
        await bot.drain()
    assert bot.project()["Status"] != "Complete"
    await close_and_deliver(bot, github, 3)
    await bot.drain()

    project = bot.project()
    assert project["Status"] == "Complete"
    assert "Completed" in project
    comments = completion_comments(github, 3)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert "Setup workshop hub" in body
    for number, title in ((1, "Deploy the hub"), (2, "Configure login"), (3, "Load workshop")):
        assert title in body
        assert issue_url(number) in body
    # Closing it again (a new delivery of the same state) announces nothing more.
    issue = github.issue(OWNER, REPO, 3)
    await bot.deliver("issues", issues_event("closed", issue))
    await bot.drain()
    assert len(completion_comments(github, 3)) == 1
    assert sum(len(completion_comments(github, n)) for n in (1, 2)) == 0


async def test_reopening_a_deliverable_reopens_the_project(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    for number in (1, 2, 3):
        await close_and_deliver(bot, github, number)
    await bot.drain()
    assert bot.project()["Status"] == "Complete"

    issue = github.reopen_issue(OWNER, REPO, 2)
    await bot.deliver("issues", issues_event("reopened", issue))
    await bot.drain()
    project = bot.project()
    assert project["Status"] == "In progress"
    assert "Completed" not in project
    reopened = [c for c in github.comments(OWNER, REPO, 2) if "project-reopened" in c["body"]]
    assert len(reopened) == 1
    assert issue_url(2) in reopened[0]["body"]
    assert "2 of 3" in reopened[0]["body"]


async def test_completion_comment_goes_to_the_tracking_issue(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    github.add_issue(OWNER, REPO, 10, title="Epic: workshop hub")
    projects = local_airtable.table(PROJECTS)
    project = projects.first()
    assert project is not None
    projects.update(project["id"], {"Tracking Issue": issue_url(10)})
    bot = await start_bot(github=github)
    for number in (1, 2, 3):
        await close_and_deliver(bot, github, number)
    await bot.drain()
    assert len(completion_comments(github, 10)) == 1
    assert not completion_comments(github, 3)


async def test_last_two_closed_at_once_announce_once(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    await close_and_deliver(bot, github, 1)
    await bot.drain()
    two = github.close_issue(OWNER, REPO, 2)
    three = github.close_issue(OWNER, REPO, 3)
    responses = await asyncio.gather(
        bot.deliver("issues", issues_event("closed", two)),
        bot.deliver("issues", issues_event("closed", three)),
    )
    assert [r.status for r in responses] == [202, 202]
    await bot.drain()
    assert bot.project()["Status"] == "Complete"
    assert len(completion_comments(github, 2)) + len(completion_comments(github, 3)) == 1


async def test_without_credentials_the_comment_is_logged(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    caplog.set_level(logging.INFO, logger="bot.clients.github")
    for number, title in ((1, "Deploy the hub"), (2, "Configure login"), (3, "Load workshop")):
        issue = make_issue(OWNER, REPO, number, title=title)
        await bot.deliver("issues", issues_event("closed", issue))
    await bot.drain()
    assert bot.project()["Status"] == "Complete"
    logged = [r.getMessage() for r in caplog.records if "would comment on" in r.getMessage()]
    assert len(logged) == 1
    assert "Setup workshop hub" in logged[0]


# -- transfer, delete, unlinked, duplicates ------------------------------------------------


async def test_transferred_issue_is_followed(start_bot: StartBot, github: GitHubStandIn) -> None:
    bot = await start_bot(github=github)
    old = github.issue(OWNER, REPO, 1)
    new = github.transfer_issue(OWNER, REPO, 1, OWNER, "hubs", new_number=7)
    await bot.deliver("issues", issues_event("transferred", old, new_issue=new))
    await bot.drain()
    fields = bot.deliverable(7, repo="hubs")
    assert fields["Name"] == "Deploy the hub"
    assert fields["Status"] == "In progress"


async def test_deleted_issue_cancels_and_keeps_the_record(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    issue = github.delete_issue(OWNER, REPO, 3)
    await bot.deliver("issues", issues_event("deleted", issue))
    await bot.drain()
    fields = bot.deliverable(3)
    assert fields["Status"] == "Cancelled"
    assert fields["Name"] == "Load workshop materials"


async def test_unlinked_issue_writes_nothing(start_bot: StartBot, github: GitHubStandIn) -> None:
    bot = await start_bot(github=github)
    github.add_issue(OWNER, REPO, 40, title="Not a deliverable")
    before = bot.airtable.stats()
    for _ in range(3):
        issue = github.close_issue(OWNER, REPO, 40) if _ == 0 else github.issue(OWNER, REPO, 40)
        await bot.deliver("issues", issues_event("closed", issue))
    await bot.drain()
    after = bot.airtable.stats()
    # One snapshot of each table the reconcile reads; no writes; the cache serves the rest.
    assert after.requests - before.requests <= 1
    assert not github.calls_matching("GET", r"/issues/40$")
    assert github.tokens_issued == 0


async def test_same_delivery_twice_is_applied_once(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    issue = github.close_issue(OWNER, REPO, 1)
    payload = issues_event("closed", issue)
    first = await bot.deliver("issues", payload, delivery_id="d-same")
    second = await bot.deliver("issues", payload, delivery_id="d-same")
    assert (first.status, second.status) == (202, 200)
    assert (await second.json())["status"] == "duplicate"
    await bot.drain()
    assert bot.services.journal.counts()["done"] == 1
    assert len(github.calls_matching("GET", r"/issues/1$")) == 1


async def test_events_from_the_bot_itself_are_ignored(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    issue = github.close_issue(OWNER, REPO, 1)
    await bot.deliver("issues", issues_event("closed", issue, sender=github.bot_login))
    await bot.drain()
    assert bot.deliverable(1)["Status"] == "In progress"
    assert bot.services.journal.counts()["ignored"] == 1


async def test_records_in_deliverables_table_are_never_deleted(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    count = len(bot.airtable.table(DELIVERABLES).all())
    for number in (1, 2, 3):
        issue = github.delete_issue(OWNER, REPO, number)
        await bot.deliver("issues", issues_event("deleted", issue))
    await bot.drain()
    assert len(bot.airtable.table(DELIVERABLES).all()) == count


# -- Airtable refusing for a while --------------------------------------------------------


async def test_airtable_429s_pause_the_lane_and_everything_lands(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    # Airtable allows 2 requests/s here, with a short penalty; the lane is told 100/s, so it
    # meets 429s, pauses, and tries again.
    local_airtable.set_rate_limit(2, penalty_seconds=0.3)
    bot = await start_bot(github=github)
    for number in (1, 2, 3):
        await close_and_deliver(bot, github, number)
    await bot.services.worker.drain(60)
    local_airtable.set_rate_limit(None)
    assert local_airtable.stats().rate_limited >= 1
    assert [bot.deliverable(n)["Status"] for n in (1, 2, 3)] == ["Done"] * 3
    assert bot.project()["Status"] == "Complete"
    # Processed concurrently, any of the three may be the one that completed the Project.
    assert sum(len(completion_comments(github, n)) for n in (1, 2, 3)) == 1
    assert bot.services.journal.counts()["failed"] == 0


async def test_airtable_503s_are_retried_until_applied(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=github)
    local_airtable.inject(503, times=3)
    await close_and_deliver(bot, github, 1)
    await bot.drain()
    assert bot.deliverable(1)["Status"] == "Done"
    delivery = bot.services.journal.list()[0]
    assert delivery.state == "done"
    assert delivery.attempts >= 1  # it failed at least once on the way


async def test_airtable_down_for_good_ends_as_failed_with_the_error(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=github)
    local_airtable.inject(503, times=1000)
    await close_and_deliver(bot, github, 1)
    await bot.drain()
    [delivery] = bot.services.journal.list(states=["failed"])
    assert delivery.attempts == 4
    assert "503" in (delivery.last_error or "")
    local_airtable.faults.clear()
    bot.services.journal.retry(delivery.id)
    bot.services.worker.notify()
    await bot.drain()
    assert bot.deliverable(1)["Status"] == "Done"


async def test_finished_deliveries_older_than_a_week_are_forgotten_at_start(
    start_bot: StartBot, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    eight_days_ago = time.time() - 8 * 86400
    with Journal(data / "journal.sqlite3") as journal:
        journal.record("old", "issues", "closed", {"action": "closed"}, now=eight_days_ago)
        journal.record("recent", "issues", "closed", {"action": "closed"})
        journal.mark_done(["old", "recent"])
    bot = await start_bot()
    await bot.drain()
    assert not bot.services.journal.seen("old")
    assert bot.services.journal.seen("recent")


async def test_an_unlinked_deliverable_stays_as_it_was_left(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    table = local_airtable.table(DELIVERABLES)
    [record] = [r for r in table.all() if r["fields"]["GitHub Issue"] == issue_url(1)]
    table.update(record["id"], {"Project": [], "Status": "Cancelled"})
    bot = await start_bot(github=github)
    issue = github.update_issue(OWNER, REPO, 1, assignees=["alice", "carol"])
    await bot.deliver("issues", issues_event("assigned", issue, assignee="carol"))
    await bot.drain()
    fields = bot.deliverable(1)
    assert fields["Status"] == "Cancelled"
    assert "Project" not in fields


async def test_a_new_title_refreshes_the_project(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=github)
    seen: list[str] = []

    async def listener(update: Any) -> None:
        seen.extend(d["fields"]["Name"] for d in update.deliverables)

    assert bot.services.reconciler is not None
    bot.services.reconciler.project_listeners.append(listener)
    issue = github.update_issue(OWNER, REPO, 2, title="Configure GitHub login")
    await bot.deliver("issues", issues_event("edited", issue, previous_title="Configure login"))
    await bot.drain()
    assert "Configure GitHub login" in seen
