"""Webhook deliveries for tests: payloads shaped like GitHub's, real signatures, real POSTs.

The ``issues`` builder, the signature and the headers are the demo's own
(:mod:`bot.cli.demo_events`, re-exported here, so the demo sends what the tests send); this
module adds the ``issue_comment``, ``sub_issues``, ``ping`` and ``installation`` builders and
the POSTs. Builders return the JSON object GitHub would send for an event and action. They
take an issue as the stand-in keeps it (``gh.issue(owner, repo, n)``) or build one
(``make_issue``), and show it as the action leaves it: a ``closed`` event carries a closed
issue even if the stand-in has reopened it since (which is how a late delivery looks),
``labeled`` carries the label, and so on. Issues are cut down to the fields webhook payloads
carry (the octokit schemas in ``shared/fixtures/github-webhook-schemas``;
``tests/intake/test_webhook_schemas.py`` checks every builder against them).

Deliveries are signed with HMAC-SHA256 as GitHub does
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries) and carry
GitHub's delivery headers::

    payload = issues_event("closed", gh.issue("example-org", "infrastructure", 1))
    response = await post_delivery(session, f"{server}/webhook", "issues", payload,
                                   secret=webhook_secret)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.cli.demo_events import (
    DEFAULT_APP_ID,
    DEFAULT_HOOK_ID,
    DEFAULT_INSTALLATION_ID,
    DEFAULT_LABEL,
    DEFAULT_OWNER,
    DEFAULT_REPO,
    DEFAULT_SENDER,
    ISSUES_ACTIONS,
    USER_AGENT,
    WEBHOOK_ISSUE_FIELDS,
    delivery_headers,
    encode_payload,
    event_envelope,
    installation_lite,
    issues_event,
    login_of,
    make_issue,
    prepare_delivery,
    repository_of,
    sign,
    user_of,
    webhook_issue,
)
from bot.cli.github_objects import GITHUB_API, JsonDict, repository_object, stable_id
from tests.standins.github import (
    DEFAULT_ACCOUNT,
    DEFAULT_APP_SLUG,
    comment_object,
    installation_object,
)

if TYPE_CHECKING:
    import requests
    from aiohttp.test_utils import TestClient

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_COMMENT",
    "DEFAULT_HOOK_ID",
    "DEFAULT_INSTALLATION_ID",
    "DEFAULT_LABEL",
    "DEFAULT_OWNER",
    "DEFAULT_REPO",
    "DEFAULT_SENDER",
    "INSTALLATION_ACTIONS",
    "ISSUES_ACTIONS",
    "ISSUE_COMMENT_ACTIONS",
    "SCHEMA_KNOWN_EVENTS",
    "SUB_ISSUES_ACTIONS",
    "USER_AGENT",
    "WEBHOOK_ISSUE_FIELDS",
    "delivery_headers",
    "encode_payload",
    "installation_event",
    "installation_lite",
    "issue_comment_event",
    "issues_event",
    "make_comment",
    "make_issue",
    "ping_event",
    "post_delivery",
    "post_delivery_sync",
    "prepare_delivery",
    "sign",
    "sub_issues_event",
    "webhook_issue",
]

DEFAULT_COMMENT = "/deliverable status"

ISSUE_COMMENT_ACTIONS: tuple[str, ...] = ("created", "edited", "deleted")
SUB_ISSUES_ACTIONS: tuple[str, ...] = (
    "sub_issue_added",
    "sub_issue_removed",
    "parent_issue_added",
    "parent_issue_removed",
)
INSTALLATION_ACTIONS: tuple[str, ...] = ("created", "deleted")

# The vendored (octokit) schemas predate the sub_issues event and refuse it in the event
# lists of `installation` and `ping`, so these builders leave it out by default.
SCHEMA_KNOWN_EVENTS: tuple[str, ...] = ("issues", "issue_comment")

# --------------------------------------------------------------------------------------
# Objects


def make_comment(
    issue: Mapping[str, Any],
    body: str = DEFAULT_COMMENT,
    *,
    user: str = DEFAULT_SENDER,
    comment_id: int | None = None,
    author_association: str = "NONE",
) -> JsonDict:
    """Build a comment on ``issue`` without a stand-in (use ``gh.add_comment`` with one)."""
    api_url, owner, repo = repository_of(issue)
    cid = comment_id if comment_id is not None else stable_id("comment", issue["id"], body, user)
    return comment_object(
        owner,
        repo,
        issue["number"],
        cid,
        body=body,
        user=user,
        api_url=api_url,
        author_association=author_association,
    )


# --------------------------------------------------------------------------------------
# issue_comment


def issue_comment_event(
    action: str,
    issue: Mapping[str, Any] | None = None,
    comment: Mapping[str, Any] | None = None,
    *,
    body: str = DEFAULT_COMMENT,
    user: str | None = None,
    sender: str | Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    previous_body: str | None = None,
    repository: Mapping[str, Any] | None = None,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
) -> JsonDict:
    """Build an ``issue_comment`` event payload (``created``, ``edited`` or ``deleted``).

    ``comment`` is one from ``gh.add_comment``/``gh.comments`` (so the bot can react to it
    on the stand-in) or is built from ``body`` and ``user``. ``sender`` defaults to the
    comment's author. For ``edited``, ``changes`` defaults to
    ``{"body": {"from": previous_body or ""}}``.
    """
    if action not in ISSUE_COMMENT_ACTIONS:
        raise ValueError(
            f"unknown issue_comment action {action!r}; expected one of {ISSUE_COMMENT_ACTIONS}"
        )
    shown = webhook_issue(issue if issue is not None else make_issue())
    if comment is None:
        comment = make_comment(shown, body, user=user or login_of(sender or DEFAULT_SENDER))
    payload: JsonDict = {"action": action}
    if action == "edited":
        payload["changes"] = (
            dict(changes) if changes is not None else {"body": {"from": previous_body or ""}}
        )
    payload["issue"] = shown
    payload["comment"] = copy.deepcopy(dict(comment))
    payload.update(
        event_envelope(
            shown,
            sender=sender if sender is not None else comment["user"],
            installation_id=installation_id,
            repository=repository,
        )
    )
    return payload


# --------------------------------------------------------------------------------------
# sub_issues


def sub_issues_event(
    action: str,
    parent_issue: Mapping[str, Any],
    sub_issue: Mapping[str, Any],
    *,
    sender: str | Mapping[str, Any] = DEFAULT_SENDER,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
) -> JsonDict:
    """Build a ``sub_issues`` event payload (one of ``SUB_ISSUES_ACTIONS``).

    Shaped like GitHub's documentation of the event
    (https://docs.github.com/en/webhooks/webhook-events-and-payloads#sub_issues):
    ``sub_issue_added``/``sub_issue_removed`` are delivered to the parent's repository and
    name the sub-issue's in ``sub_issue_repo``; ``parent_issue_added``/``parent_issue_removed``
    are delivered to the sub-issue's repository and name the parent's in
    ``parent_issue_repo``. Both carry ``parent_issue(_id)`` and ``sub_issue(_id)``.
    """
    if action not in SUB_ISSUES_ACTIONS:
        raise ValueError(
            f"unknown sub_issues action {action!r}; expected one of {SUB_ISSUES_ACTIONS}"
        )
    parent = webhook_issue(parent_issue)
    child = webhook_issue(sub_issue)
    for shown, full in ((parent, parent_issue), (child, sub_issue)):
        if "sub_issues_summary" in full:
            shown["sub_issues_summary"] = copy.deepcopy(full["sub_issues_summary"])
    delivered_to, other = (parent, child) if action.startswith("sub_issue_") else (child, parent)
    other_api, other_owner, other_repo = repository_of(other)
    other_key = "sub_issue_repo" if action.startswith("sub_issue_") else "parent_issue_repo"
    payload: JsonDict = {
        "action": action,
        "sub_issue_id": child["id"],
        "sub_issue": child,
        "parent_issue_id": parent["id"],
        "parent_issue": parent,
        other_key: repository_object(other_owner, other_repo, api_url=other_api),
    }
    payload.update(
        event_envelope(
            delivered_to, sender=sender, installation_id=installation_id, repository=None
        )
    )
    return payload


# --------------------------------------------------------------------------------------
# ping and installation


def ping_event(
    *,
    app_id: int = DEFAULT_APP_ID,
    hook_id: int = DEFAULT_HOOK_ID,
    url: str = "https://deliverables-bot.example.org/webhook",
    events: Iterable[str] = SCHEMA_KNOWN_EVENTS,
    api_url: str = GITHUB_API,
) -> JsonDict:
    """Build the ``ping`` GitHub sends when an App's webhook is set up."""
    created = "2024-01-15T09:00:00Z"
    return {
        "zen": "Design for failure.",
        "hook_id": hook_id,
        "hook": {
            "type": "App",
            "id": hook_id,
            "name": "web",
            "active": True,
            "events": list(events),
            "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
            "updated_at": created,
            "created_at": created,
            "app_id": app_id,
            "url": f"{api_url}/app/hook/config",
            "ping_url": f"{api_url}/app/hook/pings",
            "deliveries_url": f"{api_url}/app/hook/deliveries",
        },
    }


def installation_event(
    action: str,
    *,
    installation_id: int = DEFAULT_INSTALLATION_ID,
    account: str = DEFAULT_ACCOUNT,
    app_id: int = DEFAULT_APP_ID,
    app_slug: str = DEFAULT_APP_SLUG,
    repositories: Iterable[str] = (f"{DEFAULT_OWNER}/{DEFAULT_REPO}",),
    sender: str | Mapping[str, Any] = DEFAULT_SENDER,
    events: Iterable[str] = SCHEMA_KNOWN_EVENTS,
    api_url: str = GITHUB_API,
) -> JsonDict:
    """Build an ``installation`` event payload (``created`` or ``deleted``).

    ``repositories`` are ``owner/name`` strings the installation can reach.
    """
    if action not in INSTALLATION_ACTIONS:
        raise ValueError(
            f"unknown installation action {action!r}; expected one of {INSTALLATION_ACTIONS}"
        )
    repos = []
    for full_name in repositories:
        owner, _, name = full_name.partition("/")
        repo = repository_object(owner, name, api_url=api_url)
        repos.append({key: repo[key] for key in ("id", "node_id", "name", "full_name", "private")})
    payload: JsonDict = {
        "action": action,
        "installation": installation_object(
            installation_id=installation_id,
            account=account,
            app_id=app_id,
            app_slug=app_slug,
            api_url=api_url,
            events=tuple(events),
        ),
        "repositories": repos,
        "sender": user_of(sender, api_url),
    }
    if action == "deleted":
        payload["requester"] = None
    return payload


# --------------------------------------------------------------------------------------
# Delivery


async def post_delivery(
    session: aiohttp.ClientSession | TestClient[Any, Any],
    url: str,
    event: str,
    payload: Mapping[str, Any] | bytes,
    *,
    secret: str | None,
    delivery_id: str | None = None,
    headers: Mapping[str, str | None] | None = None,
) -> aiohttp.ClientResponse:
    """POST a signed delivery with an aiohttp session (or aiohttp ``TestClient`` and a path).

    The body is read before returning, so ``await response.json()`` works and the
    connection is released.
    """
    body, merged = prepare_delivery(
        event, payload, secret=secret, delivery_id=delivery_id, headers=headers
    )
    response = await session.post(url, data=body, headers=merged)
    await response.read()
    return response


def post_delivery_sync(
    url: str,
    event: str,
    payload: Mapping[str, Any] | bytes,
    *,
    secret: str | None,
    delivery_id: str | None = None,
    headers: Mapping[str, str | None] | None = None,
    timeout: float = 10.0,
    session: requests.Session | None = None,
) -> requests.Response:
    """POST a signed delivery with ``requests`` (for scripts and synchronous tests)."""
    import requests

    body, merged = prepare_delivery(
        event, payload, secret=secret, delivery_id=delivery_id, headers=headers
    )
    poster = session if session is not None else requests
    return poster.post(url, data=body, headers=merged, timeout=timeout)
