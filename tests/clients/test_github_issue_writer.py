"""The gateway's issue writes (:class:`bot.clients.github_protocols.IssueWriter`) over real
HTTP against the GitHub stand-in: open, edit, sub-issues, the marker lookup by listing, the
repository's installation; and the stand-in without credentials, which logs and refuses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import gidgethub
import pytest

from bot.clients.github import AppGitHub
from bot.clients.github_logging import GitHubUnavailable, LoggingGitHub
from bot.clients.github_protocols import GitHubGateway, IssueWriter
from bot.config import Config
from bot.core.issue import IssueRef
from bot.metrics import Metrics
from tests.constants import OWNER, REPO
from tests.standins.github import GitHubStandIn

MARKER = "<!-- deliverables-bot:deliverable:recAbCdEfGhIjKlMn -->"
ALWAYS = "2008-01-01T00:00:00Z"


@pytest.fixture
async def gateway(github: GitHubStandIn) -> AsyncIterator[AppGitHub]:
    """The App's gateway to the demo stand-in."""
    config = Config(
        github_api_url=github.url,
        github_app_id=str(github.app_id),
        github_private_key=github.private_key_pem,
    )
    async with aiohttp.ClientSession() as session:
        yield AppGitHub(session, config, metrics=Metrics())


def issue(number: int) -> IssueRef:
    """An issue of the demo repository."""
    return IssueRef(OWNER, REPO, number)


def test_both_gateways_offer_the_issue_writer() -> None:
    def writer(gateway: GitHubGateway) -> IssueWriter:
        return gateway

    assert writer(LoggingGitHub()) is not None  # mypy checks AppGitHub where it is built


