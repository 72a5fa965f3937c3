"""The GitHub stand-in opens, edits and lists issues as GitHub does, for the real gidgethub
client: the App's bot user as the creator, GitHub's 422s, the listing's filters and pages,
sub-issues moved only with ``replace_parent``, the repository's installation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import gidgethub
import jwt
import pytest
from gidgethub import apps
from gidgethub.aiohttp import GitHubAPI

from tests.constants import OWNER, REPO
from tests.standins.github import GitHubStandIn, parse_timestamp

ISSUES = f"/repos/{OWNER}/{REPO}/issues"


@pytest.fixture
async def api(github: GitHubStandIn) -> AsyncIterator[GitHubAPI]:
    """A gidgethub client with an installation token of the stand-in's App."""
    async with aiohttp.ClientSession() as session:
        app_api = GitHubAPI(session, "deliverables-bot", base_url=github.url)
        token = await apps.get_installation_access_token(
            app_api,
            installation_id=str(github.installation_id),
            app_id=str(github.app_id),
            private_key=github.private_key_pem,
        )
        yield GitHubAPI(
            session, "deliverables-bot", base_url=github.url, oauth_token=token["token"]
        )


# ---- opening -------------------------------------------------------------------------------


async def test_an_issue_opened_with_a_token_is_the_bots(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    issue = await api.post(
        ISSUES,
        data={
            "title": "Write the docs",
            "body": "the body",
            "labels": ["docs"],
            "assignees": ["carol"],
        },
    )
    assert issue["number"] == 4  # after the demo issues 1 to 3
    assert issue["user"]["login"] == github.bot_login == "deliverables-bot[bot]"
    assert (issue["title"], issue["body"], issue["state"]) == ("Write the docs", "the body", "open")
    assert [label["name"] for label in issue["labels"]] == ["docs"]
    assert [a["login"] for a in issue["assignees"]] == ["carol"]
    assert issue["html_url"] == f"https://github.com/{OWNER}/{REPO}/issues/4"
    assert github.issue(OWNER, REPO, 4)["id"] == issue["id"]
    [call] = github.calls_matching("POST", rf"^{ISSUES}$")
    assert call.json["title"] == "Write the docs"


async def test_opening_answers_201_with_where_the_issue_is(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    async with aiohttp.ClientSession() as session:
        token = api.oauth_token
        async with session.post(
            github.url + ISSUES,
            json={"title": "T"},
            headers={"Authorization": f"token {token}"},
        ) as response:
            assert response.status == 201
            body = await response.json()
            assert response.headers["Location"] == body["url"]
            assert body["body"] is None


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        pytest.param({}, "title", "missing_field", id="no-title"),
        pytest.param({"title": "  "}, "title", "invalid", id="blank-title"),
        pytest.param({"title": "x" * 257}, "title", "custom", id="long-title"),
        pytest.param({"title": "T", "body": 5}, "body", "invalid", id="body-not-text"),
        pytest.param({"title": "T", "body": "x" * 65537}, "body", "custom", id="long-body"),
        pytest.param({"title": "T", "labels": "docs"}, "labels", "invalid", id="labels-not-list"),
    ],
)
async def test_opening_refuses_what_github_refuses(
    api: GitHubAPI, github: GitHubStandIn, data: dict, field: str, code: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            github.url + ISSUES, json=data, headers={"Authorization": f"token {api.oauth_token}"}
        ) as response,
    ):
        assert response.status == 422
        [error] = (await response.json())["errors"]
    assert (error["resource"], error["field"], error["code"]) == ("Issue", field, code)
    assert len(github.issues(OWNER, REPO)) == 3  # nothing opened


async def test_opening_in_an_unknown_repository_is_404(api: GitHubAPI) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await api.post(f"/repos/{OWNER}/nowhere/issues", data={"title": "T"})
    assert raised.value.status_code == 404


async def test_opening_needs_a_token(github: GitHubStandIn) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(github.url + ISSUES, json={"title": "T"}) as response,
    ):
        assert response.status == 401
    assert len(github.issues(OWNER, REPO)) == 3


# ---- editing -------------------------------------------------------------------------------


