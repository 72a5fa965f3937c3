"""Intake refuses what the bot cannot use: each case answered with its status and a JSON
reason, and nothing journaled. Also strict issue URLs (no request leaves the repository's
routes) and bounded metric labels. Over real HTTP, deliveries signed with the real HMAC."""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import pytest

from bot.clients.github import AppGitHub
from bot.core.issue import IssueRef, parse_issue_url
from bot.intake.server import HEADER_LIMIT_BYTES
from bot.metrics import event_label, status_label
from tests.bot_fixtures import RunningBot, StartBot
from tests.schemas import validator
from tests.standins.github import GitHubStandIn
from tests.webhooks import (
    DEFAULT_INSTALLATION_ID,
    delivery_headers,
    installation_event,
    issue_comment_event,
    issues_event,
    make_comment,
    make_issue,
    sub_issues_event,
)

INSTALLATION = DEFAULT_INSTALLATION_ID
_ISSUE = make_issue(number=1)


def _issues() -> dict[str, Any]:
    return issues_event("closed", make_issue(number=1, state="closed"))


def _comment() -> dict[str, Any]:
    return issue_comment_event("created", _ISSUE, make_comment(_ISSUE, "/deliverables help"))


def _sub() -> dict[str, Any]:
    return sub_issues_event("sub_issue_added", make_issue(number=10), make_issue(number=1))


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(payload: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


async def _post(bot: RunningBot, event: str, body: bytes, **headers: str) -> aiohttp.ClientResponse:
    merged = delivery_headers(event, body, bot.secret)
    merged.update(headers)
    response = await bot.session.post(bot.webhook_url, data=body, headers=merged)
    await response.read()
    return response


def _journaled(bot: RunningBot) -> int:
    return sum(bot.services.journal.counts().values())


def _transferred() -> dict[str, Any]:
    moved = make_issue(repo="elsewhere", number=4)
    return issues_event("transferred", make_issue(number=1), new_issue=moved)


def _issue_calls(github: GitHubStandIn) -> list[Any]:
    """The calls made to the stand-in other than the App's own (tokens, the delivery log that
    recovery reads at start-up)."""
    return [call for call in github.calls if not call.path.startswith("/app/")]


def _schema_errors(event: str, payload: dict[str, Any]) -> list[str]:
    """What GitHub's schema for the event and action finds wrong with ``payload``."""
    errors = validator(event, payload.get("action")).iter_errors(payload)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors]


BAD_PAYLOADS = [
    pytest.param("issues", _without(_issues(), "issue"), "issue must be an object", id="no-issue"),
    pytest.param(
        "issues", _with(_issues(), "x", "issue"), "issue must be an object", id="issue-str"
    ),
    pytest.param("issues", _without(_issues(), "action"), "action is missing", id="no-action"),
    pytest.param("issues", _with(_issues(), 7, "action"), "action must be", id="action-int"),
    pytest.param(
        "issues", _with(_issues(), 3, "issue", "html_url"), "issue.html_url", id="url-int"
    ),
    pytest.param(
        "issues",
        _with(_issues(), "https://github.com/o/r/issues/../../7", "issue", "html_url"),
        "issue.html_url must be a GitHub issue URL",
        id="dot-dot-url",
    ),
    pytest.param(
        "issues", _with(_issues(), ["alice"], "issue", "assignees"), "assignees[0]", id="assignee"
    ),
    pytest.param(
        "issues", _with(_issues(), {"id": "9"}, "installation"), "installation.id", id="inst"
    ),
    pytest.param(
        "issue_comment", _without(_comment(), "comment"), "comment must be", id="no-comment"
    ),
    pytest.param(
        "issue_comment", _with(_comment(), None, "comment", "user"), "comment.user", id="no-user"
    ),
    pytest.param(
        "issue_comment", _with(_comment(), "1", "comment", "id"), "comment.id", id="comment-id"
    ),
    pytest.param("issue_comment", _without(_comment(), "issue"), "issue must", id="c-no-issue"),
    pytest.param("sub_issues", _without(_sub(), "sub_issue"), "sub_issue must", id="no-sub"),
    pytest.param(
        "sub_issues", _with(_sub(), [], "parent_issue"), "parent_issue must", id="parent-list"
    ),
    pytest.param(
        "sub_issues",
        _with(_sub(), "https://github.com/o/./issues/3", "sub_issue", "html_url"),
        "sub_issue.html_url",
        id="sub-url-dot",
    ),
    # The worker reads the sender of every delivery, handled or not.
    pytest.param("star", {"action": "created", "sender": 7}, "sender.login", id="star-sender-int"),
]


