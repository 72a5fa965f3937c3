"""Project labels end to end: ``issues`` ``labeled``/``unlabeled`` deliveries link and unlink,
an unknown project label is answered once, and the blocked label still sets Blocked."""

from __future__ import annotations

import asyncio

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.core.labels import project_name
from tests.bot_fixtures import RunningBot, StartBot
from tests.commenting import add_project, deliverable_record, project_id, replies
from tests.constants import OWNER, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event

DEMO_LABEL = "project: Setup workshop hub"


@pytest.fixture
def issues(github: GitHubStandIn) -> GitHubStandIn:
    """The demo issues plus #4, assigned and not a deliverable yet."""
    github.add_issue(OWNER, REPO, 4, title="Write the docs", assignees=["carol"])
    return github


async def label(
    bot: RunningBot, gh: GitHubStandIn, number: int, name: str, *, add: bool = True
) -> None:
    """Add or remove a label on the stand-in and deliver the event; wait for the work."""
    current = [item["name"] for item in gh.issue(OWNER, REPO, number)["labels"]]
    labels = [*current, name] if add else [n for n in current if n != name]
    issue = gh.update_issue(OWNER, REPO, number, labels=labels)
    action = "labeled" if add else "unlabeled"
    response = await bot.deliver("issues", issues_event(action, issue, label=name))
    assert response.status == 202
    await bot.drain()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("project: Setup workshop hub", "Setup workshop hub", id="name"),
        pytest.param("Project:   Hub  ", "Hub", id="any-case-spaces"),
        pytest.param("project: ", None, id="empty"),
        pytest.param("blocked", None, id="other-label"),
    ],
)
def test_project_name(text: str, expected: str | None) -> None:
    assert project_name(text, "project: ") == expected


async def test_project_label_links_and_unlinks(
    start_bot: StartBot, issues: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=issues)
    await label(bot, issues, 4, DEMO_LABEL)
    fields = bot.deliverable(4)
    assert fields["Project"] == [project_id(local_airtable, "Setup workshop hub")]
    assert fields["Status"] == "In progress"
    assert fields["Name"] == "Write the docs"
    await label(bot, issues, 4, DEMO_LABEL, add=False)
    fields = bot.deliverable(4)
    assert "Project" not in fields
    assert fields["Status"] == "Cancelled"
    assert replies(issues, 4) == []


async def test_removing_a_label_of_another_project_keeps_the_link(
    start_bot: StartBot, issues: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    add_project(local_airtable, "Second hub")
    bot = await start_bot(github=issues)
    await label(bot, issues, 1, "project: Second hub")
    await label(bot, issues, 1, DEMO_LABEL)
    await label(bot, issues, 1, "project: Second hub", add=False)
    assert bot.deliverable(1)["Project"] == [project_id(local_airtable, "Setup workshop hub")]


async def test_an_unknown_project_label_is_answered_once(
    start_bot: StartBot, issues: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=issues)
    for add in (True, False, True):
        await label(bot, issues, 4, "project: Setup workshop hubs", add=add)
    said = replies(issues, 4)
    assert len(said) == 1
    assert "`project: Setup workshop hubs` names no Project" in said[0]
    assert "`Setup workshop hub`" in said[0]
    assert deliverable_record(local_airtable, 4) is None
    # Another unknown name gets its own answer.
    await label(bot, issues, 4, "project: @octocat <b>")
    said = replies(issues, 4)
    assert len(said) == 2
    assert "@octocat" not in said[1] and "<b>" not in said[1].replace("`", "").split("names")[1]


async def test_blocked_label_still_blocks(start_bot: StartBot, issues: GitHubStandIn) -> None:
    bot = await start_bot(github=issues)
    await label(bot, issues, 1, "blocked")
    assert bot.deliverable(1)["Status"] == "Blocked"
    await label(bot, issues, 1, "blocked", add=False)
    assert bot.deliverable(1)["Status"] == "In progress"


async def test_a_project_label_is_not_coalesced_away(
    start_bot: StartBot, issues: GitHubStandIn
) -> None:
    bot = await start_bot(github=issues)
    labeled = issues.update_issue(OWNER, REPO, 4, labels=[DEMO_LABEL])
    edited = issues.update_issue(OWNER, REPO, 4, title="Write the docs, all of them")
    # Both arrive together; the edit is newer and would settle a coalesced group alone.
    await asyncio.gather(
        bot.deliver("issues", issues_event("labeled", labeled, label=DEMO_LABEL)),
        bot.deliver("issues", issues_event("edited", edited, previous_title="Write the docs")),
    )
    await bot.drain()
    fields = bot.deliverable(4)
    assert fields["Project"]
    assert fields["Name"] == "Write the docs, all of them"