async def test_an_issue_is_edited_and_closed_by_the_bot(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    before = github.issue(OWNER, REPO, 1)
    edited = await api.patch(f"{ISSUES}/1", data={"title": "New", "body": "new body"})
    assert (edited["title"], edited["body"], edited["state"]) == ("New", "new body", "open")
    assert parse_timestamp(edited["updated_at"]) > parse_timestamp(before["updated_at"])
    closed = await api.patch(f"{ISSUES}/1", data={"state": "closed", "state_reason": "duplicate"})
    assert (closed["state"], closed["state_reason"]) == ("closed", "duplicate")
    assert closed["closed_by"]["login"] == github.bot_login
    assert closed["closed_at"] is not None
    reopened = await api.patch(f"{ISSUES}/1", data={"state": "open"})
    assert (reopened["state"], reopened["state_reason"], reopened["closed_at"]) == (
        "open",
        "reopened",
        None,
    )
    assert github.issue(OWNER, REPO, 1)["title"] == "New"


async def test_an_edit_of_the_body_alone_keeps_the_title(api: GitHubAPI) -> None:
    edited = await api.patch(f"{ISSUES}/2", data={"body": "only the body"})
    assert (edited["title"], edited["body"]) == ("Configure login", "only the body")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"state": "merged"}, id="state"),
        pytest.param({"state_reason": "bored"}, id="state-reason"),
        pytest.param({"title": ""}, id="empty-title"),
        pytest.param({"assignees": [1]}, id="assignees"),
    ],
)
async def test_an_edit_refuses_what_github_refuses(
    api: GitHubAPI, github: GitHubStandIn, data: dict
) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await api.patch(f"{ISSUES}/3", data=data)
    assert raised.value.status_code == 422
    assert github.issue(OWNER, REPO, 3)["title"] == "Load workshop materials"


async def test_editing_a_deleted_issue_is_410(api: GitHubAPI, github: GitHubStandIn) -> None:
    github.delete_issue(OWNER, REPO, 3)
    with pytest.raises(gidgethub.BadRequest) as raised:
        await api.patch(f"{ISSUES}/3", data={"body": "x"})
    assert raised.value.status_code == 410


# ---- listing -------------------------------------------------------------------------------


async def test_listing_filters_by_creator_state_and_since(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    github.add_issue(OWNER, REPO, 5, title="Old", user=github.bot_login, updated_at="2020-01-01")
    mine = await api.post(ISSUES, data={"title": "Mine"})
    await api.patch(f"{ISSUES}/{mine['number']}", data={"state": "closed"})
    bot = github.bot_login

    async def numbers(query: str) -> list[int]:
        return [i["number"] async for i in api.getiter(f"{ISSUES}?{query}")]

    assert await numbers(f"state=all&creator={bot}") == [mine["number"], 5]
    assert await numbers(f"creator={bot}") == [5]  # open only, by default
    assert await numbers(f"state=all&creator={bot}&since=2025-01-01T00:00:00Z") == [mine["number"]]
    assert await numbers(f"state=all&creator={bot}&sort=created&direction=asc") == [
        5,
        mine["number"],
    ]


async def test_listing_follows_pages(api: GitHubAPI, github: GitHubStandIn) -> None:
    for n in range(10, 260):
        github.add_issue(OWNER, REPO, n, title=f"Issue {n}", user=github.bot_login)
    listed = [
        i["number"]
        async for i in api.getiter(f"{ISSUES}?state=all&per_page=100&sort=created&direction=asc")
    ]
    assert len(listed) == 253 and len(set(listed)) == 253
    assert len(github.calls_matching("GET", rf"^{ISSUES}$")) == 3


# ---- sub-issues ----------------------------------------------------------------------------


async def test_a_sub_issue_with_a_parent_moves_only_with_replace_parent(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    github.add_issue(OWNER, REPO, 10, title="Epic A")
    github.add_issue(OWNER, REPO, 11, title="Epic B")
    child = github.issue(OWNER, REPO, 1)["id"]
    await api.post(f"{ISSUES}/10/sub_issues", data={"sub_issue_id": child, "replace_parent": False})
    assert github.issue(OWNER, REPO, 1)["parent_issue_url"].endswith(f"{ISSUES}/10")
    with pytest.raises(gidgethub.BadRequest) as raised:
        await api.post(f"{ISSUES}/11/sub_issues", data={"sub_issue_id": child})
    assert raised.value.status_code == 422
    with pytest.raises(gidgethub.BadRequest) as again:
        await api.post(f"{ISSUES}/10/sub_issues", data={"sub_issue_id": child})
    assert again.value.status_code == 422  # a sub-issue of it already
    await api.post(f"{ISSUES}/11/sub_issues", data={"sub_issue_id": child, "replace_parent": True})
    assert [i["number"] for i in github.sub_issues(OWNER, REPO, 11)] == [1]
    assert github.sub_issues(OWNER, REPO, 10) == []


# ---- the repository's installation ---------------------------------------------------------


async def test_the_repository_installation_is_read_with_the_apps_jwt(
    github: GitHubStandIn,
) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"iat": now - 60, "exp": now + 540, "iss": str(github.app_id)},
        github.private_key_pem,
        algorithm="RS256",
    )
    async with aiohttp.ClientSession() as session:
        app_api = GitHubAPI(session, "deliverables-bot", base_url=github.url)
        found = await app_api.getitem(f"/repos/{OWNER}/{REPO}/installation", jwt=token)
        assert found["id"] == github.installation_id
        with pytest.raises(gidgethub.BadRequest) as raised:
            await app_api.getitem(f"/repos/{OWNER}/nowhere/installation", jwt=token)
        assert raised.value.status_code == 404
