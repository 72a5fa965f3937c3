"""The GitHub stand-in answers the real gidgethub client as GitHub would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import gidgethub
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gidgethub import apps
from gidgethub.aiohttp import GitHubAPI

from tests.constants import OWNER, REPO
from tests.standins.github import GitHubStandIn, parse_timestamp

ISSUE_1 = f"/repos/{OWNER}/{REPO}/issues/1"


def _jwt(
    gh: GitHubStandIn,
    *,
    key: str | None = None,
    iss: str | None = None,
    iat: int = -60,
    exp: int = 540,
) -> str:
    """An App JWT as gidgethub makes it; ``iat``/``exp`` are seconds from now."""
    now = int(time.time())
    claims = {"iat": now + iat, "exp": now + exp, "iss": iss or str(gh.app_id)}
    return jwt.encode(claims, key or gh.private_key_pem, algorithm="RS256")


def _other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def _token(session: aiohttp.ClientSession, gh: GitHubStandIn) -> dict[str, Any]:
    app_api = GitHubAPI(session, "deliverables-bot", base_url=gh.url)
    return await apps.get_installation_access_token(
        app_api,
        installation_id=str(gh.installation_id),
        app_id=str(gh.app_id),
        private_key=gh.private_key_pem,
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session for the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def api(session: aiohttp.ClientSession, github: GitHubStandIn) -> GitHubAPI:
    """A gidgethub client authenticated with an installation token from the stand-in."""
    token = await _token(session, github)
    return GitHubAPI(session, "deliverables-bot", base_url=github.url, oauth_token=token["token"])


# ---- lifecycle -------------------------------------------------------------------------


def test_starts_in_well_under_a_second() -> None:
    """Starting (and stopping) a stand-in is cheap once the process's key exists."""
    GitHubStandIn().start().stop()  # the key is generated once per process
    began = time.perf_counter()
    with GitHubStandIn() as gh:
        started = time.perf_counter() - began
        assert gh.url.startswith("http://127.0.0.1:")
    assert started < 0.5


def test_serves_synchronous_clients(github: GitHubStandIn) -> None:
    """A synchronous client (requests) works too: the server runs on its own thread."""
    minted = requests.post(
        f"{github.url}/app/installations/{github.installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {_jwt(github)}"},
        timeout=5,
    )
    assert minted.status_code == 201
    issue = requests.get(
        f"{github.url}{ISSUE_1}",
        headers={"Authorization": f"Bearer {minted.json()['token']}"},
        timeout=5,
    )
    assert issue.status_code == 200
    assert issue.json()["title"] == "Deploy the hub"


# ---- app authentication ------------------------------------------------------------------


async def test_mints_installation_token_with_real_app_jwt(
    session: aiohttp.ClientSession, github: GitHubStandIn
) -> None:
    """gidgethub's get_installation_access_token gets a ghs_ token valid for an hour."""
    token = await _token(session, github)
    assert token["token"].startswith("ghs_")
    assert len(token["token"]) == 40
    assert token["expires_at"].endswith("Z")
    assert 3590 <= parse_timestamp(token["expires_at"]) - time.time() <= 3600
    assert token["permissions"] == {"issues": "write", "metadata": "read"}
    assert github.tokens_issued == 1
    await _token(session, github)
    assert github.tokens_issued == 2


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"key": "other"}, id="signed-by-another-key"),
        pytest.param({"iss": "999"}, id="wrong-issuer"),
        pytest.param({"iat": -1200, "exp": -600}, id="expired"),
        pytest.param({"exp": 3600}, id="exp-too-far-ahead"),
        pytest.param({"iat": 300}, id="issued-in-the-future"),
    ],
)
async def test_refuses_bad_app_jwt(
    session: aiohttp.ClientSession, github: GitHubStandIn, claims: dict[str, Any]
) -> None:
    """A JWT not signed by the app's key, for another app, or expired is answered 401."""
    if claims.get("key") == "other":
        claims = {**claims, "key": _other_key_pem()}
    app_api = GitHubAPI(session, "deliverables-bot", base_url=github.url)
    with pytest.raises(gidgethub.BadRequest) as refused:
        await app_api.post(
            f"/app/installations/{github.installation_id}/access_tokens",
            data=b"",
            jwt=_jwt(github, **claims),
        )
    assert refused.value.status_code == 401
    assert github.tokens_issued == 0


