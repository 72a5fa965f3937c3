"""Intake refuses what the bot cannot use: each case answered with its status and a JSON
reason, and nothing journaled. Also strict issue URLs (no request leaves the repository's
routes) and bounded metric labels. Over real HTTP, deliveries signed with the real HMAC."""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import pytest

from bot.issues import IssueRef, parse_issue_url
from bot.payloads import payload_problem
from tests.bot_fixtures import RunningBot, StartBot
from tests.github_standin import GitHubStandIn
from tests.webhooks import (
    delivery_headers,
    issue_comment_event,
    issues_event,
    make_comment,
    make_issue,
    sub_issues_event,
)

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


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        pytest.param("issues", _issues(), id="issues"),
        pytest.param("issue_comment", _comment(), id="issue_comment"),
        pytest.param("sub_issues", _sub(), id="sub_issues"),
        pytest.param("installation", {"action": "created"}, id="installation"),
        pytest.param("star", {"whatever": [1, 2]}, id="unhandled-event"),
    ],
)
def test_the_payloads_github_sends_pass_the_check(event: str, payload: dict[str, Any]) -> None:
    assert payload_problem(event, payload) is None


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


async def test_a_10kb_header_is_a_json_400(start_bot: StartBot) -> None:
    bot = await start_bot()
    body = json.dumps(_issues()).encode()
    response = await _post(bot, "issues", body, **{"X-Padding": "x" * 10_000})
    assert response.status == 400
    assert response.content_type == "application/json"
    assert "header is longer than" in (await response.json())["error"]
    assert _journaled(bot) == 0


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


async def test_a_dot_dot_url_in_a_delivery_makes_no_request(
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
    assert "issue.html_url must be a GitHub issue URL" in (await response.json())["error"]
    await bot.drain()
    assert _journaled(bot) == 0
    assert [c for c in github.calls if c.path.startswith(("/repos", "/issues"))] == []
