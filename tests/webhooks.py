"""Webhook deliveries for tests: payloads shaped like GitHub's, real signatures, real POSTs.

Builders return the JSON object GitHub would send for an event and action. They take an
issue as the stand-in keeps it (``gh.issue(owner, repo, n)``) or build one (``make_issue``),
and show it as the action leaves it: a ``closed`` event carries a closed issue even if the
stand-in has reopened it since (which is how a late delivery looks), ``labeled`` carries the
label, and so on. Issues are cut down to the fields webhook payloads carry (the octokit
schemas in ``shared/fixtures/github-webhook-schemas``; ``tests/test_webhook_schemas.py``
checks every builder against them).

Deliveries are signed with HMAC-SHA256 as GitHub does
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries) and carry
GitHub's delivery headers::

    payload = issues_event("closed", gh.issue("example-org", "infrastructure", 1))
    response = await post_delivery(session, f"{server}/webhook", "issues", payload,
                                   secret=webhook_secret)
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from tests.standins.github_standin import (
    DEFAULT_ACCOUNT,
    DEFAULT_APP_ID,
    DEFAULT_APP_SLUG,
    DEFAULT_INSTALLATION_ID,
    GITHUB_API,
    comment_object,
    installation_object,
    issue_object,
    label_object,
    organization_object,
    repository_object,
    stable_id,
    timestamp,
    user_object,
)

if TYPE_CHECKING:
    import requests
    from aiohttp.test_utils import TestClient

JsonDict = dict[str, Any]

DEFAULT_OWNER = DEFAULT_ACCOUNT
DEFAULT_REPO = "infrastructure"
DEFAULT_SENDER = "octocat"
DEFAULT_HOOK_ID = 498_271_003
DEFAULT_LABEL = "deliverable"
DEFAULT_COMMENT = "/deliverable status"
USER_AGENT = "GitHub-Hookshot/8e4d3a7"

ISSUES_ACTIONS: tuple[str, ...] = (
    "opened",
    "edited",
    "closed",
    "reopened",
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "transferred",
    "deleted",
)
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

# The fields an issue has in webhook payloads (common/issue.schema.json). REST-only fields
# such as `closed_by` and `sub_issues_summary` are left out.
WEBHOOK_ISSUE_FIELDS: tuple[str, ...] = (
    "url",
    "repository_url",
    "labels_url",
    "comments_url",
    "events_url",
    "html_url",
    "id",
    "node_id",
    "number",
    "title",
    "user",
    "labels",
    "state",
    "locked",
    "assignee",
    "assignees",
    "milestone",
    "comments",
    "created_at",
    "updated_at",
    "closed_at",
    "author_association",
    "active_lock_reason",
    "draft",
    "performed_via_github_app",
    "pull_request",
    "body",
    "reactions",
    "timeline_url",
    "state_reason",
)

# --------------------------------------------------------------------------------------
# Objects


def make_issue(
    owner: str = DEFAULT_OWNER,
    repo: str = DEFAULT_REPO,
    number: int = 1,
    *,
    title: str = "Deploy the hub",
    api_url: str = GITHUB_API,
    **fields: Any,
) -> JsonDict:
    """Build an issue as the REST API shows it, without a stand-in (see ``issue_object``)."""
    return issue_object(owner, repo, number, title=title, api_url=api_url, **fields)


def make_comment(
    issue: Mapping[str, Any],
    body: str = DEFAULT_COMMENT,
    *,
    user: str = DEFAULT_SENDER,
    comment_id: int | None = None,
    author_association: str = "NONE",
) -> JsonDict:
    """Build a comment on ``issue`` without a stand-in (use ``gh.add_comment`` with one)."""
    api_url, owner, repo = _repository_of(issue)
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


def webhook_issue(issue: Mapping[str, Any]) -> JsonDict:
    """Cut an issue down to the fields webhook payloads carry (a deep copy)."""
    return {key: copy.deepcopy(issue[key]) for key in WEBHOOK_ISSUE_FIELDS if key in issue}


def _repository_of(issue: Mapping[str, Any]) -> tuple[str, str, str]:
    """The API base URL, owner and name of an issue's repository, from its URLs."""
    parts = urlsplit(issue["repository_url"])
    head, _, tail = parts.path.rpartition("/repos/")
    owner, _, repo = tail.partition("/")
    return f"{parts.scheme}://{parts.netloc}{head}", owner, repo