@pytest.mark.parametrize(("event", "payload", "reason"), BAD_PAYLOADS)
async def test_payloads_the_bot_cannot_use_are_400_and_not_journaled(
    start_bot: StartBot, event: str, payload: dict[str, Any], reason: str
) -> None:
    bot = await start_bot()
    response = await _post(bot, event, json.dumps(payload).encode())
    assert response.status == 400
    assert reason in (await response.json())["error"]
    assert _journaled(bot) == 0


GOOD_PAYLOADS = [
    pytest.param("issues", _issues(), id="issues"),
    pytest.param("issues", _transferred(), id="issues-transferred"),
    pytest.param("issue_comment", _comment(), id="issue_comment"),
    pytest.param("sub_issues", _sub(), id="sub_issues"),
    pytest.param("installation", installation_event("created"), id="installation"),
]


@pytest.mark.parametrize(("event", "payload"), GOOD_PAYLOADS)
async def test_the_payloads_github_sends_are_journaled(
    start_bot: StartBot, event: str, payload: dict[str, Any]
) -> None:
    assert _schema_errors(event, payload) == []
    bot = await start_bot()
    response = await _post(bot, event, json.dumps(payload).encode())
    assert response.status == 202, await response.text()
    delivery = (await response.json())["delivery"]
    assert [d.id for d in bot.services.journal.list()] == [delivery]


async def test_events_the_bot_does_not_handle_are_journaled_as_sent(start_bot: StartBot) -> None:
    bot = await start_bot()
    response = await _post(bot, "star", b'{"whatever": [1, 2], "issue": "not read"}')
    assert response.status == 202
    assert _journaled(bot) == 1


BAD_BODIES = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="deep-nesting"),
    pytest.param(b'{"action": "closed", "x": NaN}', "NaN is not JSON", id="nan"),
    pytest.param(b'{"action": "closed", "x": -Infinity}', "Infinity is not JSON", id="infinity"),
    pytest.param(b'{"action": ', "body is not a JSON object", id="truncated"),
    pytest.param(b'"just a string"', "body is not a JSON object", id="string"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES)
async def test_bodies_that_are_not_plain_json_objects_are_400_json(
    start_bot: StartBot, body: bytes, reason: str
) -> None:
    bot = await start_bot()
    response = await _post(bot, "issues", body)
    assert response.status == 400
    assert response.content_type == "application/json"
    assert reason in (await response.json())["error"]
    assert _journaled(bot) == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Padding": "x" * 10_000}, id="10kb-value"),
        pytest.param({"X-Padding": "x" * 15_000}, id="15kb-value"),
        pytest.param({"X-" + "n" * 9_000: "1"}, id="9kb-name"),
        pytest.param({"User-Agent": "GitHub-Hookshot/" + "9" * 10_000}, id="10kb-user-agent"),
    ],
)
async def test_a_long_header_is_a_json_400(start_bot: StartBot, headers: dict[str, str]) -> None:
    bot = await start_bot()
    body = json.dumps(_issues()).encode()
    response = await _post(bot, "issues", body, **headers)
    assert response.status == 400
    assert response.content_type == "application/json"
    assert f"header is longer than {HEADER_LIMIT_BYTES} bytes" in (await response.json())["error"]
    assert _journaled(bot) == 0