async def test_an_issue_is_opened_as_the_bot_and_edited(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    installation = github.installation_id
    opened = await gateway.create_issue(OWNER, REPO, "Write the docs", "body", installation)
    assert opened["user"]["login"] == github.bot_login
    ref = issue(opened["number"])
    assert github.issue(OWNER, REPO, ref.number)["body"] == "body"
    edited = await gateway.edit_issue(ref, installation, body="new body")
    assert (edited["title"], edited["body"]) == ("Write the docs", "new body")
    [patch] = github.calls_matching("PATCH", rf"/issues/{ref.number}$")
    assert patch.json == {"body": "new body"}  # the title is not sent when not changed
    await gateway.edit_issue(ref, installation, title="Docs")
    assert github.issue(OWNER, REPO, ref.number)["title"] == "Docs"
    closed = await gateway.edit_issue(ref, installation, state="closed", state_reason="duplicate")
    assert (closed["state"], closed["state_reason"]) == ("closed", "duplicate")


async def test_an_edit_of_a_deleted_issue_raises(gateway: AppGitHub, github: GitHubStandIn) -> None:
    github.delete_issue(OWNER, REPO, 3)
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gateway.edit_issue(issue(3), github.installation_id, body="x")
    assert raised.value.status_code == 410


async def test_sub_issues_are_added_moved_and_removed(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    installation = github.installation_id
    github.add_issue(OWNER, REPO, 10, title="Epic A")
    github.add_issue(OWNER, REPO, 11, title="Epic B")
    child = github.issue(OWNER, REPO, 1)["id"]
    await gateway.add_sub_issue(issue(10), child, installation, replace_parent=False)
    assert [i["number"] for i in github.sub_issues(OWNER, REPO, 10)] == [1]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gateway.add_sub_issue(issue(11), child, installation, replace_parent=False)
    assert raised.value.status_code == 422
    await gateway.add_sub_issue(issue(11), child, installation, replace_parent=True)
    assert github.sub_issues(OWNER, REPO, 10) == []
    assert [i["number"] for i in github.sub_issues(OWNER, REPO, 11)] == [1]
    [post] = github.calls_matching("POST", r"/issues/11/sub_issues$")[-1:]
    assert post.json == {"sub_issue_id": child, "replace_parent": True}
    await gateway.remove_sub_issue(issue(11), child, installation)
    assert github.sub_issues(OWNER, REPO, 11) == []
    await gateway.remove_sub_issue(issue(11), child, installation)  # not there: no error


async def test_the_marker_is_found_in_the_bots_issues_by_listing(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    installation = github.installation_id
    # A person's issue quoting the marker never counts; the bot's closed one does.
    github.add_issue(OWNER, REPO, 20, title="Quoting", body=f"look: {MARKER}", user="mallory")
    github.add_issue(OWNER, REPO, 21, title="Mine", body=f"{MARKER}\nbody", user=github.bot_login)
    github.close_issue(OWNER, REPO, 21)
    github.add_issue(OWNER, REPO, 22, title="Later", body=MARKER, user=github.bot_login)
    found = await gateway.find_issue_with_marker(
        OWNER, REPO, MARKER, since=ALWAYS, creator=github.bot_login, installation_id=installation
    )
    assert found is not None and found["number"] == 21  # the oldest
    [listing] = github.calls_matching("GET", rf"^/repos/{OWNER}/{REPO}/issues$")
    assert listing.query["state"] == "all"
    assert listing.query["creator"] == github.bot_login
    assert listing.query["since"] == ALWAYS
    anyone = await gateway.find_issue_with_marker(
        OWNER, REPO, MARKER, since=ALWAYS, creator=None, installation_id=installation
    )
    assert anyone is not None and anyone["number"] == 20


async def test_the_marker_lookup_reads_every_page_and_honours_since(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    for n in range(30, 250):
        github.add_issue(OWNER, REPO, n, title=f"Other {n}", body="x", user=github.bot_login)
    github.add_issue(OWNER, REPO, 250, title="Mine", body=MARKER, user=github.bot_login)
    bot = github.bot_login
    installation = github.installation_id
    found = await gateway.find_issue_with_marker(
        OWNER, REPO, MARKER, since=ALWAYS, creator=bot, installation_id=installation
    )
    assert found is not None and found["number"] == 250
    assert len(github.calls_matching("GET", rf"^/repos/{OWNER}/{REPO}/issues$")) == 3
    later = await gateway.find_issue_with_marker(
        OWNER, REPO, MARKER, since="2999-01-01T00:00:00Z", creator=bot, installation_id=installation
    )
    assert later is None


async def test_no_marker_no_issue(gateway: AppGitHub, github: GitHubStandIn) -> None:
    found = await gateway.find_issue_with_marker(
        OWNER,
        REPO,
        MARKER,
        since=ALWAYS,
        creator=github.bot_login,
        installation_id=github.installation_id,
    )
    assert found is None


async def test_the_repository_installation_is_asked_once_and_404_is_none(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    assert await gateway.repository_installation(OWNER, REPO) == github.installation_id
    assert await gateway.repository_installation(OWNER.upper(), REPO) == github.installation_id
    assert len(github.calls_matching("GET", r"/installation$")) == 1
    assert github.tokens_issued == 0  # asked as the App (JWT)
    assert await gateway.repository_installation(OWNER, "nowhere") is None
    assert await gateway.repository_installation(OWNER, "nowhere") is None
    assert len(github.calls_matching("GET", r"/nowhere/installation$")) == 2  # not cached


async def test_a_failing_installation_lookup_raises(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    github.inject(r"/installation$", 500, method="GET")
    with pytest.raises(gidgethub.GitHubException):
        await gateway.repository_installation(OWNER, REPO)


async def test_names_are_checked_before_any_request(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    with pytest.raises(ValueError):
        await gateway.create_issue(OWNER, "..", "t", "b", github.installation_id)
    with pytest.raises(ValueError):
        await gateway.find_issue_with_marker(
            OWNER, REPO, MARKER, since=ALWAYS, creator="a/../b", installation_id=1
        )
    assert github.calls == []


async def test_without_credentials_issues_are_logged_and_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = LoggingGitHub()
    caplog.set_level(logging.INFO, logger="bot.clients.github")
    with pytest.raises(GitHubUnavailable, match="credentials"):
        await gateway.create_issue(OWNER, REPO, "Write the docs", "body", None)
    assert "would open an issue in example-org/infrastructure titled 'Write the docs'" in (
        caplog.text
    )
    assert "needs GitHub App credentials" in caplog.text
    with pytest.raises(GitHubUnavailable):
        await gateway.edit_issue(issue(1), None, body="x")
    with pytest.raises(GitHubUnavailable):
        await gateway.find_issue_with_marker(
            OWNER, REPO, MARKER, since=ALWAYS, creator=None, installation_id=None
        )
    with pytest.raises(GitHubUnavailable):
        await gateway.repository_installation(OWNER, REPO)
    await gateway.add_sub_issue(issue(10), 1, None, replace_parent=False)
    assert "would add issue id 1 as a sub-issue of example-org/infrastructure#10" in caplog.text
