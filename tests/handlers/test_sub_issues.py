"""Tracking issues end to end: ``sub_issues`` deliveries link and unlink deliverables, and the
tracking issue's one progress comment is edited in place, never posted twice."""

from __future__ import annotations

from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from tests.bot_fixtures import RunningBot, StartBot, issue_url
from tests.commenting import (
    comment,
    deliverable_record,
    project_id,
    reactions,
    replies,
)
from tests.constants import OWNER, PROJECTS, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, sub_issues_event

EPIC = 10


@pytest.fixture
def tracked(github: GitHubStandIn, local_airtable: LocalAirtable) -> GitHubStandIn:
    """#10 is the demo Project's tracking issue; #4 and #11 are issues not yet linked."""
    github.add_issue(OWNER, REPO, EPIC, title="Epic: workshop hub")
    github.add_issue(OWNER, REPO, 4, title="Write the docs")
    github.add_issue(OWNER, REPO, 11, title="Epic of nothing")
    projects = local_airtable.table(PROJECTS)
    projects.update(
        project_id(local_airtable, "Setup workshop hub"), {"Tracking Issue": issue_url(EPIC)}
    )
    return github


async def sub_issue(
    bot: RunningBot, gh: GitHubStandIn, parent: int, child: int, *, add: bool = True
) -> None:
    """Attach or detach a sub-issue on the stand-in and deliver the event GitHub sends."""
    if add:
        gh.add_sub_issue(OWNER, REPO, parent, child)
    else:
        gh.remove_sub_issue(OWNER, REPO, parent, child)
    action = "sub_issue_added" if add else "sub_issue_removed"
    payload = sub_issues_event(action, gh.issue(OWNER, REPO, parent), gh.issue(OWNER, REPO, child))
    assert (await bot.deliver("sub_issues", payload)).status == 202
    await bot.drain()


def progress_comments(gh: GitHubStandIn) -> list[dict[str, Any]]:
    return [
        c
        for c in gh.comments(OWNER, REPO, EPIC)
        if "deliverables-bot:progress:" in c["body"] and c["user"]["login"] == gh.bot_login
    ]


async def test_sub_issues_are_linked_and_unlinked_with_one_progress_comment(
    start_bot: StartBot, tracked: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=tracked)
    await sub_issue(bot, tracked, EPIC, 4)
    fields = bot.deliverable(4)
    assert fields["Project"] == [project_id(local_airtable, "Setup workshop hub")]
    assert fields["Status"] == "Todo"
    [progress] = progress_comments(tracked)
    assert "0/4 deliverables done" in progress["body"]
    assert "Write the docs" in progress["body"]

    # A deliverable changing state edits the comment in place.
    closed = tracked.close_issue(OWNER, REPO, 4)
    await bot.deliver("issues", issues_event("closed", closed))
    await bot.drain()
    [edited] = progress_comments(tracked)
    assert edited["id"] == progress["id"]
    assert "1/4 deliverables done" in edited["body"]
    assert "- [x] Write the docs" in edited["body"]

    await sub_issue(bot, tracked, EPIC, 4, add=False)
    fields = bot.deliverable(4)
    assert "Project" not in fields
    assert fields["Status"] == "Cancelled"
    [after] = progress_comments(tracked)
    assert after["id"] == progress["id"]
    assert "0/3 deliverables done" in after["body"]
    assert "Write the docs" not in after["body"]
    assert tracked.calls_matching("PATCH", rf"/issues/comments/{progress['id']}$")
    assert len(tracked.calls_matching("POST", rf"/issues/{EPIC}/comments$")) == 1


async def test_a_parent_that_tracks_no_project_is_left_alone(
    start_bot: StartBot, tracked: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=tracked)
    await sub_issue(bot, tracked, 11, 4)
    assert deliverable_record(local_airtable, 4) is None
    assert replies(tracked, 11) == []
    assert progress_comments(tracked) == []


async def test_removing_a_sub_issue_linked_elsewhere_keeps_its_link(
    start_bot: StartBot, tracked: GitHubStandIn
) -> None:
    # #1 is a deliverable of the Project; detaching it from an unrelated parent changes nothing.
    tracked.add_sub_issue(OWNER, REPO, 11, 1)
    bot = await start_bot(github=tracked)
    await sub_issue(bot, tracked, 11, 1, add=False)
    assert bot.deliverable(1)["Project"]
    assert bot.deliverable(1)["Status"] == "In progress"


async def test_project_link_links_the_existing_sub_issues(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    github.add_issue(OWNER, REPO, 20, title="Epic: docs")
    github.add_issue(OWNER, REPO, 21, title="Docs one")
    github.add_sub_issue(OWNER, REPO, 20, 21)
    github.set_permission(OWNER, REPO, "alice", "write")
    bot = await start_bot(github=github)
    posted = await comment(bot, github, 20, "/project link Setup workshop hub")
    assert reactions(github, posted) == {"+1"}
    assert bot.deliverable(21)["Project"] == [project_id(local_airtable, "Setup workshop hub")]
    bodies = [b for b in replies(github, 20) if "deliverables-bot:progress:" in b]
    assert len(bodies) == 1 and "0/4 deliverables done" in bodies[0]
