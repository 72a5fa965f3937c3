"""End to end: a Project and its announcements decided from the truth, GitHub read right.

The real aiohttp app on 127.0.0.1 with App credentials against the GitHub stand-in, the real
pyairtable client against the embedded Airtable. Each test leaves the base and GitHub in the
state a fault would (a crash between two writes, a comment already posted, a refused POST,
an issue GitHub answers 404, 410 or 301 for) and checks what a user would see: the records,
the comments, the metrics.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from tests.bot_fixtures import RunningBot, StartBot, issue_url
from tests.constants import DELIVERABLES, OWNER, PROJECTS, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event

COMPLETED = "<!-- deliverables-bot:project-completed:"
REOPENED = "<!-- deliverables-bot:project-reopened:"


def record(at: LocalAirtable, table: str, name: str | None = None, url: str | None = None) -> Any:
    """The one record of ``table`` with that Name or GitHub Issue, as the store has it."""
    assert at.base_id is not None
    rows = [
        r
        for r in at.store.all_records(at.base_id, table)
        if (name is None or r["fields"].get("Name") == name)
        and (url is None or r["fields"].get("GitHub Issue") == url)
    ]
    assert len(rows) == 1, rows
    return rows[0]


def announcements(gh: GitHubStandIn, prefix: str, *numbers: int) -> list[dict[str, Any]]:
    """The bot's own comments starting with ``prefix`` on the demo issues ``numbers``."""
    return [
        c
        for n in numbers or (1, 2, 3)
        for c in gh.comments(OWNER, REPO, n)
        if c["user"]["login"] == gh.bot_login and c["body"].startswith(prefix)
    ]


def mark_done_in_airtable(at: LocalAirtable, gh: GitHubStandIn, number: int) -> None:
    """Close the issue and write its deliverable Done, as a crash right after the
    deliverable's write (and before the Project's) leaves them."""
    issue = gh.close_issue(OWNER, REPO, number)
    deliverable = record(at, DELIVERABLES, url=issue_url(number))
    assert at.base_id is not None
    at.store.update_records(
        at.base_id,
        DELIVERABLES,
        [{"id": deliverable["id"], "fields": {"Status": "Done", "Completed": issue["closed_at"]}}],
    )


async def close(bot: RunningBot, gh: GitHubStandIn, number: int) -> None:
    """Close a demo issue on GitHub and deliver its event."""
    issue = gh.close_issue(OWNER, REPO, number)
    assert (await bot.deliver("issues", issues_event("closed", issue))).status == 202