async def test_app_routes_need_a_jwt(
    session: aiohttp.ClientSession, api: GitHubAPI, github: GitHubStandIn
) -> None:
    """/app answers with a JWT; an installation token there is refused."""
    app_api = GitHubAPI(session, "deliverables-bot", base_url=github.url)
    app = await app_api.getitem("/app", jwt=_jwt(github))
    assert (app["id"], app["slug"]) == (github.app_id, "deliverables-bot")
    installations = [i async for i in app_api.getiter("/app/installations", jwt=_jwt(github))]
    assert [i["id"] for i in installations] == [github.installation_id]
    assert installations[0]["account"]["login"] == "example-org"
    installation = await app_api.getitem(f"/repos/{OWNER}/{REPO}/installation", jwt=_jwt(github))
    assert installation["id"] == github.installation_id
    with pytest.raises(gidgethub.BadRequest) as refused:
        await api.getitem("/app")
    assert refused.value.status_code == 401


async def test_unknown_installation_is_404(
    session: aiohttp.ClientSession, github: GitHubStandIn
) -> None:
    """Minting a token for an installation the app does not have answers 404."""
    app_api = GitHubAPI(session, "deliverables-bot", base_url=github.url)
    with pytest.raises(gidgethub.BadRequest) as refused:
        await app_api.post("/app/installations/1/access_tokens", data=b"", jwt=_jwt(github))
    assert refused.value.status_code == 404


# ---- installation tokens ------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [pytest.param("ghs_" + "x" * 36, id="unknown"), pytest.param(None, id="missing")],
)
async def test_refuses_unknown_token(
    session: aiohttp.ClientSession, github: GitHubStandIn, token: str | None
) -> None:
    """Requests without a token the stand-in minted are answered 401 Bad credentials."""
    client = GitHubAPI(session, "deliverables-bot", base_url=github.url, oauth_token=token)
    with pytest.raises(gidgethub.BadRequest) as refused:
        await client.getitem(ISSUE_1)
    assert refused.value.status_code == 401


async def test_expired_tokens_are_refused(
    session: aiohttp.ClientSession, github: GitHubStandIn
) -> None:
    """A token past its lifetime (or expired by the test) answers 401."""
    github.token_lifetime = 0.3
    short = await _token(session, github)
    client = GitHubAPI(session, "deliverables-bot", base_url=github.url, oauth_token=short["token"])
    await client.getitem(ISSUE_1)
    await asyncio.sleep(0.35)
    with pytest.raises(gidgethub.BadRequest) as refused:
        await client.getitem(ISSUE_1)
    assert refused.value.status_code == 401

    github.token_lifetime = 3600
    fresh = await _token(session, github)
    client = GitHubAPI(session, "deliverables-bot", base_url=github.url, oauth_token=fresh["token"])
    await client.getitem(ISSUE_1)
    github.expire_tokens()
    with pytest.raises(gidgethub.BadRequest):
        await client.getitem(ISSUE_1)


# ---- issues -------------------------------------------------------------------------------


async def test_get_issue(api: GitHubAPI, github: GitHubStandIn) -> None:
    """An issue has GitHub's fields, html_url on github.com and API URLs on the stand-in."""
    issue = await api.getitem(ISSUE_1)
    assert issue["number"] == 1
    assert issue["title"] == "Deploy the hub"
    assert issue["state"] == "open"
    assert issue["state_reason"] is None
    assert issue["closed_at"] is None
    assert [a["login"] for a in issue["assignees"]] == ["alice"]
    assert issue["assignee"]["login"] == "alice"
    assert issue["html_url"] == "https://github.com/example-org/infrastructure/issues/1"
    assert issue["url"] == f"{github.url}{ISSUE_1}"
    assert issue["user"]["type"] == "User"
    assert issue["labels"] == []
    assert issue["sub_issues_summary"] == {"total": 0, "completed": 0, "percent_completed": 0}
    assert "updated_at" in issue
    assert issue == github.issue(OWNER, REPO, 1)