async def test_a_delivery_with_as_many_headers_as_a_proxy_chain_adds_is_taken(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    body = json.dumps(_issues()).encode()
    extra = {f"X-Proxy-{n}": "v" * 100 for n in range(40)}
    response = await _post(bot, "issues", body, **extra)
    assert response.status == 202
    assert _journaled(bot) == 1


async def test_signed_made_up_event_names_share_one_metric_series(start_bot: StartBot) -> None:
    bot = await start_bot()
    for n in range(300):
        response = await _post(bot, f"made-up-{n}", b'{"action": "x"}')
        assert response.status == 202
    async with bot.session.get(bot.url("/metrics")) as answer:
        text = await answer.text()
    series = [
        line for line in text.splitlines() if line.startswith("deliverables_bot_deliveries_total")
    ]
    assert 'deliverables_bot_deliveries_total{event="other",outcome="accepted"} 300.0' in series
    assert not [line for line in series if "made-up" in line]
    assert len(series) <= 3


@pytest.mark.parametrize(
    ("value", "label"),
    [
        pytest.param("issues", "issues", id="handled"),
        pytest.param("installation_repositories", "installation_repositories", id="installation"),
        pytest.param("ping", "ping", id="ping"),
        pytest.param("made-up", "other", id="made-up"),
        pytest.param("", "other", id="empty"),
    ],
)
def test_event_labels_are_bounded(value: str, label: str) -> None:
    assert event_label(value) == label


@pytest.mark.parametrize(
    ("status", "label"),
    [
        pytest.param(404, "404", id="known-4xx"),
        pytest.param(502, "502", id="known-5xx"),
        pytest.param(418, "4xx", id="other-4xx"),
        pytest.param(599, "5xx", id="other-5xx"),
        pytest.param(999, "other", id="not-http"),
    ],
)
def test_status_labels_are_bounded(status: int, label: str) -> None:
    assert status_label(status) == label


# -- issue URLs: parsed strictly, paths built from checked parts --------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r/issues/../../7",
        "https://github.com/../r/issues/7",
        "https://github.com/o/../issues/7",
        "https://github.com/o/./issues/7",
        "https://github.com/o/r/issues/007",
        "https://github.com/o/r/issues/0",
        "https://github.com/o/r/issues/+7",
        "https://github.com/-o/r/issues/7",
        "https://github.com/o--o/r/issues/7",
        "https://github.com/o/r%2F..%2F/issues/7",
        "https://github.com/o/r/issues/7?page=2",
        "https://github.com/o/r/issues/7#issuecomment-1",
        "https://github.com/o/r/issues/7/comments",
        "https://github.com/" + "o" * 40 + "/r/issues/7",
    ],
)
def test_urls_github_would_not_have_are_refused(url: str) -> None:
    assert parse_issue_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/example-org/infrastructure/issues/1",
        "https://github.com/o/.github/issues/7",
        "https://github.com/o/a.b_c-d/pull/7/",
        "https://github.com/octo_acme/r/issues/7",
    ],
)
def test_urls_github_has_are_read(url: str) -> None:
    assert parse_issue_url(url) is not None


@pytest.mark.parametrize(("owner", "repo"), [("..", "r"), ("o", ".."), ("o/x", "r"), ("o", "")])
def test_an_issue_ref_cannot_be_made_of_parts_that_leave_the_repository(
    owner: str, repo: str
) -> None:
    with pytest.raises(ValueError):
        IssueRef(owner, repo, 7)


async def test_a_dot_dot_url_in_a_delivery_is_refused_and_makes_no_request(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    issue = make_issue(number=7)
    payload = issue_comment_event(
        "created", issue, make_comment(issue, "/deliverable link Setup workshop hub")
    )
    payload["issue"]["html_url"] = "https://github.com/example-org/infrastructure/issues/../../7"
    github.reset_calls()
    response = await bot.deliver("issue_comment", payload)
    assert response.status == 400
    assert "issue.html_url" in (await response.json())["error"]
    await bot.drain()
    assert _journaled(bot) == 0
    assert _issue_calls(github) == []


BAD_CALLS = [
    pytest.param("permission", ("..", "r", "alice", INSTALLATION), id="permission-owner-dot-dot"),
    pytest.param("permission", ("o", "..", "alice", INSTALLATION), id="permission-repo-dot-dot"),
    pytest.param("permission", ("o", "r", "../../admin", INSTALLATION), id="permission-login-path"),
    pytest.param("add_reaction", ("o", "r/../x", 5, "+1", INSTALLATION), id="reaction-repo-slash"),
    pytest.param(
        "add_reaction", ("o", "r", "5/../../x", "+1", INSTALLATION), id="reaction-comment-id"
    ),
    pytest.param("edit_comment", ("o/..", "r", 5, "body", INSTALLATION), id="edit-owner-slash"),
    pytest.param("delete_comment", ("o", ".", 5, INSTALLATION), id="delete-repo-dot"),
    pytest.param("custom_role_base", ("../orgs/x", "role", INSTALLATION), id="custom-role-org"),
]


@pytest.mark.parametrize(("method", "args"), BAD_CALLS)
async def test_api_paths_are_built_from_checked_names_only(
    start_bot: StartBot, github: GitHubStandIn, method: str, args: tuple[Any, ...]
) -> None:
    bot = await start_bot(github=github)
    gateway = bot.services.github
    assert isinstance(gateway, AppGitHub)
    await gateway.installation_token(INSTALLATION)  # minted up front: only the refused call is left
    github.reset_calls()
    with pytest.raises(ValueError):
        await getattr(gateway, method)(*args)
    assert _issue_calls(github) == []


async def test_issue_listing_of_a_bad_repository_makes_no_request(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    gateway = bot.services.github
    assert isinstance(gateway, AppGitHub)
    await gateway.installation_token(INSTALLATION)
    github.reset_calls()
    with pytest.raises(ValueError):
        [issue async for issue in gateway.iter_issues("example-org", "..", INSTALLATION)]
    assert _issue_calls(github) == []