def _user(user: str | Mapping[str, Any], api_url: str) -> JsonDict:
    return dict(user) if isinstance(user, Mapping) else user_object(user, api_url=api_url)


def _login(user: str | Mapping[str, Any]) -> str:
    return str(user["login"]) if isinstance(user, Mapping) else user


def _envelope(
    issue: Mapping[str, Any],
    *,
    sender: str | Mapping[str, Any],
    installation_id: int | None,
    repository: Mapping[str, Any] | None,
) -> JsonDict:
    """The fields every repository event carries: repository, organization, sender, ..."""
    api_url, owner, repo = _repository_of(issue)
    repo_obj = dict(repository) if repository else repository_object(owner, repo, api_url=api_url)
    envelope: JsonDict = {"repository": repo_obj, "sender": _user(sender, api_url)}
    if repo_obj["owner"]["type"] == "Organization":
        envelope["organization"] = organization_object(repo_obj["owner"]["login"], api_url=api_url)
    if installation_id is not None:
        envelope["installation"] = installation_lite(installation_id)
    return envelope


def installation_lite(installation_id: int = DEFAULT_INSTALLATION_ID) -> JsonDict:
    """The ``installation`` object of a repository event: ``{"id", "node_id"}``."""
    legacy = f"023:IntegrationInstallation{installation_id}".encode()
    return {"id": installation_id, "node_id": base64.b64encode(legacy).decode("ascii")}


# --------------------------------------------------------------------------------------
# issues