async def test_issue_state_changes_show_through(api: GitHubAPI, github: GitHubStandIn) -> None:
    """update_issue/close_issue change what the API answers, and bump updated_at."""
    before = github.issue(OWNER, REPO, 3)
    github.update_issue(OWNER, REPO, 3, assignees=["carol"], labels=["blocked"])
    github.close_issue(OWNER, REPO, 3, state_reason="not_planned")
    issue = await api.getitem(f"/repos/{OWNER}/{REPO}/issues/3")
    assert issue["state"] == "closed"
    assert issue["state_reason"] == "not_planned"
    assert issue["closed_at"] is not None
    assert [label["name"] for label in issue["labels"]] == ["blocked"]
    assert issue["updated_at"] > before["updated_at"]
    reopened = github.reopen_issue(OWNER, REPO, 3)
    assert (reopened["state"], reopened["state_reason"], reopened["closed_at"]) == (
        "open",
        "reopened",
        None,
    )


async def test_unknown_issue_is_404(api: GitHubAPI) -> None:
    """An issue that never existed answers 404."""
    with pytest.raises(gidgethub.BadRequest) as missing:
        await api.getitem(f"/repos/{OWNER}/{REPO}/issues/99")
    assert missing.value.status_code == 404
    with pytest.raises(gidgethub.BadRequest) as missing:
        await api.getitem("/repos/example-org/nowhere/issues/1")
    assert missing.value.status_code == 404


async def test_deleted_issue_is_410(api: GitHubAPI, github: GitHubStandIn) -> None:
    """A deleted issue answers 410 Gone, as GitHub does."""
    github.delete_issue(OWNER, REPO, 2)
    with pytest.raises(gidgethub.BadRequest) as gone:
        await api.getitem(f"/repos/{OWNER}/{REPO}/issues/2")
    assert gone.value.status_code == 410
    numbers = [i["number"] async for i in api.getiter(f"/repos/{OWNER}/{REPO}/issues")]
    assert numbers == [3, 1]


async def test_transferred_issue_redirects(api: GitHubAPI, github: GitHubStandIn) -> None:
    """The old address of a transferred issue answers 301 to the new one, which aiohttp follows."""
    comment = github.add_comment(OWNER, REPO, 1, "before the move")
    moved = github.transfer_issue(OWNER, REPO, 1, "example-org", "support")
    issue = await api.getitem(ISSUE_1)
    assert issue["html_url"] == "https://github.com/example-org/support/issues/1"
    assert issue == moved
    redirected = github.calls_matching("GET", r"^/repositories/\d+/issues/1$")
    assert len(redirected) == 1
    comments = [c async for c in api.getiter(f"{ISSUE_1}/comments")]
    assert [c["id"] for c in comments] == [comment["id"]]
    assert github.issue(OWNER, REPO, 1)["html_url"].endswith("/infrastructure/issues/1")
    # Writes are redirected with 307, which keeps the method and body.
    posted = await api.post(f"{ISSUE_1}/comments", data={"body": "after the move"})
    assert posted["issue_url"].endswith("/repos/example-org/support/issues/1")
    assert [c["body"] for c in github.comments("example-org", "support", 1)] == [
        "before the move",
        "after the move",
    ]


