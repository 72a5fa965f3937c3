"""Helpers shared by the command, label and sub-issue tests: people commenting on the GitHub
stand-in, what the bot answered, and Airtable records made before the bot starts."""

from __future__ import annotations

from typing import Any

from bot.airtable_local.thread import LocalAirtable
from tests.bot_fixtures import RunningBot
from tests.constants import DELIVERABLES, ENGAGEMENTS, OWNER, PROJECTS, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issue_comment_event


async def comment(
    bot: RunningBot, gh: GitHubStandIn, number: int, body: str, *, user: str = "alice"
) -> dict[str, Any]:
    """``user`` comments ``body`` on issue ``number``; the delivery is sent and worked off."""
    posted = gh.add_comment(OWNER, REPO, number, body, user=user)
    payload = issue_comment_event("created", gh.issue(OWNER, REPO, number), posted)
    response = await bot.deliver("issue_comment", payload)
    assert response.status == 202
    await bot.drain()
    return posted


def reactions(gh: GitHubStandIn, posted: dict[str, Any]) -> set[str]:
    """The reactions the bot put on a comment."""
    return {r["content"] for r in gh.reactions(posted["id"]) if r["user"]["login"] == gh.bot_login}


def replies(gh: GitHubStandIn, number: int) -> list[str]:
    """The bodies of the bot's comments on an issue, oldest first."""
    return [
        c["body"] for c in gh.comments(OWNER, REPO, number) if c["user"]["login"] == gh.bot_login
    ]


def deliverable_record(at: LocalAirtable, number: int) -> dict[str, Any] | None:
    """The deliverable record of issue ``number`` (read directly), or None."""
    url = f"https://github.com/{OWNER}/{REPO}/issues/{number}"
    records = [r for r in at.table(DELIVERABLES).all() if r["fields"].get("GitHub Issue") == url]
    assert len(records) <= 1
    return records[0] if records else None


def project_id(at: LocalAirtable, name: str) -> str:
    """The record id of the Project named exactly ``name``."""
    [record] = [r for r in at.table(PROJECTS).all() if r["fields"].get("Name") == name]
    return str(record["id"])


def add_project(at: LocalAirtable, name: str, *, engagement_end: str | None = "2099-12-31") -> str:
    """A Project (with an Engagement ending on ``engagement_end``, or none); its id.

    Make records before the bot first reads a table: its snapshots are cached.
    """
    fields: dict[str, Any] = {"Name": name, "Status": "Not started"}
    if engagement_end is not None:
        engagement = at.table(ENGAGEMENTS).create(
            {"Name": f"{name} engagement", "Start": "2019-01-01", "End": engagement_end}
        )
        fields["Engagement"] = [engagement["id"]]
    return str(at.table(PROJECTS).create(fields)["id"])
