"""The App's GitHub gateway over real HTTP against the GitHub stand-in, and its stand-in
without credentials.

``AppGitHub`` signs a real JWT with the stand-in's key, mints real installation tokens and
reads and writes through gidgethub; the stand-in records every request it gets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.clients.github import AppGitHub, IssueNotVisible
from bot.clients.github_auth import TOKEN_REFRESH_MARGIN_SECONDS
from bot.clients.github_logging import GitHubUnavailable, LoggingGitHub
from bot.clients.github_paths import checked_login
from bot.clients.github_protocols import DeliveryLog, GitHubGateway
from bot.config import Config
from bot.core.issue import IssueRef
from bot.metrics import Metrics
from tests.constants import OWNER, REPO
from tests.standins.github import GitHubStandIn

TOKENS = r"^/app/installations/\d+/access_tokens$"

MakeGateway = Callable[[GitHubStandIn], AppGitHub]


def config_for(gh: GitHubStandIn) -> Config:
    """The bot's configuration as the stand-in's App."""
    return Config(
        github_api_url=gh.url,
        github_app_id=str(gh.app_id),
        github_private_key=gh.private_key_pem,
    )


@pytest.fixture
async def make_gateway() -> AsyncIterator[MakeGateway]:
    """Build ``AppGitHub`` gateways on one aiohttp session, closed at teardown."""
    async with aiohttp.ClientSession() as session:
        yield lambda gh: AppGitHub(session, config_for(gh), metrics=Metrics())


@pytest.fixture
def gateway(make_gateway: MakeGateway, github: GitHubStandIn) -> AppGitHub:
    """The App's gateway to the demo stand-in."""
    return make_gateway(github)


def issue(number: int) -> IssueRef:
    """An issue of the demo repository."""
    return IssueRef(OWNER, REPO, number)


# -- authentication --------------------------------------------------------------------------