async def test_getiter_pages_through_250_issues(api: GitHubAPI, github: GitHubStandIn) -> None:
    """getiter follows absolute next links across pages."""
    for number in range(1, 251):
        github.add_issue(
            OWNER,
            "big",
            number,
            title=f"Issue {number}",
            state="closed" if number % 5 == 0 else "open",
            labels=["deliverable"] if number % 2 == 0 else [],
        )
    github.reset_calls()
    seen = [i["number"] async for i in api.getiter("/repos/example-org/big/issues?state=all")]
    assert sorted(seen) == list(range(1, 251))
    assert seen[0] == 250  # newest first, as GitHub sorts by default
    assert len(github.calls_matching("GET", r"/big/issues$")) == 9  # 30 a page

    github.reset_calls()
    url = "/repos/example-org/big/issues?state=all&per_page=100"
    assert len([i async for i in api.getiter(url)]) == 250
    assert [c.query.get("page") for c in github.calls] == [None, "2", "3"]

    open_labeled = [
        i["number"]
        async for i in api.getiter(
            "/repos/example-org/big/issues?state=open&labels=deliverable&per_page=100"
        )
    ]
    assert sorted(open_labeled) == [n for n in range(1, 251) if n % 2 == 0 and n % 5]


async def test_link_header_is_absolute_on_the_standin(
    session: aiohttp.ClientSession, api: GitHubAPI, github: GitHubStandIn
) -> None:
    """Link headers carry absolute URLs on the stand-in, like GitHub's on api.github.com."""
    for number in range(4, 11):
        github.add_issue(OWNER, REPO, number, title=f"Issue {number}")
    token = api.oauth_token
    async with session.get(
        f"{github.url}/repos/{OWNER}/{REPO}/issues?per_page=3&page=2",
        headers={"Authorization": f"token {token}"},
    ) as response:
        link = response.headers["Link"]
        assert response.headers["x-ratelimit-limit"]
        assert len(await response.json()) == 3
    base = f"{github.url}/repos/{OWNER}/{REPO}/issues?"
    assert f'<{base}per_page=3&page=1>; rel="prev"' in link
    assert f'<{base}per_page=3&page=3>; rel="next"' in link
    assert f'<{base}per_page=3&page=4>; rel="last"' in link
    assert f'<{base}per_page=3&page=1>; rel="first"' in link


# ---- comments and reactions -------------------------------------------------------------


async def test_comments_create_list_edit(api: GitHubAPI, github: GitHubStandIn) -> None:
    """The bot's comments are written as its bot user and can be listed and edited."""
    created = await api.post(f"{ISSUE_1}/comments", data={"body": "Done <!-- marker -->"})
    assert created["user"]["login"] == "deliverables-bot[bot]"
    assert created["user"]["type"] == "Bot"
    assert created["performed_via_github_app"]["slug"] == "deliverables-bot"
    assert created["html_url"] == (
        f"https://github.com/{OWNER}/{REPO}/issues/1#issuecomment-{created['id']}"
    )
    assert created["issue_url"] == f"{github.url}{ISSUE_1}"

    for n in range(34):
        github.add_comment(OWNER, REPO, 1, f"comment {n}", user="alice")
    listed = [c async for c in api.getiter(f"{ISSUE_1}/comments")]
    assert len(listed) == 35
    assert listed[0]["id"] == created["id"]
    assert len(github.calls_matching("GET", r"/issues/1/comments$")) == 2

    edited = await api.patch(created["url"], data={"body": "Done again <!-- marker -->"})
    assert edited["body"] == "Done again <!-- marker -->"
    fetched = await api.getitem(f"/repos/{OWNER}/{REPO}/issues/comments/{created['id']}")
    assert fetched["body"] == "Done again <!-- marker -->"
    assert github.comments(OWNER, REPO, 1)[0]["body"] == "Done again <!-- marker -->"
    assert (await api.getitem(ISSUE_1))["comments"] == 35
    assert github.calls_matching("POST", r"/issues/1/comments$")[0].json == {
        "body": "Done <!-- marker -->"
    }


async def test_comment_validation(api: GitHubAPI) -> None:
    """A comment without a body is a 422, which gidgethub raises as InvalidField."""
    with pytest.raises(gidgethub.InvalidField):
        await api.post(f"{ISSUE_1}/comments", data={})
    with pytest.raises(gidgethub.BadRequest) as missing:
        await api.getitem(f"/repos/{OWNER}/{REPO}/issues/comments/12345")
    assert missing.value.status_code == 404


