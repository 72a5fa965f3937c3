"""``tests/webhooks.py``: its payloads validate against GitHub's schemas; its deliveries verify.

The schemas (octokit/webhooks, draft-07) live outside the project, in
``shared/fixtures/github-webhook-schemas`` next to it; they are read in place, never copied.
Deliveries are checked with gidgethub's own signature validation, over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from gidgethub import ValidationFailure
from gidgethub.sansio import Event

from tests.constants import OWNER, REPO
from tests.schemas import SCHEMAS, validator
from tests.standins.github import GitHubStandIn
from tests.webhooks import (
    DEFAULT_COMMENT,
    INSTALLATION_ACTIONS,
    ISSUE_COMMENT_ACTIONS,
    ISSUES_ACTIONS,
    SUB_ISSUES_ACTIONS,
    delivery_headers,
    encode_payload,
    installation_event,
    issue_comment_event,
    issues_event,
    make_issue,
    ping_event,
    post_delivery,
    post_delivery_sync,
    sign,
    sub_issues_event,
)

Builder = Callable[[GitHubStandIn], dict[str, Any]]


def _demo_issue(gh: GitHubStandIn, number: int = 1) -> dict[str, Any]:
    return gh.issue(OWNER, REPO, number)


def _transferred(gh: GitHubStandIn) -> dict[str, Any]:
    old = gh.issue(OWNER, REPO, 1)
    new = gh.transfer_issue(OWNER, REPO, 1, OWNER, "archive")
    return issues_event("transferred", old, new_issue=new)


def _issue_from_standin(action: str) -> Builder:
    if action == "transferred":
        return _transferred

    def build(gh: GitHubStandIn) -> dict[str, Any]:
        return issues_event(action, _demo_issue(gh))

    return build


def _comment_from_standin(action: str) -> Builder:
    def build(gh: GitHubStandIn) -> dict[str, Any]:
        gh.set_permission(OWNER, REPO, "alice", "write")
        comment = gh.add_comment(OWNER, REPO, 1, "/deliverable status", user="alice")
        return issue_comment_event(action, gh.issue(OWNER, REPO, 1), comment)

    return build


def _sub_issues_from_standin(action: str) -> Builder:
    def build(gh: GitHubStandIn) -> dict[str, Any]:
        gh.add_issue(OWNER, REPO, 10, title="Setup workshop hub")
        gh.add_sub_issue(OWNER, REPO, 10, 1)
        return sub_issues_event(action, gh.issue(OWNER, REPO, 10), gh.issue(OWNER, REPO, 1))

    return build


def _cases() -> list[Any]:
    cases: list[Any] = []
    for action in ISSUES_ACTIONS:
        cases.append(
            pytest.param(
                "issues", action, lambda gh, a=action: issues_event(a), id=f"issues-{action}-built"
            )
        )
        cases.append(
            pytest.param(
                "issues", action, _issue_from_standin(action), id=f"issues-{action}-standin"
            )
        )
    cases += [
        pytest.param(
            "issues",
            "closed",
            lambda gh: issues_event("closed", gh.close_issue(OWNER, REPO, 2)),
            id="issues-closed-after-close",
        ),
        pytest.param(
            "issues",
            "closed",
            lambda gh: issues_event(
                "closed", make_issue(state="closed", state_reason=None, labels=["blocked"])
            ),
            id="issues-closed-null-reason",
        ),
        pytest.param(
            "issues",
            "labeled",
            lambda gh: issues_event(
                "labeled", gh.update_issue(OWNER, REPO, 3, labels=["blocked"]), label="blocked"
            ),
            id="issues-labeled-blocked",
        ),
        pytest.param(
            "issues",
            "edited",
            lambda gh: issues_event(
                "edited", _demo_issue(gh), previous_title="Deploy", previous_body="old"
            ),
            id="issues-edited-title-and-body",
        ),
        pytest.param(
            "issues",
            "deleted",
            lambda gh: issues_event("deleted", gh.delete_issue(OWNER, REPO, 3)),
            id="issues-deleted-from-standin",
        ),
    ]
    for action in ISSUE_COMMENT_ACTIONS:
        cases.append(
            pytest.param(
                "issue_comment",
                action,
                lambda gh, a=action: issue_comment_event(a, body="/project status", user="bob"),
                id=f"issue_comment-{action}-built",
            )
        )
        cases.append(
            pytest.param(
                "issue_comment",
                action,
                _comment_from_standin(action),
                id=f"issue_comment-{action}-standin",
            )
        )
    for action in SUB_ISSUES_ACTIONS:
        cases.append(
            pytest.param(
                "sub_issues",
                action,
                lambda gh, a=action: sub_issues_event(
                    a, make_issue(number=10, title="Setup workshop hub"), make_issue()
                ),
                id=f"sub_issues-{action}-built",
            )
        )
        cases.append(
            pytest.param(
                "sub_issues",
                action,
                _sub_issues_from_standin(action),
                id=f"sub_issues-{action}-standin",
            )
        )
    cases.append(pytest.param("ping", None, lambda gh: ping_event(), id="ping"))
    cases.append(
        pytest.param(
            "ping",
            None,
            lambda gh: ping_event(app_id=gh.app_id, api_url=gh.url),
            id="ping-standin",
        )
    )
    for action in INSTALLATION_ACTIONS:
        cases.append(
            pytest.param(
                "installation",
                action,
                lambda gh, a=action: installation_event(a),
                id=f"installation-{action}",
            )
        )
    return cases


@pytest.mark.parametrize(("event", "action", "build"), _cases())
def test_payload_matches_github_schema(
    event: str,
    action: str | None,
    build: Builder,
    github: GitHubStandIn,
) -> None:
    """The payload is valid JSON for its event and action, per GitHub's schema."""
    payload = json.loads(json.dumps(build(github)))
    if action is not None:
        assert payload["action"] == action
    schema_path = SCHEMAS / event / f"{action or 'event'}.schema.json"
    if not schema_path.is_file():
        pytest.skip(f"{SCHEMAS.name} has no schema for {event}.{action}")
    errors = sorted(
        validator(event, action).iter_errors(payload), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors
    )