async def test_an_installation_token_is_minted_once_and_reused(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    installation = github.installation_id
    await asyncio.gather(*(gateway.get_issue(issue(n), installation) for n in (1, 2, 3)))
    await gateway.list_comments(issue(1), installation)
    assert github.tokens_issued == 1
    assert len(github.calls_matching("POST", TOKENS)) == 1


async def test_a_token_about_to_expire_is_renewed(make_gateway: MakeGateway) -> None:
    # GitHub's tokens last an hour; one that expires inside the refresh margin is not used.
    with GitHubStandIn(token_lifetime=TOKEN_REFRESH_MARGIN_SECONDS - 5) as gh:
        gh.add_issue(OWNER, REPO, 1, title="Deploy the hub")
        gateway = make_gateway(gh)
        first = await gateway.installation_token(gh.installation_id)
        data = await gateway.get_issue(issue(1), gh.installation_id)
        assert data is not None and data["title"] == "Deploy the hub"
        assert gh.tokens_issued == 2
        assert await gateway.installation_token(gh.installation_id) != first
        assert gh.tokens_issued == 3


async def test_a_call_without_an_installation_makes_no_request(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    with pytest.raises(Exception, match="names no installation"):
        await gateway.get_issue(issue(1), None)
    assert github.calls == []


async def test_the_bot_login_is_read_once_as_the_app(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    assert await gateway.bot_login() == github.bot_login
    assert await gateway.bot_login() == github.bot_login
    assert len(github.calls_matching("GET", r"^/app$")) == 1
    assert github.tokens_issued == 0  # the App's own JWT, no installation token


# -- reading issues --------------------------------------------------------------------------


async def test_an_issue_is_read_as_github_has_it_now(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    github.close_issue(OWNER, REPO, 1)
    data = await gateway.get_issue(issue(1), github.installation_id)
    assert data is not None
    assert data["state"] == "closed"
    assert data["html_url"] == f"https://github.com/{OWNER}/{REPO}/issues/1"


async def test_404_means_not_visible(gateway: AppGitHub, github: GitHubStandIn) -> None:
    with pytest.raises(IssueNotVisible) as raised:
        await gateway.get_issue(IssueRef(OWNER, "private-elsewhere", 9), github.installation_id)
    assert raised.value.ref == IssueRef(OWNER, "private-elsewhere", 9)


async def test_410_means_deleted(gateway: AppGitHub, github: GitHubStandIn) -> None:
    github.delete_issue(OWNER, REPO, 2)
    assert await gateway.get_issue(issue(2), github.installation_id) is None


async def test_a_transferred_issue_is_read_in_its_new_place(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    github.transfer_issue(OWNER, REPO, 3, OWNER, "elsewhere")
    data = await gateway.get_issue(issue(3), github.installation_id)
    assert data is not None
    assert data["html_url"].startswith(f"https://github.com/{OWNER}/elsewhere/issues/")


async def test_comments_are_read_page_after_page(gateway: AppGitHub, github: GitHubStandIn) -> None:
    for n in range(230):
        github.add_comment(OWNER, REPO, 1, f"comment {n}")
    comments = await gateway.list_comments(issue(1), github.installation_id)
    assert [c["body"] for c in comments] == [f"comment {n}" for n in range(230)]
    pages = github.calls_matching("GET", rf"^/repos/{OWNER}/{REPO}/issues/1/comments$")
    assert len(pages) == 3  # 100 a page


async def test_a_repositorys_issues_leave_pull_requests_out(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    listed = [i async for i in gateway.iter_issues(OWNER, REPO, github.installation_id)]
    assert sorted(i["number"] for i in listed) == [1, 2, 3]
    assert all("pull_request" not in i for i in listed)


async def test_installations_and_their_repositories(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    installations = await gateway.installations()
    assert [i["id"] for i in installations] == [github.installation_id]
    repositories = await gateway.installation_repositories(github.installation_id)
    assert f"{OWNER}/{REPO}" in {r["full_name"] for r in repositories}


# -- writing comments ------------------------------------------------------------------------


async def test_a_comment_is_posted_edited_reacted_to_and_deleted(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    installation = github.installation_id
    await gateway.create_comment(issue(1), "first words", installation)
    (posted,) = github.comments(OWNER, REPO, 1)
    assert posted["user"]["login"] == github.bot_login
    await gateway.edit_comment(OWNER, REPO, posted["id"], "second words", installation)
    assert github.comment(posted["id"])["body"] == "second words"
    await gateway.add_reaction(OWNER, REPO, posted["id"], "+1", installation)
    assert [r["content"] for r in github.reactions(posted["id"])] == ["+1"]
    await gateway.delete_comment(OWNER, REPO, posted["id"], installation)
    assert github.comments(OWNER, REPO, 1) == []
    await gateway.delete_comment(OWNER, REPO, posted["id"], installation)  # gone: no error


async def test_the_permission_of_a_collaborator_and_of_a_stranger(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    github.set_permission(OWNER, REPO, "alice", "write")
    answer = await gateway.permission(OWNER, REPO, "alice", github.installation_id)
    assert answer == {"role_name": "write", "permission": "write", "granted": "write"}
    stranger = await gateway.permission(OWNER, REPO, "mallory", github.installation_id)
    assert stranger == {"role_name": "none", "permission": "none", "granted": "none"}


# -- names checked before any request --------------------------------------------------------

BAD_NAMES = [
    pytest.param("permission", ("..", REPO, "alice"), id="permission-owner-dot-dot"),
    pytest.param("permission", (OWNER, "a/b", "alice"), id="permission-repo-slash"),
    pytest.param("permission", (OWNER, REPO, "../../admin"), id="permission-login-path"),
    pytest.param("add_reaction", (OWNER, "..", 5, "+1"), id="reaction-repo-dot-dot"),
    pytest.param("add_reaction", (OWNER, REPO, "5/../x", "+1"), id="reaction-comment-id"),
    pytest.param("edit_comment", ("o/..", REPO, 5, "body"), id="edit-owner-slash"),
    pytest.param("delete_comment", (OWNER, ".", 5), id="delete-repo-dot"),
    pytest.param("custom_role_base", ("../orgs/x", "role"), id="custom-role-org"),
]


@pytest.mark.parametrize(("method", "args"), BAD_NAMES)
async def test_a_bad_name_is_refused_before_any_request(
    gateway: AppGitHub, github: GitHubStandIn, method: str, args: tuple[Any, ...]
) -> None:
    with pytest.raises(ValueError):
        await getattr(gateway, method)(*args, github.installation_id)
    assert github.calls == []  # not even an installation token


async def test_a_bad_repository_name_lists_no_issue(
    gateway: AppGitHub, github: GitHubStandIn
) -> None:
    with pytest.raises(ValueError):
        [i async for i in gateway.iter_issues(OWNER, "..", github.installation_id)]
    assert github.calls == []


@pytest.mark.parametrize(
    "login", ["alice", "Octo-Cat9", "a-b.c_d", "dependabot[bot]", "my-app[bot]"]
)
def test_logins_as_github_allows_them(login: str) -> None:
    assert checked_login(login) == login


@pytest.mark.parametrize(
    "login",
    [
        "",
        "-alice",
        "a..b",
        "a/b",
        "alice?x=1",
        "x" * 101,
        "a[bot][bot]",
        "[bot]",
        "a[b]",
        "-a[bot]",
    ],
)
def test_logins_github_would_not_allow(login: str) -> None:
    with pytest.raises(ValueError):
        checked_login(login)


# -- without credentials ---------------------------------------------------------------------


async def test_logging_github_logs_its_writes_instead_of_making_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.clients.github")
    gateway = LoggingGitHub()
    await gateway.create_comment(issue(1), "Project complete", 7)
    await gateway.edit_comment(OWNER, REPO, 11, "Progress 2/3", 7)
    await gateway.delete_comment(OWNER, REPO, 12, 7)
    await gateway.add_reaction(OWNER, REPO, 13, "+1", 7)
    assert caplog.messages == [
        f"would comment on {OWNER}/{REPO}#1: Project complete",
        f"would edit comment 11 in {OWNER}/{REPO}: Progress 2/3",
        f"would delete comment 12 in {OWNER}/{REPO}",
        f"would react +1 to comment 13 in {OWNER}/{REPO}",
    ]


async def test_logging_github_reads_nothing() -> None:
    gateway = LoggingGitHub()
    assert gateway.can_read is False
    assert await gateway.bot_login() is None
    assert await gateway.list_comments(issue(1), 7) == []
    with pytest.raises(GitHubUnavailable):
        await gateway.get_issue(issue(1), 7)
    with pytest.raises(GitHubUnavailable):
        await gateway.permission(OWNER, REPO, "alice", 7)
    with pytest.raises(GitHubUnavailable):
        [i async for i in gateway.iter_issues(OWNER, REPO, 7)]
    assert not isinstance(gateway, DeliveryLog)


async def test_both_gateways_offer_what_the_bot_asks(gateway: AppGitHub) -> None:
    gateways: list[GitHubGateway] = [gateway, LoggingGitHub()]
    assert [g.can_read for g in gateways] == [True, False]
    assert isinstance(gateway, DeliveryLog)