async def test_reactions(api: GitHubAPI, github: GitHubStandIn) -> None:
    """Reacting adds once (201), repeating answers the same reaction (200)."""
    comment = github.add_comment(OWNER, REPO, 1, "/deliverable status", user="alice")
    url = f"/repos/{OWNER}/{REPO}/issues/comments/{comment['id']}/reactions"
    first = await api.post(url, data={"content": "+1"})
    again = await api.post(url, data={"content": "+1"})
    await api.post(url, data={"content": "confused"})
    assert first["id"] == again["id"]
    assert first["user"]["login"] == "deliverables-bot[bot]"
    assert [r["content"] for r in github.reactions(comment["id"])] == ["+1", "confused"]
    assert github.comment(comment["id"])["reactions"]["total_count"] == 2
    with pytest.raises(gidgethub.InvalidField):
        await api.post(url, data={"content": "thumbs-up"})


# ---- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "role_name", "permission", "role"),
    [
        pytest.param("admin", None, "admin", "admin", id="admin"),
        pytest.param("maintain", None, "write", "maintain", id="maintain"),
        pytest.param("write", None, "write", "write", id="write"),
        pytest.param("triage", None, "read", "triage", id="triage"),
        pytest.param("read", None, "read", "read", id="read"),
        pytest.param("write", "deliverables-lead", "write", "deliverables-lead", id="custom"),
    ],
)
async def test_collaborator_permission(
    api: GitHubAPI,
    github: GitHubStandIn,
    given: str,
    role_name: str | None,
    permission: str,
    role: str,
) -> None:
    """The permission endpoint reports the legacy permission and the role name."""
    github.set_permission(OWNER, REPO, "Alice", given, role_name)
    answer = await api.getitem(f"/repos/{OWNER}/{REPO}/collaborators/alice/permission")
    assert (answer["permission"], answer["role_name"]) == (permission, role)
    assert answer["user"]["login"] == "Alice"


async def test_non_collaborator_permission(api: GitHubAPI, github: GitHubStandIn) -> None:
    """A login with no access answers 404, or read when configured like a public repository."""
    with pytest.raises(gidgethub.BadRequest) as missing:
        await api.getitem(f"/repos/{OWNER}/{REPO}/collaborators/mallory/permission")
    assert missing.value.status_code == 404
    github.non_collaborator_permission = "read"
    answer = await api.getitem(f"/repos/{OWNER}/{REPO}/collaborators/mallory/permission")
    assert (answer["permission"], answer["role_name"]) == ("read", "read")


@pytest.mark.parametrize(
    ("given", "flags"),
    [
        pytest.param("admin", {"admin", "maintain", "push", "triage", "pull"}, id="admin"),
        pytest.param("maintain", {"maintain", "push", "triage", "pull"}, id="maintain"),
        pytest.param("write", {"push", "triage", "pull"}, id="write"),
        pytest.param("triage", {"triage", "pull"}, id="triage"),
        pytest.param("read", {"pull"}, id="read"),
    ],
)
@pytest.mark.parametrize("role_name", [None, "release-manager"], ids=["built-in", "custom"])
async def test_permissions_hash_says_what_the_base_role_allows(
    api: GitHubAPI, github: GitHubStandIn, given: str, flags: set[str], role_name: str | None
) -> None:
    """The ``user.permissions`` hash reflects the (base) role, for custom roles too."""
    github.set_permission(OWNER, REPO, "alice", given, role_name)
    answer = await api.getitem(f"/repos/{OWNER}/{REPO}/collaborators/alice/permission")
    granted = {flag for flag, value in answer["user"]["permissions"].items() if value}
    assert granted == flags