async def test_resumed_delivery_completes_the_project_its_first_attempt_did_not(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    for number in (1, 2, 3):
        mark_done_in_airtable(local_airtable, github, number)
    bot = await start_bot(github=github)
    # The delivery of the last close arrives (again): its deliverable is already Done.
    issue = github.issue(OWNER, REPO, 3)
    await bot.deliver("issues", issues_event("closed", issue))
    await bot.drain()
    assert bot.project()["Status"] == "Complete"
    assert len(announcements(github, COMPLETED)) == 1
    # A redelivery, another event: the Project is decided again, nothing is posted twice.
    await bot.deliver("issues", issues_event("edited", issue))
    await bot.drain()
    assert len(announcements(github, COMPLETED)) == 1


async def test_a_refused_comment_is_posted_on_the_retry_and_the_project_waits_for_it(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    github.inject(r"/issues/\d+/comments$", 502, times=1, method="POST")
    for number in (1, 2, 3):
        await close(bot, github, number)
    await bot.drain()
    assert bot.project()["Status"] == "Complete"
    assert len(announcements(github, COMPLETED)) == 1
    posts = github.calls_matching("POST", r"/issues/\d+/comments$")
    assert len(posts) == 2  # the refused one and the retry


async def test_a_comment_posted_before_a_crash_is_found_not_repeated(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=github)
    await close(bot, github, 1)
    await close(bot, github, 2)
    await bot.drain()
    # The first process posted the completion comment, then died before writing the Project:
    # a second bot process (same base, same GitHub) decides again.
    await close(bot, github, 3)
    await bot.drain()
    comment = announcements(github, COMPLETED)[0]
    project = record(local_airtable, PROJECTS, name="Setup workshop hub")
    assert local_airtable.base_id is not None
    local_airtable.store.update_records(
        local_airtable.base_id,
        PROJECTS,
        [{"id": project["id"], "fields": {"Status": "In progress", "Completed": None}}],
    )
    other = await start_bot(github=github)
    await other.deliver("issues", issues_event("closed", github.issue(OWNER, REPO, 3)))
    await other.drain()
    assert other.project()["Status"] == "Complete"
    assert [c["id"] for c in announcements(github, COMPLETED)] == [comment["id"]]


async def test_a_marker_someone_else_wrote_does_not_count(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=github)
    await close(bot, github, 1)
    await close(bot, github, 2)
    await bot.drain()
    project_id = record(local_airtable, PROJECTS, name="Setup workshop hub")["id"]
    issue = github.close_issue(OWNER, REPO, 3)
    # A person pastes what the bot's marker will be, before the bot writes it.
    closed = issue["closed_at"].replace("-", "").replace(":", "")
    github.add_comment(OWNER, REPO, 3, f"{COMPLETED}{project_id}:{closed}-3 -->", user="mallory")
    await bot.deliver("issues", issues_event("closed", issue))
    await bot.drain()
    assert len(announcements(github, COMPLETED)) == 1


async def test_reopen_then_complete_again_is_announced_each_time(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    for number in (1, 2, 3):
        await close(bot, github, number)
    await bot.drain()
    issue = github.reopen_issue(OWNER, REPO, 2)
    await bot.deliver("issues", issues_event("reopened", issue))
    await bot.drain()
    assert bot.project()["Status"] == "In progress"
    reopened = announcements(github, REOPENED)
    assert len(reopened) == 1
    assert issue_url(2) in reopened[0]["body"]
    # GitHub's closed_at has one-second resolution; the key of a completion is its instant.
    await asyncio.sleep(1.1)
    await close(bot, github, 2)
    await bot.drain()
    assert bot.project()["Status"] == "Complete"
    assert len(announcements(github, COMPLETED)) == 2
    assert len(announcements(github, REOPENED)) == 1


# -- GitHub read right: 404, 410, 301 ------------------------------------------------------------


async def test_404_leaves_the_record_warns_once_and_counts(
    start_bot: StartBot,
    github: GitHubStandIn,
    local_airtable: LocalAirtable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await start_bot(github=github)
    for number in (1, 2):
        await close(bot, github, number)
    await bot.drain()
    before = bot.deliverable(3)
    github.inject(r"/issues/3$", 404, times=2, method="GET")
    issue = github.issue(OWNER, REPO, 3)
    with caplog.at_level(logging.WARNING, logger="bot.sync.reconcile"):
        for action in ("edited", "labeled"):
            await bot.deliver("issues", issues_event(action, issue))
            await bot.drain()
    after = bot.deliverable(3)
    assert after == before  # not Cancelled, Completed untouched
    assert bot.project()["Status"] != "Complete"
    assert announcements(github, COMPLETED) == []
    warnings = [r for r in caplog.records if "answers 404" in r.getMessage()]
    assert len(warnings) == 1 and f"{OWNER}/{REPO}" in warnings[0].getMessage()
    async with bot.session.get(bot.url("/metrics")) as response:
        text = await response.text()
    assert "deliverables_bot_github_not_visible_total 2.0" in text
    rows = bot.services.journal.not_visible()
    assert [url for url, _, _ in rows] == [issue_url(3)]
    # Once GitHub answers again, the issue is forgotten.
    await bot.deliver("issues", issues_event("edited", issue))
    await bot.drain()
    assert bot.services.journal.not_visible() == []


async def test_410_is_a_deleted_issue_cancelled_and_kept(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    issue = github.issue(OWNER, REPO, 3)
    github.delete_issue(OWNER, REPO, 3)
    await bot.deliver("issues", issues_event("edited", issue))
    await bot.drain()
    fields = bot.deliverable(3)
    assert fields["Status"] == "Cancelled"
    assert "Completed" not in fields


async def test_301_is_a_transfer_the_record_follows(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=github)
    old = github.issue(OWNER, REPO, 1)
    github.transfer_issue(OWNER, REPO, 1, OWNER, "hubs", new_number=9)
    github.close_issue(OWNER, "hubs", 9)
    # An ordinary event for the old address: GitHub answers it with 301.
    await bot.deliver("issues", issues_event("edited", old))
    await bot.drain()
    moved = record(local_airtable, DELIVERABLES, name="Deploy the hub")["fields"]
    assert moved["GitHub Issue"] == issue_url(9, repo="hubs")
    assert moved["Status"] == "Done"


async def test_names_reach_github_neutralised(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    hostile = "@org/everyone <img src=x onerror=alert(1)> <!-- deliverables-bot:progress:x -->"
    project = record(local_airtable, PROJECTS, name="Setup workshop hub")
    deliverable = record(local_airtable, DELIVERABLES, url=issue_url(3))
    assert local_airtable.base_id is not None
    store = local_airtable.store
    store.update_records(
        local_airtable.base_id, PROJECTS, [{"id": project["id"], "fields": {"Name": hostile}}]
    )
    github.update_issue(OWNER, REPO, 3, title=hostile)
    bot = await start_bot(github=github)
    for number in (1, 2, 3):
        await close(bot, github, number)
    await bot.drain()
    assert record(local_airtable, DELIVERABLES, url=issue_url(3))["id"] == deliverable["id"]
    [comment] = announcements(github, COMPLETED)
    body = comment["body"]
    assert hostile not in body and "<img" not in body and "@org" not in body
    assert body.count("<!--") == 1


async def test_two_processes_completing_at_once_leave_one_comment(
    start_bot: StartBot, github: GitHubStandIn, tmp_path: Path
) -> None:
    first = await start_bot(github=github)
    second = await start_bot(github=github, data_dir=tmp_path / "second")
    for number in (1, 2):
        issue = github.close_issue(OWNER, REPO, number)
        await first.deliver("issues", issues_event("closed", issue))
    await first.drain()
    issue = github.close_issue(OWNER, REPO, 3)
    # The first POST is slow, so the other process looks before it lands and posts too.
    github.delay(r"/issues/\d+/comments$", 0.5, times=1, method="POST")
    await asyncio.gather(
        first.deliver("issues", issues_event("closed", issue)),
        second.deliver("issues", issues_event("closed", issue)),
    )
    await asyncio.gather(first.drain(), second.drain())
    assert len(github.calls_matching("POST", r"/issues/\d+/comments$")) == 2  # both posted
    assert len(announcements(github, COMPLETED)) == 1  # and one was taken back
