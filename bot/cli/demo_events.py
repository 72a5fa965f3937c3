"""Webhook deliveries as GitHub sends them: ``issues`` payloads, a new comment's
``issue_comment`` payload, and their signature and headers.

``deliverables-bot demo-deliver`` sends the demo's deliveries with these, and the tests
build theirs with the same functions (``tests/webhooks.py`` adds the other events and the
POSTs). :func:`comment_created_event` is the ``created`` action of ``issue_comment``, the
one that runs slash-commands. :func:`issues_event` shows an issue as the action leaves it:
a ``closed`` event carries a closed issue, ``assigned`` the assignee, ``labeled`` the
label, and so on, cut down to the fields webhook payloads carry
(:data:`WEBHOOK_ISSUE_FIELDS`). Deliveries are signed with HMAC-SHA256 as GitHub does
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries) and
carry GitHub's delivery headers. The defaults name an example App and installation (the
tests' GitHub stand-in is that App).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.cli.github_objects import (
    GITHUB_API,
    GITHUB_WEB,
    JsonDict,
    issue_object,
    label_object,
    node_id,
    organization_object,
    reactions_summary,
    repository_object,
    timestamp,
    user_object,
)
from bot.core.issue import STATE_ACTIONS

DEFAULT_APP_ID = 271828
DEFAULT_INSTALLATION_ID = 31415926
DEFAULT_OWNER = "example-org"
DEFAULT_REPO = "infrastructure"
DEFAULT_SENDER = "octocat"
DEFAULT_HOOK_ID = 498_271_003
DEFAULT_LABEL = "deliverable"
USER_AGENT = "GitHub-Hookshot/8e4d3a7"

# The actions of the issues event the bot handles (bot.handlers.issues): the state actions,
# and the two that move the issue away or delete it.
ISSUES_ACTIONS: tuple[str, ...] = (*STATE_ACTIONS, "transferred", "deleted")

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


def webhook_issue(issue: Mapping[str, Any]) -> JsonDict:
    """Cut an issue down to the fields webhook payloads carry (a deep copy)."""
    return {key: copy.deepcopy(issue[key]) for key in WEBHOOK_ISSUE_FIELDS if key in issue}


def repository_of(issue: Mapping[str, Any]) -> tuple[str, str, str]:
    """The API base URL, owner and name of an issue's repository, from its URLs."""
    parts = urlsplit(issue["repository_url"])
    head, _, tail = parts.path.rpartition("/repos/")
    owner, _, repo = tail.partition("/")
    return f"{parts.scheme}://{parts.netloc}{head}", owner, repo


def user_of(user: str | Mapping[str, Any], api_url: str) -> JsonDict:
    """A user object: ``user`` itself (a copy) when it is one, else built from the login."""
    return dict(user) if isinstance(user, Mapping) else user_object(user, api_url=api_url)


def login_of(user: str | Mapping[str, Any]) -> str:
    """The login of a user given as a login or as a user object."""
    return str(user["login"]) if isinstance(user, Mapping) else user


def event_envelope(
    issue: Mapping[str, Any],
    *,
    sender: str | Mapping[str, Any],
    installation_id: int | None,
    repository: Mapping[str, Any] | None,
) -> JsonDict:
    """The fields every repository event carries: repository, organization, sender, ..."""
    api_url, owner, repo = repository_of(issue)
    repo_obj = dict(repository) if repository else repository_object(owner, repo, api_url=api_url)
    fields: JsonDict = {"repository": repo_obj, "sender": user_of(sender, api_url)}
    if repo_obj["owner"]["type"] == "Organization":
        fields["organization"] = organization_object(repo_obj["owner"]["login"], api_url=api_url)
    if installation_id is not None:
        fields["installation"] = installation_lite(installation_id)
    return fields


def installation_lite(installation_id: int = DEFAULT_INSTALLATION_ID) -> JsonDict:
    """The ``installation`` object of a repository event: ``{"id", "node_id"}``."""
    legacy = f"023:IntegrationInstallation{installation_id}".encode()
    return {"id": installation_id, "node_id": base64.b64encode(legacy).decode("ascii")}


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
    api_url, owner, repo = repository_of(shown)
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
            assignee = logins[-1] if logins and action == "assigned" else login_of(sender)
        who = user_of(assignee, api_url)
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
        new_api, new_owner, new_repo = repository_of(new_issue)
        payload["changes"] = {
            "new_issue": webhook_issue(new_issue),
            "new_repository": repository_object(new_owner, new_repo, api_url=new_api),
        }

    payload["issue"] = shown
    payload.update(
        event_envelope(shown, sender=sender, installation_id=installation_id, repository=repository)
    )
    return payload


def comment_created_event(
    issue: Mapping[str, Any],
    body: str,
    *,
    user: str,
    comment_id: int,
    created_at: str | None = None,
    author_association: str = "NONE",
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
) -> JsonDict:
    """Build the ``issue_comment`` ``created`` payload of ``user``'s new comment ``body`` on
    ``issue`` (sent by its author), the comment as GitHub's webhooks show it."""
    shown = webhook_issue(issue)
    api_url, owner, repo = repository_of(shown)
    number = shown["number"]
    url = f"{api_url}/repos/{owner}/{repo}/issues/comments/{comment_id}"
    created = created_at or timestamp()
    comment: JsonDict = {
        "url": url,
        "html_url": f"{GITHUB_WEB}/{owner}/{repo}/issues/{number}#issuecomment-{comment_id}",
        "issue_url": f"{api_url}/repos/{owner}/{repo}/issues/{number}",
        "id": comment_id,
        "node_id": node_id("IC", comment_id),
        "user": user_object(user, api_url=api_url),
        "created_at": created,
        "updated_at": created,
        "author_association": author_association,
        "body": body,
        "reactions": reactions_summary(f"{url}/reactions"),
        "performed_via_github_app": None,
    }
    payload: JsonDict = {"action": "created", "issue": shown, "comment": comment}
    payload.update(
        event_envelope(shown, sender=user, installation_id=installation_id, repository=None)
    )
    return payload


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