def test_schema_checker_rejects_a_broken_payload(github: GitHubStandIn) -> None:
    """The validation above has teeth, down through ``$ref``s and formats."""
    payload = issues_event("closed")
    del payload["issue"]["closed_at"]
    payload["issue"]["updated_at"] = "yesterday"
    del payload["sender"]["login"]
    payload["repository"]["owner"]["type"] = "Org"
    # A REST issue as is: webhook payloads carry fewer fields than the REST API shows.
    payload["changes"] = {"new_issue": github.issue(OWNER, REPO, 1)}
    found = {
        ("/".join(map(str, e.absolute_path)), e.validator)
        for e in validator("issues", "closed").iter_errors(payload)
    }
    assert found >= {
        ("issue", "required"),
        ("issue/updated_at", "format"),
        ("sender", "required"),
        ("repository/owner/type", "enum"),
        ("", "additionalProperties"),
    }


# ---- deliveries ------------------------------------------------------------------------


def test_sign_is_githubs_hmac(webhook_secret: str) -> None:
    """The signature is the one GitHub documents, and gidgethub accepts it."""
    # The example from GitHub's "Validating webhook deliveries" page.
    assert sign(b"Hello, World!", "It's a Secret to Everybody") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    body = encode_payload(issues_event("opened"))
    headers = {k.lower(): v for k, v in delivery_headers("issues", body, webhook_secret).items()}
    event = Event.from_http(headers, body, secret=webhook_secret)
    assert (event.event, event.data["action"]) == ("issues", "opened")
    assert headers["x-hub-signature"].startswith("sha1=")
    with pytest.raises(ValidationFailure):
        Event.from_http(headers, body, secret="another secret")
    unsigned = delivery_headers("ping", b"{}", None, delivery_id="d-1")
    assert "X-Hub-Signature-256" not in unsigned
    assert unsigned["X-GitHub-Delivery"] == "d-1"


def _receiver(secret: str, received: list[Event]) -> web.Application:
    """A webhook endpoint that checks deliveries the way gidgethub does."""

    async def webhook(request: web.Request) -> web.Response:
        try:
            event = Event.from_http(request.headers, await request.read(), secret=secret)
        except ValidationFailure:
            return web.json_response({"error": "bad signature"}, status=401)
        received.append(event)
        return web.json_response({"delivery": event.delivery_id}, status=202)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    return app


async def test_post_delivery(webhook_secret: str, github: GitHubStandIn) -> None:
    """post_delivery and post_delivery_sync send signed deliveries a receiver accepts."""
    received: list[Event] = []
    payload = issue_comment_event("created", github.issue(OWNER, REPO, 1))
    async with TestServer(_receiver(webhook_secret, received)) as server:
        url = str(server.make_url("/webhook"))
        async with aiohttp.ClientSession() as session:
            accepted = await post_delivery(
                session, url, "issue_comment", payload, secret=webhook_secret, delivery_id="d-1"
            )
            assert accepted.status == 202
            assert await accepted.json() == {"delivery": "d-1"}
            forged = await post_delivery(session, url, "issue_comment", payload, secret="wrong")
            assert forged.status == 401
        synced = await asyncio.to_thread(
            post_delivery_sync, url, "ping", ping_event(), secret=webhook_secret
        )
        assert synced.status_code == 202
    assert [e.event for e in received] == ["issue_comment", "ping"]
    assert received[0].delivery_id == "d-1"
    assert received[0].data["comment"]["body"] == DEFAULT_COMMENT