async def test_custom_repository_roles(api: GitHubAPI, github: GitHubStandIn) -> None:
    """A custom role given with set_permission is listed by its organization, with the role it
    extends as ``base_role``; one role can be read by id; 403 without the App's permission."""
    github.set_permission(OWNER, REPO, "alice", "triage", role_name="labeller")
    github.add_custom_role(OWNER, "auditor", "read")
    answer = await api.getitem(f"/orgs/{OWNER}/custom-repository-roles")
    by_name = {role["name"]: role for role in answer["custom_roles"]}
    assert answer["total_count"] == 2
    assert {n: r["base_role"] for n, r in by_name.items()} == {
        "labeller": "triage",
        "auditor": "read",
    }
    one = await api.getitem(f"/orgs/{OWNER}/custom-repository-roles/{by_name['auditor']['id']}")
    assert one["name"] == "auditor"
    with pytest.raises(gidgethub.BadRequest) as unknown:
        await api.getitem("/orgs/nobody-org/custom-repository-roles")
    assert unknown.value.status_code == 404
    github.custom_roles_readable = False
    with pytest.raises(gidgethub.BadRequest) as refused:
        await api.getitem(f"/orgs/{OWNER}/custom-repository-roles")
    assert refused.value.status_code == 403


async def test_private_repository_answers_404_for_non_collaborators(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    github.non_collaborator_permission = "read"
    github.add_repository(OWNER, "secret", private=True)
    with pytest.raises(gidgethub.BadRequest) as missing:
        await api.getitem(f"/repos/{OWNER}/secret/collaborators/mallory/permission")
    assert missing.value.status_code == 404


@pytest.mark.parametrize(
    ("length", "accepted"),
    [pytest.param(65536, True, id="at-the-limit"), pytest.param(65537, False, id="over")],
)
async def test_comment_bodies_are_limited_to_65536_characters(
    api: GitHubAPI, length: int, accepted: bool
) -> None:
    url = f"/repos/{OWNER}/{REPO}/issues/1/comments"
    if accepted:
        posted = await api.post(url, data={"body": "x" * length})
        assert len(posted["body"]) == length
        return
    with pytest.raises(gidgethub.BadRequest) as refused:
        await api.post(url, data={"body": "x" * length})
    assert refused.value.status_code == 422


# ---- sub-issues --------------------------------------------------------------------------------


async def test_sub_issues(api: GitHubAPI, github: GitHubStandIn) -> None:
    """Sub-issues are added by issue id, listed, summarized and removed."""
    tracking = github.add_issue(OWNER, REPO, 10, title="Setup workshop hub")
    base = f"/repos/{OWNER}/{REPO}/issues/10"
    for number in (1, 2, 3):
        sub_id = github.issue(OWNER, REPO, number)["id"]
        parent = await api.post(f"{base}/sub_issues", data={"sub_issue_id": sub_id})
        assert parent["number"] == 10
    github.close_issue(OWNER, REPO, 1)
    listed = [i["number"] async for i in api.getiter(f"{base}/sub_issues")]
    assert listed == [1, 2, 3]
    summary = (await api.getitem(base))["sub_issues_summary"]
    assert summary == {"total": 3, "completed": 1, "percent_completed": 33}
    parent = await api.getitem(f"/repos/{OWNER}/{REPO}/issues/2/parent")
    assert parent["id"] == tracking["id"]

    with pytest.raises(gidgethub.BadRequest) as duplicate:
        await api.post(
            f"{base}/sub_issues", data={"sub_issue_id": github.issue(OWNER, REPO, 2)["id"]}
        )
    assert duplicate.value.status_code == 422

    await api.delete(f"{base}/sub_issue", data={"sub_issue_id": github.issue(OWNER, REPO, 2)["id"]})
    assert [i["number"] for i in github.sub_issues(OWNER, REPO, 10)] == [1, 3]
    with pytest.raises(gidgethub.BadRequest) as orphan:
        await api.getitem(f"/repos/{OWNER}/{REPO}/issues/2/parent")
    assert orphan.value.status_code == 404


async def test_sub_issue_needs_replace_parent_to_move(
    api: GitHubAPI, github: GitHubStandIn
) -> None:
    """A sub-issue has one parent; moving it needs replace_parent, as on GitHub."""
    github.add_issue(OWNER, REPO, 10, title="Epic A")
    github.add_issue(OWNER, REPO, 11, title="Epic B")
    github.add_sub_issue(OWNER, REPO, 10, 1)
    sub_id = github.issue(OWNER, REPO, 1)["id"]
    with pytest.raises(gidgethub.BadRequest) as taken:
        await api.post(f"/repos/{OWNER}/{REPO}/issues/11/sub_issues", data={"sub_issue_id": sub_id})
    assert taken.value.status_code == 422
    await api.post(
        f"/repos/{OWNER}/{REPO}/issues/11/sub_issues",
        data={"sub_issue_id": sub_id, "replace_parent": True},
    )
    assert github.sub_issues(OWNER, REPO, 10) == []
    assert [i["number"] for i in github.sub_issues(OWNER, REPO, 11)] == [1]


# ---- faults ------------------------------------------------------------------------------------


async def test_injected_503(api: GitHubAPI, github: GitHubStandIn) -> None:
    """An injected 503 raises GitHubBroken for as many requests as asked, then clears."""
    github.inject(r"/issues/1$", status=503, times=2)
    for _ in range(2):
        with pytest.raises(gidgethub.GitHubBroken) as broken:
            await api.getitem(ISSUE_1)
        assert broken.value.status_code == 503
    assert (await api.getitem(ISSUE_1))["number"] == 1
    assert len(github.calls_matching("GET", r"/issues/1$")) == 3


async def test_injected_fault_by_method(api: GitHubAPI, github: GitHubStandIn) -> None:
    """A fault can target one method: here comment creation fails, reading still works."""
    github.inject(r"/comments$", status=502, method="POST")
    with pytest.raises(gidgethub.GitHubBroken):
        await api.post(f"{ISSUE_1}/comments", data={"body": "hello"})
    assert [c async for c in api.getiter(f"{ISSUE_1}/comments")] == []
    assert github.comments(OWNER, REPO, 1) == []


async def test_injected_rate_limit(
    session: aiohttp.ClientSession, api: GitHubAPI, github: GitHubStandIn
) -> None:
    """A rate-limited answer raises RateLimitExceeded with remaining 0 and a near reset."""
    github.inject_rate_limit(times=1)
    with pytest.raises(gidgethub.RateLimitExceeded) as limited:
        await api.getitem(ISSUE_1)
    assert limited.value.rate_limit.remaining == 0
    wait = limited.value.rate_limit.reset_datetime.timestamp() - time.time()
    assert 0 < wait <= 3
    await _token(session, github)  # minting tokens is not rate limited by default
    await api.getitem(ISSUE_1)
    assert api.rate_limit is not None and api.rate_limit.remaining > 0


async def test_delay(api: GitHubAPI, github: GitHubStandIn) -> None:
    """A delayed answer is slow; a client timeout sees it, later requests are fast again."""
    github.delay(r"/issues/1$", 0.3)
    began = time.perf_counter()
    await api.getitem(ISSUE_1)
    assert time.perf_counter() - began >= 0.3

    github.delay(r"/issues/1$", 2.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(api.getitem(ISSUE_1), timeout=0.2)
    began = time.perf_counter()
    await api.getitem(f"/repos/{OWNER}/{REPO}/issues/2")
    assert time.perf_counter() - began < 0.2


async def test_concurrent_requests(api: GitHubAPI, github: GitHubStandIn) -> None:
    """Many concurrent requests, with the test changing state meanwhile, all succeed."""

    async def read(n: int) -> int:
        return (await api.getitem(f"/repos/{OWNER}/{REPO}/issues/{n % 3 + 1}"))["number"]

    async def write() -> None:
        for n in range(20):
            await asyncio.to_thread(github.update_issue, OWNER, REPO, 3, title=f"T{n}")

    results, _ = await asyncio.gather(asyncio.gather(*(read(n) for n in range(60))), write())
    assert sorted(set(results)) == [1, 2, 3]
    assert github.issue(OWNER, REPO, 3)["title"] == "T19"


async def test_rate_limit_headers_on_every_answer(
    session: aiohttp.ClientSession, github: GitHubStandIn
) -> None:
    """Success and error answers alike carry x-ratelimit-* headers and JSON errors."""
    async with session.get(f"{github.url}/nowhere") as response:
        assert response.status in (401, 404)
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            assert name in response.headers
        body = await response.json()
        assert "message" in body