def issues_event(
    action: str,
    issue: Mapping[str, Any] | None = None,
    *,
    sender: str | Mapping[str, Any] = DEFAULT_SENDER,
    assignee: str | Mapping[str, Any] | None = None,
    label: str | Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    previous_title: str | None = None,
    previous_body: str | None = None,
    new_issue: Mapping[str, Any] | None = None,
    repository: Mapping[str, Any] | None = None,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
) -> JsonDict:
    """Build an ``issues`` event payload for ``action`` (one of ``ISSUES_ACTIONS``).

    ``issue`` defaults to ``make_issue()``. Per action:

    * ``opened``/``reopened``/``closed``: the issue is shown open or closed accordingly
      (closing fills ``closed_at`` and ``state_reason: completed`` when missing; reopening
      sets ``state_reason: reopened``).
    * ``edited``: ``changes`` defaults to ``{"title": {"from": previous_title}}`` and/or
      ``{"body": {"from": previous_body}}`` (the current title when neither is given).
    * ``assigned``/``unassigned``: ``assignee`` (default: the issue's last assignee, or the
      sender) is added to / removed from the issue's assignees.
    * ``labeled``/``unlabeled``: ``label`` (default: the issue's last label, or
      ``deliverable``) is added to / removed from the issue's labels.
    * ``transferred``: ``new_issue`` (default: the same issue in ``{repo}-archive``) and its
      repository go in ``changes``.
    """
    if action not in ISSUES_ACTIONS:
        raise ValueError(f"unknown issues action {action!r}; expected one of {ISSUES_ACTIONS}")
    shown = webhook_issue(issue if issue is not None else make_issue())
    api_url, owner, repo = _repository_of(shown)
    payload: JsonDict = {"action": action}

    if action == "opened":
        shown.update(state="open", closed_at=None, state_reason=None)
    elif action == "reopened":
        shown.update(state="open", closed_at=None, state_reason="reopened")
    elif action == "closed":
        if shown["state"] != "closed":
            shown.update(state="closed", state_reason="completed")
        if not shown.get("closed_at"):
            shown["closed_at"] = shown["updated_at"] or timestamp()
    elif action == "edited":
        if changes is None:
            built: JsonDict = {}
            if previous_title is not None:
                built["title"] = {"from": previous_title}
            if previous_body is not None:
                built["body"] = {"from": previous_body}
            changes = built or {"title": {"from": shown["title"]}}
        payload["changes"] = dict(changes)
    elif action in ("assigned", "unassigned"):
        logins = [a["login"] for a in shown["assignees"]]
        if assignee is None:
            assignee = logins[-1] if logins and action == "assigned" else _login(sender)
        who = _user(assignee, api_url)
        others = [a for a in shown["assignees"] if a["login"].lower() != who["login"].lower()]
        shown["assignees"] = [*others, who] if action == "assigned" else others
        shown["assignee"] = shown["assignees"][0] if shown["assignees"] else None
        payload["assignee"] = who
    elif action in ("labeled", "unlabeled"):
        if label is None:
            names = [item["name"] for item in shown.get("labels", [])]
            label = names[-1] if names and action == "labeled" else DEFAULT_LABEL
        label_obj = (
            dict(label)
            if isinstance(label, Mapping)
            else label_object(label, owner=owner, repo=repo, api_url=api_url)
        )
        others = [
            item
            for item in shown.get("labels", [])
            if item["name"].lower() != label_obj["name"].lower()
        ]
        shown["labels"] = [*others, label_obj] if action == "labeled" else others
        payload["label"] = label_obj
    elif action == "transferred":
        if new_issue is None:
            new_issue = make_issue(
                owner,
                f"{repo}-archive",
                shown["number"],
                title=shown["title"],
                api_url=api_url,
                body=shown["body"],
                user=shown["user"]["login"],
                created_at=shown["created_at"],
            )
        new_api, new_owner, new_repo = _repository_of(new_issue)
        payload["changes"] = {
            "new_issue": webhook_issue(new_issue),
            "new_repository": repository_object(new_owner, new_repo, api_url=new_api),
        }

    payload["issue"] = shown
    payload.update(
        _envelope(shown, sender=sender, installation_id=installation_id, repository=repository)
    )
    return payload


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
        comment = make_comment(shown, body, user=user or _login(sender or DEFAULT_SENDER))
    payload: JsonDict = {"action": action}
    if action == "edited":
        payload["changes"] = (
            dict(changes) if changes is not None else {"body": {"from": previous_body or ""}}
        )
    payload["issue"] = shown
    payload["comment"] = copy.deepcopy(dict(comment))
    payload.update(
        _envelope(
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
    other_api, other_owner, other_repo = _repository_of(other)
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
        _envelope(delivered_to, sender=sender, installation_id=installation_id, repository=None)
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
        "sender": _user(sender, api_url),
    }
    if action == "deleted":
        payload["requester"] = None
    return payload


# --------------------------------------------------------------------------------------
# Delivery


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Serialize a payload as GitHub does (compact UTF-8 JSON)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` value of ``body``: ``sha256=`` + HMAC-SHA256 hex digest."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def delivery_headers(
    event: str, body: bytes, secret: str | None, delivery_id: str | None = None
) -> dict[str, str]:
    """GitHub's delivery headers for ``body``; unsigned when ``secret`` is ``None``.

    Includes the legacy SHA-1 ``X-Hub-Signature`` next to ``X-Hub-Signature-256``, as GitHub
    still sends both.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": str(DEFAULT_HOOK_ID),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": str(DEFAULT_APP_ID),
    }
    if secret is not None:
        sha1 = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature"] = f"sha1={sha1}"
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return headers


def prepare_delivery(
    event: str,
    payload: Mapping[str, Any] | bytes,
    *,
    secret: str | None,
    delivery_id: str | None = None,
    headers: Mapping[str, str | None] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery; ``headers`` override (``None`` removes one)."""
    body = payload if isinstance(payload, bytes) else encode_payload(payload)
    merged = delivery_headers(event, body, secret, delivery_id)
    for name, value in (headers or {}).items():
        for existing in [key for key in merged if key.lower() == name.lower()]:
            del merged[existing]
        if value is not None:
            merged[name] = value
    return body, merged


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
