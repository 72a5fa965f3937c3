"""A local stand-in for the slice of GitHub's REST API the bot uses, served over real HTTP.

``GitHubStandIn`` runs an aiohttp application on 127.0.0.1 (a free port) in a background
thread with its own event loop, so synchronous tests, asynchronous tests and benchmark
scripts can all point a real client (gidgethub) at ``gh.url``::

    with GitHubStandIn() as gh:
        gh.add_issue("example-org", "infrastructure", 1, title="Deploy the hub")
        ...  # GITHUB_API_URL=gh.url, GITHUB_APP_ID=gh.app_id, key gh.private_key_pem

What it does, and the choices it makes where GitHub leaves room:

* Authentication as GitHub does it. ``/app`` routes need an RS256 App JWT signed with
  ``gh.private_key_pem`` whose ``iss`` is the app id, whose ``exp`` is in the future and no
  more than 10 minutes ahead (https://docs.github.com/en/apps/creating-github-apps/
  authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app).
  Everything else needs an installation token minted by
  ``POST /app/installations/{id}/access_tokens``, sent as ``token ghs_...`` (gidgethub's
  form, see ``gidgethub.sansio.create_headers``) or ``Bearer ghs_...``. Anything else is 401.
* Every response carries ``x-ratelimit-*`` headers (limit 15000 by default, the budget of an
  Enterprise Cloud installation, so benchmarks do not run the counter down to 0). The
  stand-in never refuses on its own; use ``inject_rate_limit`` for that.
* Absolute URLs in bodies and ``Link`` headers point at the stand-in itself; ``html_url``
  values point at https://github.com, as the bot stores those.
* A transferred issue answers ``301 Moved Permanently`` with ``Location:
  {url}/repositories/{repo_id}/issues/{n}`` (GitHub's own form) for GET requests; aiohttp
  follows it. Writes to a transferred issue answer ``307`` so a client that follows keeps
  its method and body. A deleted issue answers ``410 Gone``. Both apply to sub-resources
  (comments, sub-issues) too. ``gh.issue(...)`` still returns the issue's last known state.
* ``GET /repos/{o}/{r}/collaborators/{login}/permission`` answers 404 for a login that is no
  collaborator; pass ``non_collaborator_permission="read"`` to get the 200 ``read`` answer
  GitHub gives for public repositories instead.
* A custom repository role (``set_permission(..., role_name="release-manager")``) is also
  registered in the owner's organization, with the given permission as its ``base_role``;
  ``GET /orgs/{org}/custom-repository-roles`` lists them, or answers 403 as GitHub does for
  an App without the "Custom repository roles" organization permission when
  ``gh.custom_roles_readable`` is False. Private repositories answer 404 for a
  non-collaborator whatever ``non_collaborator_permission`` says.
* ``POST .../sub_issues`` and ``DELETE .../sub_issue`` answer with the parent issue.
* The App's webhook delivery log (``GET /app/hook/deliveries``, ``GET .../{id}``, ``POST
  .../{id}/attempts``): ``send_delivery`` really POSTs a signed delivery to the URL set with
  ``configure_hook`` and logs the outcome (``status_code`` 0, "failed to connect", while
  nothing listens there); ``log_delivery`` logs an attempt without sending it.
* Timestamps have GitHub's one-second resolution; ``updated_at`` strictly increases on
  every change so "newer wins" logic can be tested without sleeping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import datetime as dt
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import string
import threading
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"
DOCS_URL = "https://docs.github.com/rest"
DEFAULT_APP_ID = 271828
DEFAULT_INSTALLATION_ID = 31415926
DEFAULT_APP_SLUG = "deliverables-bot"
DEFAULT_ACCOUNT = "example-org"
DEFAULT_RATE_LIMIT = 15000
APP_NAME = "Deliverables Bot"
APP_PERMISSIONS: Mapping[str, str] = {"issues": "write", "metadata": "read"}
APP_EVENTS: tuple[str, ...] = ("issues", "issue_comment", "sub_issues")
REACTION_CONTENTS: tuple[str, ...] = (
    "+1",
    "-1",
    "laugh",
    "confused",
    "heart",
    "hooray",
    "rocket",
    "eyes",
)
# GitHub refuses an App JWT whose exp is more than 10 minutes ahead; allow a little skew.
MAX_JWT_LIFETIME = 600
JWT_LEEWAY = 30
FIXED_CREATED_AT = "2024-01-15T09:00:00Z"

# Legacy `permission` and default `role_name` for each role the API can report
# (https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user).
_ROLES: Mapping[str, tuple[str, str]] = {
    "admin": ("admin", "admin"),
    "maintain": ("write", "maintain"),
    "write": ("write", "write"),
    "triage": ("read", "triage"),
    "read": ("read", "read"),
    "none": ("none", ""),
}

JsonDict = dict[str, Any]


# --------------------------------------------------------------------------------------
# The app's private key: generated once per process (RSA generation is slow).

_KEY_LOCK = threading.Lock()
_APP_KEY: rsa.RSAPrivateKey | None = None


def app_private_key() -> rsa.RSAPrivateKey:
    """Return the process-wide RSA key of the stand-in's GitHub App, generating it once."""
    global _APP_KEY
    with _KEY_LOCK:
        if _APP_KEY is None:
            _APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _APP_KEY


def app_private_key_pem() -> str:
    """Return the app's private key as PEM text, in the PKCS#1 form GitHub hands out."""
    return (
        app_private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


# --------------------------------------------------------------------------------------
# Shapes of GitHub objects: pure functions shared with tests/webhooks.py.


def timestamp(when: float | dt.datetime | str | None = None) -> str:
    """Format a time as GitHub does (``2026-01-05T10:00:00Z``); ``None`` means now."""
    if isinstance(when, str):
        return timestamp(parse_timestamp(when))
    if isinstance(when, dt.datetime):
        when = when.timestamp()
    if when is None:
        when = time.time()
    moment = dt.datetime.fromtimestamp(int(when), dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> float:
    """Parse an ISO 8601 time (``Z`` or an offset) into seconds since the epoch."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def stable_id(*parts: object, base: int = 1_000_000) -> int:
    """Return a deterministic positive id for a named thing (user, repository, label)."""
    key = "/".join(str(part) for part in parts).lower()
    return base + zlib.crc32(key.encode("utf-8")) % 90_000_000


def node_id(prefix: str, number: int) -> str:
    """Return a GraphQL-looking node id (``I_kwDO...``) for a numeric id."""
    digits = string.ascii_letters + string.digits
    text = ""
    value = number
    while value:
        value, rest = divmod(value, len(digits))
        text = digits[rest] + text
    return f"{prefix}_kwDO{text or 'A'}"


def user_object(login: str, *, api_url: str = GITHUB_API, user_type: str | None = None) -> JsonDict:
    """Return a user as GitHub shows it (``simple-user``); ``[bot]`` logins are Bots."""
    kind = user_type or ("Bot" if login.endswith("[bot]") else "User")
    user_id = stable_id("user", login)
    url = f"{api_url}/users/{quote(login, safe='')}"
    if kind == "Bot":
        html_url = f"{GITHUB_WEB}/apps/{login.removesuffix('[bot]')}"
    else:
        html_url = f"{GITHUB_WEB}/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": node_id({"Bot": "BOT", "Organization": "O"}.get(kind, "U"), user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": html_url,
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "site_admin": False,
    }


def organization_object(login: str, *, api_url: str = GITHUB_API) -> JsonDict:
    """Return an organization as webhook payloads show it."""
    org_id = stable_id("user", login)
    url = f"{api_url}/orgs/{login}"
    return {
        "login": login,
        "id": org_id,
        "node_id": node_id("O", org_id),
        "url": url,
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events",
        "hooks_url": f"{url}/hooks",
        "issues_url": f"{url}/issues",
        "members_url": f"{url}/members{{/member}}",
        "public_members_url": f"{url}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org_id}?v=4",
        "description": None,
    }


def label_object(
    name: str,
    *,
    owner: str,
    repo: str,
    api_url: str = GITHUB_API,
    color: str | None = None,
    description: str | None = None,
) -> JsonDict:
    """Return a repository label as GitHub shows it."""
    label_id = stable_id("label", owner, repo, name)
    return {
        "id": label_id,
        "node_id": node_id("LA", label_id),
        "url": f"{api_url}/repos/{owner}/{repo}/labels/{quote(name, safe='')}",
        "name": name,
        "color": color or f"{zlib.crc32(name.lower().encode()) & 0xFFFFFF:06x}",
        "default": False,
        "description": description,
    }


def repository_object(
    owner: str,
    repo: str,
    *,
    api_url: str = GITHUB_API,
    private: bool = False,
    owner_type: str = "Organization",
    repo_id: int | None = None,
    open_issues: int = 0,
) -> JsonDict:
    """Return a repository with every field GitHub's webhook schema requires."""
    rid = repo_id if repo_id is not None else stable_id("repo", owner, repo)
    full = f"{owner}/{repo}"
    url = f"{api_url}/repos/{full}"
    templated = {
        "keys_url": "keys{/key_id}",
        "collaborators_url": "collaborators{/collaborator}",
        "issue_events_url": "issues/events{/number}",
        "assignees_url": "assignees{/user}",
        "branches_url": "branches{/branch}",
        "blobs_url": "git/blobs{/sha}",
        "git_tags_url": "git/tags{/sha}",
        "git_refs_url": "git/refs{/sha}",
        "trees_url": "git/trees{/sha}",
        "statuses_url": "statuses/{sha}",
        "commits_url": "commits{/sha}",
        "git_commits_url": "git/commits{/sha}",
        "comments_url": "comments{/number}",
        "issue_comment_url": "issues/comments{/number}",
        "contents_url": "contents/{+path}",
        "compare_url": "compare/{base}...{head}",
        "archive_url": "{archive_format}{/ref}",
        "issues_url": "issues{/number}",
        "pulls_url": "pulls{/number}",
        "milestones_url": "milestones{/number}",
        "notifications_url": "notifications{?since,all,participating}",
        "labels_url": "labels{/name}",
        "releases_url": "releases{/id}",
        "forks_url": "forks",
        "teams_url": "teams",
        "hooks_url": "hooks",
        "events_url": "events",
        "tags_url": "tags",
        "languages_url": "languages",
        "stargazers_url": "stargazers",
        "contributors_url": "contributors",
        "subscribers_url": "subscribers",
        "subscription_url": "subscription",
        "merges_url": "merges",
        "downloads_url": "downloads",
        "deployments_url": "deployments",
    }
    return {
        "id": rid,
        "node_id": node_id("R", rid),
        "name": repo,
        "full_name": full,
        "private": private,
        "owner": user_object(owner, api_url=api_url, user_type=owner_type),
        "html_url": f"{GITHUB_WEB}/{full}",
        "description": None,
        "fork": False,
        "url": url,
        **{key: f"{url}/{tail}" for key, tail in templated.items()},
        "created_at": FIXED_CREATED_AT,
        "updated_at": FIXED_CREATED_AT,
        "pushed_at": FIXED_CREATED_AT,
        "git_url": f"git://github.com/{full}.git",
        "ssh_url": f"git@github.com:{full}.git",
        "clone_url": f"{GITHUB_WEB}/{full}.git",
        "svn_url": f"{GITHUB_WEB}/{full}",
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if private else "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": "main",
        "custom_properties": {},
    }


def app_object(
    *,
    app_id: int = DEFAULT_APP_ID,
    slug: str = DEFAULT_APP_SLUG,
    owner: str = DEFAULT_ACCOUNT,
    api_url: str = GITHUB_API,
    installations_count: int = 1,
) -> JsonDict:
    """Return the GitHub App as ``GET /app`` shows it."""
    return {
        "id": app_id,
        "slug": slug,
        "node_id": node_id("A", app_id),
        "client_id": f"Iv23li{app_id:014d}",
        "owner": user_object(owner, api_url=api_url, user_type="Organization"),
        "name": APP_NAME,
        "description": "Keeps an Airtable base of delivery work true to its GitHub issues.",
        "external_url": "https://example.org/deliverables-bot",
        "html_url": f"{GITHUB_WEB}/apps/{slug}",
        "created_at": FIXED_CREATED_AT,
        "updated_at": FIXED_CREATED_AT,
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "installations_count": installations_count,
    }


def installation_object(
    *,
    installation_id: int = DEFAULT_INSTALLATION_ID,
    account: str = DEFAULT_ACCOUNT,
    app_id: int = DEFAULT_APP_ID,
    app_slug: str = DEFAULT_APP_SLUG,
    api_url: str = GITHUB_API,
    events: Sequence[str] = APP_EVENTS,
    account_type: str = "Organization",
) -> JsonDict:
    """Return an installation of the app as ``GET /app/installations`` shows it."""
    account_obj = user_object(account, api_url=api_url, user_type=account_type)
    return {
        "id": installation_id,
        "account": account_obj,
        "repository_selection": "all",
        "access_tokens_url": f"{api_url}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{api_url}/installation/repositories",
        "html_url": f"{GITHUB_WEB}/organizations/{account}/settings/installations/"
        f"{installation_id}",
        "app_id": app_id,
        "app_slug": app_slug,
        "target_id": account_obj["id"],
        "target_type": account_type,
        "permissions": dict(APP_PERMISSIONS),
        "events": list(events),
        "created_at": FIXED_CREATED_AT,
        "updated_at": FIXED_CREATED_AT,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def reactions_summary(url: str, counts: Mapping[str, int] | None = None) -> JsonDict:
    """Return the ``reactions`` rollup GitHub embeds in issues and comments."""
    counts = counts or {}
    summary: JsonDict = {"url": url, "total_count": sum(counts.values())}
    summary.update({content: counts.get(content, 0) for content in REACTION_CONTENTS})
    return summary


def issue_object(
    owner: str,
    repo: str,
    number: int,
    *,
    title: str,
    api_url: str = GITHUB_API,
    issue_id: int | None = None,
    body: str | None = None,
    state: str = "open",
    state_reason: str | None = None,
    user: str = "octocat",
    assignees: Iterable[str] = (),
    labels: Iterable[str | Mapping[str, Any]] = (),
    comments: int = 0,
    created_at: str | None = None,
    updated_at: str | None = None,
    closed_at: str | None = None,
    closed_by: str | None = None,
    locked: bool = False,
    author_association: str = "NONE",
    sub_issues_summary: Mapping[str, int] | None = None,
    parent_issue_url: str | None = None,
) -> JsonDict:
    """Return an issue as GitHub's REST API shows it (``GET /repos/{o}/{r}/issues/{n}``).

    A closed issue without ``closed_at`` gets its ``updated_at``.
    """
    iid = issue_id if issue_id is not None else stable_id("issue", owner, repo, number)
    url = f"{api_url}/repos/{owner}/{repo}/issues/{number}"
    created = created_at or timestamp()
    updated = updated_at or created
    if state == "closed" and closed_at is None:
        closed_at = updated
    assignee_objs = [user_object(login, api_url=api_url) for login in assignees]
    label_objs = [
        dict(label)
        if isinstance(label, Mapping)
        else label_object(label, owner=owner, repo=repo, api_url=api_url)
        for label in labels
    ]
    return {
        "url": url,
        "repository_url": f"{api_url}/repos/{owner}/{repo}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{GITHUB_WEB}/{owner}/{repo}/issues/{number}",
        "id": iid,
        "node_id": node_id("I", iid),
        "number": number,
        "title": title,
        "user": user_object(user, api_url=api_url),
        "labels": label_objs,
        "state": state,
        "locked": locked,
        "assignee": assignee_objs[0] if assignee_objs else None,
        "assignees": assignee_objs,
        "milestone": None,
        "comments": comments,
        "created_at": created,
        "updated_at": updated,
        "closed_at": closed_at if state == "closed" else None,
        "closed_by": (
            user_object(closed_by or user, api_url=api_url) if state == "closed" else None
        ),
        "author_association": author_association,
        "active_lock_reason": None,
        "body": body,
        "reactions": reactions_summary(f"{url}/reactions"),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": state_reason,
        "sub_issues_summary": dict(
            sub_issues_summary or {"total": 0, "completed": 0, "percent_completed": 0}
        ),
        "parent_issue_url": parent_issue_url,
    }


def comment_object(
    owner: str,
    repo: str,
    number: int,
    comment_id: int,
    *,
    body: str,
    user: str,
    api_url: str = GITHUB_API,
    created_at: str | None = None,
    updated_at: str | None = None,
    author_association: str = "NONE",
    performed_via_github_app: Mapping[str, Any] | None = None,
    reaction_counts: Mapping[str, int] | None = None,
) -> JsonDict:
    """Return an issue comment as GitHub's REST API and webhooks show it."""
    url = f"{api_url}/repos/{owner}/{repo}/issues/comments/{comment_id}"
    created = created_at or timestamp()
    return {
        "url": url,
        "html_url": f"{GITHUB_WEB}/{owner}/{repo}/issues/{number}#issuecomment-{comment_id}",
        "issue_url": f"{api_url}/repos/{owner}/{repo}/issues/{number}",
        "id": comment_id,
        "node_id": node_id("IC", comment_id),
        "user": user_object(user, api_url=api_url),
        "created_at": created,
        "updated_at": updated_at or created,
        "author_association": author_association,
        "body": body,
        "reactions": reactions_summary(f"{url}/reactions", reaction_counts),
        "performed_via_github_app": (
            dict(performed_via_github_app) if performed_via_github_app else None
        ),
    }


# --------------------------------------------------------------------------------------
# State kept by the stand-in.


class Call(NamedTuple):
    """One request the stand-in received: method, path, query and decoded JSON body."""

    method: str
    path: str
    query: dict[str, str]
    json: Any


class _Unset:
    """Marker for "argument not given" where ``None`` is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass
class _Repo:
    owner: str
    name: str
    id: int
    private: bool = False
    owner_type: str = "Organization"
    next_number: int = 1
    labels: dict[str, JsonDict] = field(default_factory=dict)
    permissions: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)


@dataclass
class _Issue:
    id: int
    repo: _Repo
    number: int
    title: str
    body: str | None
    state: str
    state_reason: str | None
    user: str
    assignees: list[str]
    labels: list[str]
    created_at: str
    updated_at: str
    closed_at: str | None
    closed_by: str | None
    locked: bool
    author_association: str
    deleted: bool = False
    moved_to: _Issue | None = None
    parent: _Issue | None = None
    sub_issues: list[_Issue] = field(default_factory=list)


@dataclass
class _Reaction:
    id: int
    user: str
    content: str
    created_at: str


@dataclass
class _Comment:
    id: int
    issue: _Issue
    body: str
    user: str
    created_at: str
    updated_at: str
    author_association: str
    via_app: bool
    reactions: list[_Reaction] = field(default_factory=list)
    deleted: bool = False


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    method: str | None
    remaining: int | None
    status: int = 503
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    rate_limit_reset_in: float | None = None

    def take(self, method: str, path: str) -> bool:
        """Consume one use of the rule if it matches; caller holds the lock."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if not self.pattern.search(path):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class ApiError(Exception):
    """An error answer of the stand-in, rendered like GitHub's JSON errors."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        errors: list[JsonDict] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.body = body
        self.message = message or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.message}")


def _validation_failed(resource: str, field_name: str, code: str = "invalid") -> ApiError:
    return ApiError(
        422,
        "Validation Failed",
        errors=[{"resource": resource, "code": code, "field": field_name}],
    )


# GitHub refuses a comment body longer than this many characters (422).
MAX_COMMENT_LENGTH = 65536


def _check_comment_length(body: str) -> None:
    if len(body) > MAX_COMMENT_LENGTH:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)",
                }
            ],
        )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_JSON_BODY = web.RequestKey("json_body", object)


# --------------------------------------------------------------------------------------
# The stand-in.


class GitHubStandIn:
    """A local GitHub REST API for tests: real HTTP, real auth, scriptable state and faults.

    Use it as a context manager (``with GitHubStandIn() as gh:``) or call ``start()`` and
    ``stop()``. The state API (``add_issue``, ``update_issue``, ``set_permission``, ...) is
    thread-safe and may be called while clients talk to the server; it needs a started
    stand-in because the objects it returns carry the stand-in's URL.
    """

    def __init__(
        self,
        *,
        app_id: int = DEFAULT_APP_ID,
        installation_id: int = DEFAULT_INSTALLATION_ID,
        app_slug: str = DEFAULT_APP_SLUG,
        account: str = DEFAULT_ACCOUNT,
        token_lifetime: float = 3600.0,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        non_collaborator_permission: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure the stand-in; nothing runs until ``start()`` or ``with``."""
        self.app_id = app_id
        self.installation_id = installation_id
        self.app_slug = app_slug
        self.account = account
        self.token_lifetime = token_lifetime
        self.rate_limit = rate_limit
        self.non_collaborator_permission = non_collaborator_permission
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._repos_by_id: dict[int, _Repo] = {}
        self._issues: dict[tuple[str, str, int], _Issue] = {}
        self._issues_by_id: dict[int, _Issue] = {}
        self._comments: dict[int, _Comment] = {}
        self._tokens: dict[str, float] = {}
        self._tokens_issued = 0
        self._calls: list[Call] = []
        self._faults: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._issue_ids = itertools.count(1_700_000_001)
        self._comment_ids = itertools.count(2_600_000_001)
        self._reaction_ids = itertools.count(310_000_001)
        self._rate_used = 0
        self._rate_reset = int(time.time()) + 3600
        self._url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._init_hook_log()
        self._custom_roles: dict[str, dict[str, JsonDict]] = {}
        self.custom_roles_readable = True

    # ---- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the API (use as ``GITHUB_API_URL``), e.g. ``http://127.0.0.1:40123``."""
        if self._url is None:
            raise RuntimeError("GitHubStandIn is not started; use `with GitHubStandIn() as gh`")
        return self._url

    @property
    def private_key_pem(self) -> str:
        """The app's private key (PEM), shared by every stand-in in the process."""
        return app_private_key_pem()

    @property
    def bot_login(self) -> str:
        """Login of the app's bot user, the author of what the bot writes."""
        return f"{self.app_slug}[bot]"

    def start(self) -> GitHubStandIn:
        """Serve on a free port in a background thread; return once it accepts requests."""
        if self._thread is not None:
            return self
        app_private_key()  # generate the key now, not during the first request
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
            finally:
                with contextlib.suppress(Exception):
                    pending = asyncio.all_tasks(loop)
                    for task in pending:
                        task.cancel()
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="github-standin", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            self.stop()
            raise RuntimeError("GitHubStandIn did not start within 10 s")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError("GitHubStandIn failed to start") from failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and join the background thread (requests in flight are cut)."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None:
            return
        if stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._stopping = None

    close = stop

    def __enter__(self) -> GitHubStandIn:
        """Start the stand-in."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the stand-in."""
        self.stop()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = self._make_app()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # ---- recorded calls and faults -----------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every request received so far (a copy), oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_matching(self, method: str | None, path_regex: str) -> list[Call]:
        """The recorded calls with this method (``None`` for any) whose path matches."""
        pattern = re.compile(path_regex)
        return [
            call
            for call in self.calls
            if (method is None or call.method == method.upper()) and pattern.search(call.path)
        ]

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self._calls.clear()

    def inject(
        self,
        path_regex: str,
        status: int = 503,
        times: int | None = 1,
        *,
        method: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path matches with ``status`` (``None``: always).

        The default body is GitHub's ``{"message": ..., "documentation_url": ...}``.
        """
        with self._lock:
            self._faults.append(
                _Rule(
                    re.compile(path_regex),
                    method,
                    times,
                    status=status,
                    body=body,
                    headers=dict(headers or {}),
                )
            )

    def inject_rate_limit(
        self,
        times: int | None = 1,
        *,
        path_regex: str = r"^/(repos|repositories)/",
        reset_in: float = 2.0,
    ) -> None:
        """Refuse the next ``times`` matching requests as rate limited.

        GitHub's primary rate limit answer: 403 with ``x-ratelimit-remaining: 0`` and a
        ``x-ratelimit-reset`` ``reset_in`` seconds ahead (gidgethub raises
        ``RateLimitExceeded``). By default only the installation-token routes are refused,
        so minting a token still works.
        """
        with self._lock:
            self._faults.append(
                _Rule(
                    re.compile(path_regex),
                    None,
                    times,
                    status=403,
                    rate_limit_reset_in=reset_in,
                )
            )

    def delay(
        self,
        path_regex: str,
        seconds: float,
        times: int | None = 1,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests only after ``seconds``."""
        with self._lock:
            self._delays.append(_Rule(re.compile(path_regex), method, times, seconds=seconds))

    def clear_faults(self) -> None:
        """Drop every injected fault and delay still pending."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    # ---- tokens --------------------------------------------------------------------

    @property
    def tokens_issued(self) -> int:
        """How many installation tokens have been minted."""
        with self._lock:
            return self._tokens_issued

    def expire_tokens(self) -> None:
        """Make every installation token minted so far expired (answers 401 from now on)."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def installation(self) -> JsonDict:
        """The app's installation as ``GET /app/installations`` shows it."""
        return installation_object(
            installation_id=self.installation_id,
            account=self.account,
            app_id=self.app_id,
            app_slug=self.app_slug,
            api_url=self.url,
        )

    def app(self) -> JsonDict:
        """The app as ``GET /app`` shows it."""
        return app_object(
            app_id=self.app_id, slug=self.app_slug, owner=self.account, api_url=self.url
        )

    # ---- repositories and issues ---------------------------------------------------

    def add_repository(
        self, owner: str, repo: str, *, private: bool = False, owner_type: str = "Organization"
    ) -> JsonDict:
        """Create a repository (``add_issue`` creates them as needed) and return it."""
        with self._lock:
            record = self._repo(owner, repo, create=True)
            record.private = private
            record.owner_type = owner_type
            return self._render_repo(record)

    def repository(self, owner: str, repo: str) -> JsonDict:
        """A repository as GitHub shows it."""
        with self._lock:
            return self._render_repo(self._repo(owner, repo))

    def add_issue(
        self,
        owner: str,
        repo: str,
        number: int | None = None,
        *,
        title: str,
        body: str | None = None,
        state: str = "open",
        state_reason: str | None = None,
        assignees: Iterable[str] = (),
        labels: Iterable[str] = (),
        closed_at: str | None = None,
        user: str = "octocat",
        created_at: str | None = None,
        updated_at: str | None = None,
        locked: bool = False,
        author_association: str = "MEMBER",
    ) -> JsonDict:
        """Create an issue (number: next free one when omitted) and return it as the API would.

        A closed issue without ``closed_at`` is closed now; ``state_reason`` is kept as
        given (``None`` is what GitHub shows for issues closed before state reasons existed).
        """
        if state not in ("open", "closed"):
            raise ValueError(f"state must be 'open' or 'closed', not {state!r}")
        with self._lock:
            record = self._repo(owner, repo, create=True)
            if number is None:
                number = record.next_number
            key = (record.owner.lower(), record.name.lower(), number)
            if key in self._issues:
                raise ValueError(f"{owner}/{repo}#{number} already exists")
            now = timestamp()
            created = timestamp(created_at) if created_at else now
            issue = _Issue(
                id=next(self._issue_ids),
                repo=record,
                number=number,
                title=title,
                body=body,
                state=state,
                state_reason=state_reason,
                user=user,
                assignees=list(assignees),
                labels=[],
                created_at=created,
                updated_at=timestamp(updated_at) if updated_at else max(created, now),
                closed_at=(timestamp(closed_at) if closed_at else now)
                if state == "closed"
                else None,
                closed_by=user if state == "closed" else None,
                locked=locked,
                author_association=author_association,
            )
            issue.labels = [self._label(record, name)["name"] for name in labels]
            record.next_number = max(record.next_number, number + 1)
            self._issues[key] = issue
            self._issues_by_id[issue.id] = issue
            return self._render_issue(issue)

    def issue(self, owner: str, repo: str, number: int) -> JsonDict:
        """The issue as the API shows it (its last known state if deleted or transferred)."""
        with self._lock:
            return self._render_issue(self._issue(owner, repo, number))

    def issues(self, owner: str, repo: str, *, state: str = "all") -> list[JsonDict]:
        """The repository's live issues (``state``: open, closed or all), by number."""
        with self._lock:
            record = self._repo(owner, repo)
            return [
                self._render_issue(issue)
                for issue in sorted(self._live_issues(record), key=lambda i: i.number)
                if state == "all" or issue.state == state
            ]

    def update_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        *,
        title: str = UNSET,
        body: str | None = UNSET,
        state: str = UNSET,
        state_reason: str | None = UNSET,
        assignees: Iterable[str] = UNSET,
        labels: Iterable[str] = UNSET,
        closed_at: str | None = UNSET,
        locked: bool = UNSET,
        closed_by: str = UNSET,
    ) -> JsonDict:
        """Change an issue as a person on GitHub would; bumps ``updated_at``; returns it.

        Closing sets ``closed_at`` (now) and ``state_reason`` (``completed``) unless given;
        reopening clears ``closed_at`` and sets ``state_reason`` to ``reopened``, as GitHub does.
        """
        with self._lock:
            issue = self._issue(owner, repo, number)
            if title is not UNSET:
                issue.title = title
            if body is not UNSET:
                issue.body = body
            if assignees is not UNSET:
                issue.assignees = list(assignees)
            if labels is not UNSET:
                issue.labels = [self._label(issue.repo, name)["name"] for name in labels]
            if locked is not UNSET:
                issue.locked = locked
            if state is not UNSET and state != issue.state:
                if state == "closed":
                    issue.state = "closed"
                    issue.closed_at = timestamp()
                    issue.state_reason = "completed"
                    issue.closed_by = issue.user
                elif state == "open":
                    issue.state = "open"
                    issue.closed_at = None
                    issue.closed_by = None
                    issue.state_reason = "reopened"
                else:
                    raise ValueError(f"state must be 'open' or 'closed', not {state!r}")
            if state_reason is not UNSET:
                issue.state_reason = state_reason
            if closed_at is not UNSET:
                issue.closed_at = timestamp(closed_at) if closed_at else None
            if closed_by is not UNSET:
                issue.closed_by = closed_by
            self._touch(issue)
            return self._render_issue(issue)

    def close_issue(
        self, owner: str, repo: str, number: int, *, state_reason: str | None = "completed"
    ) -> JsonDict:
        """Close an issue (``completed``, ``not_planned``, ``duplicate`` or ``None``)."""
        return self.update_issue(owner, repo, number, state="closed", state_reason=state_reason)

    def reopen_issue(self, owner: str, repo: str, number: int) -> JsonDict:
        """Reopen an issue."""
        return self.update_issue(owner, repo, number, state="open")

    def transfer_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        new_owner: str,
        new_repo: str,
        *,
        new_number: int | None = None,
    ) -> JsonDict:
        """Move an issue to another repository and return it there.

        The old address then answers 301 (see the module docstring); comments and sub-issue
        links move with the issue, which keeps its id.
        """
        with self._lock:
            old = self._issue(owner, repo, number)
            if old.deleted or old.moved_to is not None:
                raise ValueError(f"{owner}/{repo}#{number} is deleted or already transferred")
            target = self._repo(new_owner, new_repo, create=True)
            num = new_number if new_number is not None else target.next_number
            key = (target.owner.lower(), target.name.lower(), num)
            if key in self._issues:
                raise ValueError(f"{new_owner}/{new_repo}#{num} already exists")
            new = dataclasses.replace(
                old,
                repo=target,
                number=num,
                moved_to=None,
                assignees=list(old.assignees),
                labels=[self._label(target, name)["name"] for name in old.labels],
                sub_issues=list(old.sub_issues),
            )
            target.next_number = max(target.next_number, num + 1)
            old.moved_to = new
            self._issues[key] = new
            self._issues_by_id[new.id] = new
            for comment in self._comments.values():
                if comment.issue is old:
                    comment.issue = new
            if old.parent is not None:
                siblings = old.parent.sub_issues
                siblings[siblings.index(old)] = new
            for child in new.sub_issues:
                child.parent = new
            old.parent = None
            old.sub_issues = []
            self._touch(new)
            return self._render_issue(new)

    def delete_issue(self, owner: str, repo: str, number: int) -> JsonDict:
        """Delete an issue (its address then answers 410) and return its last state."""
        with self._lock:
            issue = self._issue(owner, repo, number)
            rendered = self._render_issue(issue)
            issue.deleted = True
            if issue.parent is not None:
                issue.parent.sub_issues.remove(issue)
                issue.parent = None
            for child in issue.sub_issues:
                child.parent = None
            issue.sub_issues = []
            return rendered

    # ---- sub-issues --------------------------------------------------------------------

    def add_sub_issue(
        self,
        owner: str,
        repo: str,
        parent_number: int,
        sub_number: int,
        *,
        sub_owner: str | None = None,
        sub_repo: str | None = None,
    ) -> JsonDict:
        """Make an issue a sub-issue of another (replacing any parent); return the parent."""
        with self._lock:
            parent = self._issue(owner, repo, parent_number)
            child = self._issue(sub_owner or owner, sub_repo or repo, sub_number)
            self._link_sub_issue(parent, child, replace_parent=True)
            return self._render_issue(parent)

    def remove_sub_issue(
        self,
        owner: str,
        repo: str,
        parent_number: int,
        sub_number: int,
        *,
        sub_owner: str | None = None,
        sub_repo: str | None = None,
    ) -> JsonDict:
        """Detach a sub-issue from its parent; return the parent."""
        with self._lock:
            parent = self._issue(owner, repo, parent_number)
            child = self._issue(sub_owner or owner, sub_repo or repo, sub_number)
            if child.parent is not parent:
                raise ValueError("not a sub-issue of this parent")
            parent.sub_issues.remove(child)
            child.parent = None
            self._touch(parent)
            return self._render_issue(parent)

    def sub_issues(self, owner: str, repo: str, number: int) -> list[JsonDict]:
        """The sub-issues of an issue, in the order they were added."""
        with self._lock:
            parent = self._issue(owner, repo, number)
            return [self._render_issue(child) for child in parent.sub_issues]

    # ---- comments and reactions ----------------------------------------------------

    def add_comment(
        self,
        owner: str,
        repo: str,
        number: int,
        body: str,
        *,
        user: str = "octocat",
        author_association: str | None = None,
    ) -> JsonDict:
        """Add a comment written by a person (to be announced with ``issue_comment_event``).

        ``author_association`` defaults to COLLABORATOR for logins given a permission with
        ``set_permission``, NONE otherwise.
        """
        with self._lock:
            issue = self._issue(owner, repo, number)
            if author_association is None:
                known = issue.repo.permissions.get(user.lower())
                author_association = "COLLABORATOR" if known else "NONE"
            comment = self._new_comment(issue, body, user, author_association, via_app=False)
            return self._render_comment(comment)

    def comments(self, owner: str, repo: str, number: int) -> list[JsonDict]:
        """The issue's comments, oldest first, as the API shows them."""
        with self._lock:
            issue = self._follow(self._issue(owner, repo, number))
            return [self._render_comment(c) for c in self._comments_of(issue)]

    def comment(self, comment_id: int) -> JsonDict:
        """One comment as the API shows it."""
        with self._lock:
            return self._render_comment(self._comments[comment_id])

    def reactions(self, comment_id: int) -> list[JsonDict]:
        """The reactions on a comment, oldest first."""
        with self._lock:
            comment = self._comments[comment_id]
            return [self._render_reaction(r) for r in comment.reactions]

    # ---- permissions -----------------------------------------------------------------

    def set_permission(
        self,
        owner: str,
        repo: str,
        login: str,
        permission: str,
        role_name: str | None = None,
    ) -> None:
        """Make ``login`` a collaborator with ``permission`` (admin, maintain, write, triage,
        read or none); ``role_name`` names a custom role (it defaults to the permission)."""
        if permission not in _ROLES:
            raise ValueError(f"permission must be one of {sorted(_ROLES)}, not {permission!r}")
        legacy, default_role = _ROLES[permission]
        with self._lock:
            record = self._repo(owner, repo, create=True)
            role = role_name or default_role
            record.permissions[login.lower()] = (login, legacy, role, permission)
            if role_name and role_name not in _ROLES:
                self._add_custom_role(owner, role_name, permission)

    def remove_permission(self, owner: str, repo: str, login: str) -> None:
        """Remove a collaborator."""
        with self._lock:
            self._repo(owner, repo).permissions.pop(login.lower(), None)

    # ---- internals: state ----------------------------------------------------------

    def _repo(self, owner: str, repo: str, *, create: bool = False) -> _Repo:
        key = (owner.lower(), repo.lower())
        record = self._repos.get(key)
        if record is None:
            if not create:
                raise KeyError(f"unknown repository {owner}/{repo}")
            record = _Repo(owner=owner, name=repo, id=stable_id("repo", owner, repo))
            self._repos[key] = record
            self._repos_by_id[record.id] = record
        return record

    def _issue(self, owner: str, repo: str, number: int) -> _Issue:
        try:
            return self._issues[(owner.lower(), repo.lower(), number)]
        except KeyError:
            raise KeyError(f"unknown issue {owner}/{repo}#{number}") from None

    @staticmethod
    def _follow(issue: _Issue) -> _Issue:
        while issue.moved_to is not None:
            issue = issue.moved_to
        return issue

    def _live_issues(self, record: _Repo) -> list[_Issue]:
        return [
            issue
            for issue in self._issues.values()
            if issue.repo is record and not issue.deleted and issue.moved_to is None
        ]

    def _label(self, record: _Repo, name: str) -> JsonDict:
        label = record.labels.get(name.lower())
        if label is None:
            label = label_object(name, owner=record.owner, repo=record.name, api_url=self.url)
            record.labels[name.lower()] = label
        return label

    def _touch(self, issue: _Issue) -> None:
        now = int(time.time())
        previous = int(parse_timestamp(issue.updated_at))
        issue.updated_at = timestamp(max(now, previous + 1))

    def _link_sub_issue(self, parent: _Issue, child: _Issue, *, replace_parent: bool) -> None:
        if child is parent:
            raise _validation_failed("Issue", "sub_issue_id")
        if child.repo.owner.lower() != parent.repo.owner.lower():
            raise _validation_failed("Issue", "sub_issue_id")
        if child.parent is parent:
            raise ApiError(422, "Issue may not contain duplicate sub-issues")
        ancestor = parent
        while ancestor is not None:
            if ancestor is child:
                raise ApiError(422, "Sub-issue may not be an ancestor of its parent")
            ancestor = ancestor.parent  # type: ignore[assignment]
        if child.parent is not None:
            if not replace_parent:
                raise ApiError(422, "Sub-issue may only have one parent")
            child.parent.sub_issues.remove(child)
        parent.sub_issues.append(child)
        child.parent = parent
        self._touch(parent)

    def _new_comment(
        self, issue: _Issue, body: str, user: str, association: str, *, via_app: bool
    ) -> _Comment:
        now = timestamp()
        comment = _Comment(
            id=next(self._comment_ids),
            issue=issue,
            body=body,
            user=user,
            created_at=now,
            updated_at=now,
            author_association=association,
            via_app=via_app,
        )
        self._comments[comment.id] = comment
        self._touch(issue)
        return comment

    def _comments_of(self, issue: _Issue) -> list[_Comment]:
        return sorted(
            (c for c in self._comments.values() if c.issue is issue and not c.deleted),
            key=lambda c: c.id,
        )

    # ---- internals: rendering ------------------------------------------------------

    def _render_repo(self, record: _Repo) -> JsonDict:
        return repository_object(
            record.owner,
            record.name,
            api_url=self.url,
            private=record.private,
            owner_type=record.owner_type,
            repo_id=record.id,
            open_issues=sum(1 for i in self._live_issues(record) if i.state == "open"),
        )

    def _render_issue(self, issue: _Issue) -> JsonDict:
        record = issue.repo
        children = issue.sub_issues
        completed = sum(1 for child in children if child.state == "closed")
        parent = issue.parent
        return issue_object(
            record.owner,
            record.name,
            issue.number,
            title=issue.title,
            api_url=self.url,
            issue_id=issue.id,
            body=issue.body,
            state=issue.state,
            state_reason=issue.state_reason,
            user=issue.user,
            assignees=issue.assignees,
            labels=[self._label(record, name) for name in issue.labels],
            comments=len(self._comments_of(issue)),
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=issue.closed_at,
            closed_by=issue.closed_by,
            locked=issue.locked,
            author_association=issue.author_association,
            sub_issues_summary={
                "total": len(children),
                "completed": completed,
                "percent_completed": completed * 100 // len(children) if children else 0,
            },
            parent_issue_url=(
                f"{self.url}/repos/{parent.repo.owner}/{parent.repo.name}/issues/{parent.number}"
                if parent is not None
                else None
            ),
        )

    def _render_comment(self, comment: _Comment) -> JsonDict:
        issue = comment.issue
        counts: dict[str, int] = {}
        for reaction in comment.reactions:
            counts[reaction.content] = counts.get(reaction.content, 0) + 1
        return comment_object(
            issue.repo.owner,
            issue.repo.name,
            issue.number,
            comment.id,
            body=comment.body,
            user=comment.user,
            api_url=self.url,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            author_association=comment.author_association,
            performed_via_github_app=self.app() if comment.via_app else None,
            reaction_counts=counts,
        )

    def _render_reaction(self, reaction: _Reaction) -> JsonDict:
        return {
            "id": reaction.id,
            "node_id": node_id("REA", reaction.id),
            "user": user_object(reaction.user, api_url=self.url),
            "content": reaction.content,
            "created_at": reaction.created_at,
        }

    # ---- the App's webhook delivery log ------------------------------------------------
    # https://docs.github.com/en/rest/apps/webhooks: GitHub logs every attempt to deliver a
    # webhook to the App's URL. GET /app/hook/deliveries lists the log newest first (App JWT,
    # per_page up to 100, pagination by an opaque `cursor` carried in the Link header's
    # rel="next" and rel="prev" URLs); GET /app/hook/deliveries/{id} adds the url, the request
    # (headers, payload) and the response (headers, payload); POST .../{id}/attempts redelivers
    # (202), which logs a new attempt with the same guid and redelivery: true. State API:
    # ``configure_hook`` (the App's webhook URL and secret), ``send_delivery`` (really POST a
    # signed delivery to that URL and log what happened: connection refused while the bot is
    # down), ``log_delivery`` (log an attempt without sending it), ``hook_deliveries``.

    def _init_hook_log(self) -> None:
        self._hook_url: str | None = None
        self._hook_secret: str | None = None
        self._hook_log: list[JsonDict] = []  # oldest first; each in the single-delivery form
        self._hook_log_ids = itertools.count(12_000_000_001)
        self._hook_sends: set[asyncio.Task[JsonDict]] = set()

    def _add_hook_delivery_routes(self, add: Callable[..., Any]) -> None:
        add("GET", "/app/hook/deliveries", self._list_hook_deliveries)
        add("GET", "/app/hook/deliveries/{delivery_id}", self._get_hook_delivery)
        add("POST", "/app/hook/deliveries/{delivery_id}/attempts", self._redeliver_hook_delivery)

    def configure_hook(self, url: str | None, secret: str | None = None) -> None:
        """Set the App's webhook URL (``None``: none) and the secret deliveries are signed with."""
        with self._lock:
            self._hook_url = url
            self._hook_secret = secret

    def log_delivery(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        action: str | _Unset | None = UNSET,
        status_code: int = 0,
        status: str | None = None,
        guid: str | None = None,
        redelivery: bool = False,
        delivered_at: float | str | None = None,
        duration: float = 0.0,
        response_body: str = "",
    ) -> JsonDict:
        """Log that GitHub tried to deliver ``payload`` and what came of it (nothing is sent);
        return the entry as ``GET /app/hook/deliveries`` lists it.

        ``status_code`` 0 is GitHub's "no HTTP answer" (``status`` then defaults to "failed to
        connect"); 2xx is ``OK``; anything else ``Invalid HTTP Response: N``. ``action``
        defaults to the payload's. ``guid`` (the ``X-GitHub-Delivery``) defaults to a new one.
        """
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        guid = guid or _new_guid()
        with self._lock:
            url, secret = self._hook_url, self._hook_secret
        headers = _hook_request_headers(event, guid, body, secret, self.app_id)
        if isinstance(action, _Unset):
            action = payload.get("action") if isinstance(payload.get("action"), str) else None
        return self._log_attempt(
            event=event,
            action=action,
            payload=json.loads(body),
            guid=guid,
            redelivery=redelivery,
            url=url or "",
            request_headers=headers,
            status_code=status_code,
            status=status,
            delivered_at=delivered_at,
            duration=duration,
            response_headers={"Content-Type": "application/json"} if status_code else {},
            response_body=response_body,
        )

    def send_delivery(
        self, event: str, payload: Mapping[str, Any], *, guid: str | None = None
    ) -> concurrent.futures.Future[JsonDict]:
        """POST a signed delivery to the App's webhook URL as GitHub does (10 s timeout), log
        the attempt and its outcome, and resolve to the logged entry (list form).

        Runs on the stand-in's own loop: from async code ``await asyncio.wrap_future(...)``,
        from sync code ``.result()``.
        """
        if self._loop is None:
            raise RuntimeError("GitHubStandIn is not started")
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        return asyncio.run_coroutine_threadsafe(
            self._send_hook(event, action, body, guid or _new_guid(), redelivery=False),
            self._loop,
        )

    def hook_deliveries(self) -> list[JsonDict]:
        """The delivery log as ``GET /app/hook/deliveries`` lists it, newest first."""
        with self._lock:
            return [_hook_list_item(entry) for entry in reversed(self._hook_log)]

    def _log_attempt(
        self,
        *,
        event: str,
        action: str | None,
        payload: JsonDict,
        guid: str,
        redelivery: bool,
        url: str,
        request_headers: Mapping[str, str],
        status_code: int,
        status: str | None,
        delivered_at: float | str | None,
        duration: float,
        response_headers: Mapping[str, str],
        response_body: str,
    ) -> JsonDict:
        if status is None:
            if 200 <= status_code < 300:
                status = "OK"
            elif status_code == 0:
                status = "failed to connect"
            else:
                status = f"Invalid HTTP Response: {status_code}"
        installation = payload.get("installation")
        repository = payload.get("repository")
        with self._lock:
            entry: JsonDict = {
                "id": next(self._hook_log_ids),
                "guid": guid,
                "delivered_at": timestamp(delivered_at),
                "redelivery": redelivery,
                "duration": round(duration, 2),
                "status": status,
                "status_code": status_code,
                "event": event,
                "action": action,
                "installation_id": installation.get("id")
                if isinstance(installation, dict)
                else None,
                "repository_id": repository.get("id") if isinstance(repository, dict) else None,
                "throttled_at": None,
                "url": url,
                "request": {"headers": dict(request_headers), "payload": payload},
                "response": {"headers": dict(response_headers), "payload": response_body},
            }
            self._hook_log.append(entry)
            return _hook_list_item(entry)

    async def _send_hook(
        self, event: str, action: str | None, body: bytes, guid: str, *, redelivery: bool
    ) -> JsonDict:
        """Deliver ``body`` to the hook URL (on the stand-in's loop) and log the attempt."""
        with self._lock:
            url, secret = self._hook_url, self._hook_secret
        headers = _hook_request_headers(event, guid, body, secret, self.app_id)
        status_code, status, response_headers, response_body = 0, "failed to connect", {}, ""
        started = time.monotonic()
        if url:
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                    session.post(url, data=body, headers=headers) as response,
                ):
                    status_code = response.status
                    status = "OK" if 200 <= status_code < 300 else None
                    response_headers = dict(response.headers)
                    response_body = await response.text(errors="replace")
            except TimeoutError:
                status = "timed out"
            except aiohttp.ClientConnectionError:
                status = "failed to connect"
        return self._log_attempt(
            event=event,
            action=action,
            payload=json.loads(body),
            guid=guid,
            redelivery=redelivery,
            url=url or "",
            request_headers=headers,
            status_code=status_code,
            status=status,
            delivered_at=None,
            duration=time.monotonic() - started,
            response_headers=response_headers,
            response_body=response_body,
        )

    def _hook_entry(self, request: web.Request) -> JsonDict:
        try:
            wanted = int(request.match_info["delivery_id"])
        except ValueError:
            raise ApiError(404) from None
        with self._lock:
            for entry in self._hook_log:
                if entry["id"] == wanted:
                    return entry
        raise ApiError(404)

    async def _list_hook_deliveries(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        query = dict(request.query)
        try:
            per_page = min(100, max(1, int(query.get("per_page", "30"))))
        except ValueError:
            per_page = 30
        with self._lock:
            entries = list(reversed(self._hook_log))
        if "redelivery" in query:
            wanted = query["redelivery"].lower() == "true"
            entries = [entry for entry in entries if entry["redelivery"] is wanted]
        start = 0
        if "cursor" in query:
            # The cursor names the delivery a page starts at; GitHub's own are opaque too.
            match = re.fullmatch(r"v1_(\d+)", query["cursor"])
            ids = [entry["id"] for entry in entries]
            if match is None or int(match[1]) not in ids:
                raise ApiError(400, "Invalid cursor")
            start = ids.index(int(match[1]))
        page = entries[start : start + per_page]

        def link(index: int, rel: str) -> str:
            params = {**query, "per_page": str(per_page), "cursor": f"v1_{entries[index]['id']}"}
            return f'<{self.url}{request.path}?{urlencode(params)}>; rel="{rel}"'

        links = []
        if start + per_page < len(entries):
            links.append(link(start + per_page, "next"))
        if start > 0:
            links.append(link(max(0, start - per_page), "prev"))
        headers = {"Link": ", ".join(links)} if links else None
        return self._json([_hook_list_item(entry) for entry in page], headers=headers)

    async def _get_hook_delivery(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        return self._json(copy.deepcopy(self._hook_entry(request)))

    async def _redeliver_hook_delivery(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        entry = self._hook_entry(request)
        body = json.dumps(
            entry["request"]["payload"], separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        task = asyncio.create_task(
            self._send_hook(entry["event"], entry["action"], body, entry["guid"], redelivery=True)
        )
        self._hook_sends.add(task)
        task.add_done_callback(self._hook_sends.discard)
        return self._json({}, status=202)

    # ---- internals: HTTP ------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=25 * 1024**2)
        add = app.router.add_route
        add("GET", "/app", self._get_app)
        add("GET", "/app/installations", self._list_installations)
        add("GET", "/app/installations/{installation_id}", self._get_installation)
        add("POST", "/app/installations/{installation_id}/access_tokens", self._create_token)
        add("GET", "/installation/repositories", self._list_installation_repositories)
        for prefix in ("/repos/{owner}/{repo}", "/repositories/{repo_id}"):
            add("GET", prefix, self._get_repo)
            add("GET", f"{prefix}/installation", self._get_repo_installation)
            add("GET", f"{prefix}/issues", self._list_issues)
            add("GET", f"{prefix}/issues/comments/{{comment_id}}", self._get_comment)
            add("PATCH", f"{prefix}/issues/comments/{{comment_id}}", self._edit_comment)
            add("DELETE", f"{prefix}/issues/comments/{{comment_id}}", self._delete_comment)
            add("GET", f"{prefix}/issues/comments/{{comment_id}}/reactions", self._list_reactions)
            add("POST", f"{prefix}/issues/comments/{{comment_id}}/reactions", self._add_reaction)
            add("GET", f"{prefix}/issues/{{number}}", self._get_issue)
            add("GET", f"{prefix}/issues/{{number}}/comments", self._list_comments)
            add("POST", f"{prefix}/issues/{{number}}/comments", self._create_comment)
            add("GET", f"{prefix}/issues/{{number}}/sub_issues", self._list_sub_issues)
            add("POST", f"{prefix}/issues/{{number}}/sub_issues", self._post_sub_issue)
            add("DELETE", f"{prefix}/issues/{{number}}/sub_issue", self._delete_sub_issue)
            add("GET", f"{prefix}/issues/{{number}}/parent", self._get_parent)
            add("GET", f"{prefix}/collaborators/{{login}}/permission", self._get_permission)
        self._add_custom_role_routes(add)
        self._add_hook_delivery_routes(add)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        payload: Any = None
        bad_json = False
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                bad_json = True
        request[_JSON_BODY] = payload
        method, path = request.method, request.path
        with self._lock:
            self._calls.append(Call(method, path, dict(request.query), payload))
            self._rate_used += 1
            delay = next((rule for rule in self._delays if rule.take(method, path)), None)
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        with self._lock:
            fault = next((rule for rule in self._faults if rule.take(method, path)), None)
        try:
            if fault is not None:
                raise self._fault_error(fault)
            if bad_json:
                raise ApiError(400, "Problems parsing JSON")
            response = await handler(request)
        except ApiError as exc:
            response = self._error_response(exc)
        except web.HTTPException as exc:  # the router's 404 and 405
            response = self._error_response(ApiError(exc.status))
        for name, value in self._rate_headers().items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("x-github-media-type", "github.v3; format=json")
        response.headers.setdefault("x-github-request-id", secrets.token_hex(8).upper())
        return response

    def _fault_error(self, rule: _Rule) -> ApiError:
        if rule.rate_limit_reset_in is not None:
            reset = math.ceil(time.time() + rule.rate_limit_reset_in)
            return ApiError(
                403,
                f"API rate limit exceeded for installation ID {self.installation_id}. "
                "If you reach out to GitHub Support for help, please include the request "
                "ID.",
                headers={
                    "x-ratelimit-limit": str(self.rate_limit),
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(reset),
                    "x-ratelimit-used": str(self.rate_limit),
                    "x-ratelimit-resource": "core",
                },
            )
        return ApiError(rule.status, headers=rule.headers, body=rule.body)

    def _error_response(self, exc: ApiError) -> web.Response:
        body = exc.body
        if body is None:
            body = {"message": exc.message, "documentation_url": DOCS_URL}
            if exc.errors is not None:
                body["errors"] = exc.errors
            body["status"] = str(exc.status)
        response = self._json(body, status=exc.status)
        response.headers.update(exc.headers)
        return response

    def _rate_headers(self) -> dict[str, str]:
        with self._lock:
            now = time.time()
            if now >= self._rate_reset:
                self._rate_reset = int(now) + 3600
                self._rate_used = 0
            used = self._rate_used
            reset = self._rate_reset
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - used)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
        }

    @staticmethod
    def _json(
        data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        return web.json_response(
            data,
            status=status,
            headers=dict(headers or {}),
            content_type="application/json",
            dumps=json.dumps,
        )

    # auth

    @staticmethod
    def _credentials(request: web.Request) -> tuple[str, str]:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower(), value.strip()

    def _require_jwt(self, request: web.Request) -> None:
        scheme, token = self._credentials(request)
        if scheme != "bearer" or token.count(".") != 2:
            raise ApiError(
                401,
                "A JSON web token could not be decoded",
            )
        try:
            claims = jwt.decode(
                token,
                app_private_key().public_key(),
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"], "verify_iss": False},
                leeway=JWT_LEEWAY,
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the "
                "future time at which the assertion expires",
            ) from None
        except jwt.ImmatureSignatureError:
            raise ApiError(
                401, "'Issued at' claim ('iat') must be an Integer representing the time"
            ) from None
        except jwt.InvalidTokenError:
            raise ApiError(401, "A JSON web token could not be decoded") from None
        if str(claims["iss"]) != str(self.app_id):
            raise ApiError(401, "Integration not found")
        if float(claims["exp"]) > time.time() + MAX_JWT_LIFETIME + JWT_LEEWAY:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")

    def _require_token(self, request: web.Request) -> None:
        scheme, token = self._credentials(request)
        if not token:
            raise ApiError(401, "Requires authentication")
        if scheme not in ("token", "bearer"):
            raise ApiError(401, "Bad credentials")
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or time.time() >= expires:
            raise ApiError(401, "Bad credentials")

    # resolution of path parameters

    def _request_repo(self, request: web.Request) -> _Repo:
        info = request.match_info
        with self._lock:
            if "repo_id" in info:
                try:
                    return self._repos_by_id[int(info["repo_id"])]
                except (KeyError, ValueError):
                    raise ApiError(404) from None
            record = self._repos.get((info["owner"].lower(), info["repo"].lower()))
        if record is None:
            raise ApiError(404)
        return record

    def _request_issue(self, request: web.Request, tail: str = "") -> _Issue:
        """The live issue named by the path, or the GitHub answer for a moved/deleted one."""
        record = self._request_repo(request)
        try:
            number = int(request.match_info["number"])
        except ValueError:
            raise ApiError(404) from None
        with self._lock:
            issue = self._issues.get((record.owner.lower(), record.name.lower(), number))
            if issue is None:
                raise ApiError(404)
            if issue.moved_to is not None:
                target = issue.moved_to
                location = f"{self.url}/repositories/{target.repo.id}/issues/{target.number}{tail}"
                if request.query_string:
                    location += f"?{request.query_string}"
                status = 301 if request.method in ("GET", "HEAD") else 307
                raise ApiError(
                    status, "Moved Permanently", headers={"Location": location}
                ) from None
            if issue.deleted:
                raise ApiError(410, "This issue was deleted")
            return issue

    def _request_comment(self, request: web.Request) -> _Comment:
        record = self._request_repo(request)
        try:
            comment_id = int(request.match_info["comment_id"])
        except ValueError:
            raise ApiError(404) from None
        with self._lock:
            comment = self._comments.get(comment_id)
            if comment is None or comment.deleted or comment.issue.repo is not record:
                raise ApiError(404)
            if comment.issue.deleted:
                raise ApiError(410, "This issue was deleted")
            return comment

    def _paginate(self, request: web.Request, items: Sequence[Any]) -> web.Response:
        """One page of ``items`` with GitHub's ``Link`` header (absolute URLs on the stand-in)."""
        query = dict(request.query)
        try:
            per_page = min(100, max(1, int(query.get("per_page", "30"))))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        last = max(1, math.ceil(len(items) / per_page))
        chunk = list(items[(page - 1) * per_page : page * per_page])

        def link(n: int) -> str:
            params = {**query, "per_page": str(per_page), "page": str(n)}
            return f"{self.url}{request.path}?{urlencode(params)}"

        rels: list[tuple[str, int]] = []
        if page > 1:
            rels.append(("prev", min(page - 1, last)))
        if page < last:
            rels += [("next", page + 1), ("last", last)]
        if page > 1:
            rels.append(("first", 1))
        headers = {"Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels)}
        return self._json(chunk, headers=headers if rels else None)

    # handlers: the app

    async def _get_app(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        return self._json(self.app())

    async def _list_installations(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        return self._paginate(request, [self.installation()])

    async def _get_installation(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        if request.match_info["installation_id"] != str(self.installation_id):
            raise ApiError(404)
        return self._json(self.installation())

    async def _create_token(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        if request.match_info["installation_id"] != str(self.installation_id):
            raise ApiError(404)
        token = "ghs_" + "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(36)
        )
        expires = time.time() + self.token_lifetime
        with self._lock:
            self._tokens[token] = expires
            self._tokens_issued += 1
        return self._json(
            {
                "token": token,
                # Reported to the second, rounded down, so a client never trusts it too long.
                "expires_at": timestamp(math.floor(expires)),
                "permissions": dict(APP_PERMISSIONS),
                "repository_selection": "all",
            },
            status=201,
        )

    async def _list_installation_repositories(self, request: web.Request) -> web.Response:
        self._require_token(request)
        with self._lock:
            repositories = [self._render_repo(record) for record in self._repos.values()]
        return self._json(
            {
                "total_count": len(repositories),
                "repository_selection": "all",
                "repositories": repositories,
            }
        )

    async def _get_repo_installation(self, request: web.Request) -> web.Response:
        self._require_jwt(request)
        self._request_repo(request)
        return self._json(self.installation())

    # handlers: repositories and issues

    async def _get_repo(self, request: web.Request) -> web.Response:
        self._require_token(request)
        record = self._request_repo(request)
        with self._lock:
            return self._json(self._render_repo(record))

    async def _list_issues(self, request: web.Request) -> web.Response:
        self._require_token(request)
        record = self._request_repo(request)
        query = request.query
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _validation_failed("Issue", "state")
        wanted = {name.strip().lower() for name in query.get("labels", "").split(",")}
        wanted.discard("")
        assignee = query.get("assignee")
        creator = query.get("creator")
        since = parse_timestamp(query["since"]) if query.get("since") else None
        sort = query.get("sort", "created")
        descending = query.get("direction", "desc") != "asc"
        with self._lock:
            selected = []
            for issue in self._live_issues(record):
                if state != "all" and issue.state != state:
                    continue
                if not wanted <= {name.lower() for name in issue.labels}:
                    continue
                assigned = {login.lower() for login in issue.assignees}
                if assignee == "none" and assigned:
                    continue
                if assignee == "*" and not assigned:
                    continue
                if assignee not in (None, "none", "*") and assignee.lower() not in assigned:
                    continue
                if creator is not None and issue.user.lower() != creator.lower():
                    continue
                if since is not None and parse_timestamp(issue.updated_at) < since:
                    continue
                selected.append(issue)

            def order(issue: _Issue) -> tuple[Any, ...]:
                if sort == "updated":
                    return (issue.updated_at, issue.number)
                if sort == "comments":
                    return (len(self._comments_of(issue)), issue.number)
                return (issue.created_at, issue.number)

            selected.sort(key=order, reverse=descending)
            rendered = [self._render_issue(issue) for issue in selected]
        return self._paginate(request, rendered)

    async def _get_issue(self, request: web.Request) -> web.Response:
        self._require_token(request)
        issue = self._request_issue(request)
        with self._lock:
            return self._json(self._render_issue(issue))

    # handlers: comments and reactions

    async def _list_comments(self, request: web.Request) -> web.Response:
        self._require_token(request)
        issue = self._request_issue(request, "/comments")
        since = request.query.get("since")
        with self._lock:
            comments = self._comments_of(issue)
            if since:
                limit = parse_timestamp(since)
                comments = [c for c in comments if parse_timestamp(c.updated_at) >= limit]
            rendered = [self._render_comment(c) for c in comments]
        return self._paginate(request, rendered)

    async def _create_comment(self, request: web.Request) -> web.Response:
        self._require_token(request)
        issue = self._request_issue(request, "/comments")
        data = request[_JSON_BODY]
        if not isinstance(data, dict) or "body" not in data:
            raise _validation_failed("IssueComment", "body", "missing_field")
        if not isinstance(data["body"], str) or not data["body"]:
            raise _validation_failed("IssueComment", "body")
        _check_comment_length(data["body"])
        with self._lock:
            if issue.locked:
                raise ApiError(403, "Unable to create comment because issue is locked.")
            comment = self._new_comment(issue, data["body"], self.bot_login, "NONE", via_app=True)
            rendered = self._render_comment(comment)
        return self._json(rendered, status=201, headers={"Location": rendered["url"]})

    async def _get_comment(self, request: web.Request) -> web.Response:
        self._require_token(request)
        comment = self._request_comment(request)
        with self._lock:
            return self._json(self._render_comment(comment))

    async def _edit_comment(self, request: web.Request) -> web.Response:
        self._require_token(request)
        comment = self._request_comment(request)
        data = request[_JSON_BODY]
        if not isinstance(data, dict) or not isinstance(data.get("body"), str):
            raise _validation_failed("IssueComment", "body", "missing_field")
        _check_comment_length(data["body"])
        with self._lock:
            comment.body = data["body"]
            comment.updated_at = timestamp()
            return self._json(self._render_comment(comment))

    async def _delete_comment(self, request: web.Request) -> web.Response:
        self._require_token(request)
        comment = self._request_comment(request)
        with self._lock:
            comment.deleted = True
        return web.Response(status=204)

    async def _list_reactions(self, request: web.Request) -> web.Response:
        self._require_token(request)
        comment = self._request_comment(request)
        content = request.query.get("content")
        with self._lock:
            rendered = [
                self._render_reaction(r)
                for r in comment.reactions
                if content is None or r.content == content
            ]
        return self._paginate(request, rendered)

    async def _add_reaction(self, request: web.Request) -> web.Response:
        self._require_token(request)
        comment = self._request_comment(request)
        data = request[_JSON_BODY]
        content = data.get("content") if isinstance(data, dict) else None
        if content not in REACTION_CONTENTS:
            raise _validation_failed("Reaction", "content")
        with self._lock:
            for reaction in comment.reactions:
                if reaction.user == self.bot_login and reaction.content == content:
                    return self._json(self._render_reaction(reaction), status=200)
            reaction = _Reaction(next(self._reaction_ids), self.bot_login, content, timestamp())
            comment.reactions.append(reaction)
            return self._json(self._render_reaction(reaction), status=201)

    # handlers: permissions

    async def _get_permission(self, request: web.Request) -> web.Response:
        self._require_token(request)
        record = self._request_repo(request)
        login = request.match_info["login"]
        with self._lock:
            known = record.permissions.get(login.lower())
        if known is None:
            if self.non_collaborator_permission is None or record.private:
                raise ApiError(404)
            legacy, role = _ROLES[self.non_collaborator_permission]
            known = (login, legacy, role, self.non_collaborator_permission)
        name, legacy, role, base = known
        user = user_object(name, api_url=self.url)
        # The hash says what the (base) role allows, for custom roles too.
        user["permissions"] = {
            "admin": base == "admin",
            "maintain": base in ("admin", "maintain"),
            "push": base in ("admin", "maintain", "write"),
            "triage": base in ("admin", "maintain", "write", "triage"),
            "pull": base != "none",
        }
        user["role_name"] = role
        return self._json({"permission": legacy, "role_name": role, "user": user})

    # handlers: sub-issues

    async def _list_sub_issues(self, request: web.Request) -> web.Response:
        self._require_token(request)
        parent = self._request_issue(request, "/sub_issues")
        with self._lock:
            rendered = [self._render_issue(child) for child in parent.sub_issues]
        return self._paginate(request, rendered)

    def _sub_issue_from_body(self, request: web.Request) -> _Issue:
        data = request[_JSON_BODY]
        sub_id = data.get("sub_issue_id") if isinstance(data, dict) else None
        if not isinstance(sub_id, int) or isinstance(sub_id, bool):
            raise _validation_failed("Issue", "sub_issue_id", "missing_field")
        with self._lock:
            child = self._issues_by_id.get(sub_id)
        if child is None or child.deleted:
            raise ApiError(404)
        return child

    async def _post_sub_issue(self, request: web.Request) -> web.Response:
        self._require_token(request)
        parent = self._request_issue(request, "/sub_issues")
        child = self._sub_issue_from_body(request)
        data = request[_JSON_BODY]
        replace = isinstance(data, dict) and bool(data.get("replace_parent", False))
        with self._lock:
            self._link_sub_issue(parent, child, replace_parent=replace)
            return self._json(self._render_issue(parent), status=201)

    async def _delete_sub_issue(self, request: web.Request) -> web.Response:
        self._require_token(request)
        parent = self._request_issue(request, "/sub_issue")
        child = self._sub_issue_from_body(request)
        with self._lock:
            if child.parent is not parent:
                raise ApiError(404)
            parent.sub_issues.remove(child)
            child.parent = None
            self._touch(parent)
            return self._json(self._render_issue(parent))

    async def _get_parent(self, request: web.Request) -> web.Response:
        self._require_token(request)
        issue = self._request_issue(request, "/parent")
        with self._lock:
            if issue.parent is None:
                raise ApiError(404)
            return self._json(self._render_issue(issue.parent))

    # ---- custom repository roles -------------------------------------------------------
    # https://docs.github.com/en/rest/orgs/custom-roles: an organization's custom repository
    # roles, each extending a base role (read, triage, write or maintain). Listing them needs
    # the App's "Custom repository roles" (or "Administration") organization permission.

    def _add_custom_role(self, org: str, name: str, base_role: str) -> JsonDict:
        roles = self._custom_roles.setdefault(org.lower(), {})
        if name.lower() not in roles:
            role_id = stable_id("custom-role", org.lower(), name.lower(), base=10_000)
            roles[name.lower()] = {
                "id": role_id,
                "name": name,
                "description": f"{name} (extends {base_role})",
                "base_role": base_role,
                "permissions": [],
                "organization": organization_object(org, api_url=self.url),
                "created_at": FIXED_CREATED_AT,
                "updated_at": FIXED_CREATED_AT,
            }
        return roles[name.lower()]

    def add_custom_role(self, org: str, name: str, base_role: str) -> JsonDict:
        """Define a custom repository role of ``org`` extending ``base_role``."""
        if base_role not in ("read", "triage", "write", "maintain"):
            raise ValueError(f"base_role must be read, triage, write or maintain: {base_role!r}")
        with self._lock:
            return dict(self._add_custom_role(org, name, base_role))

    def _add_custom_role_routes(self, add: Callable[..., Any]) -> None:
        add("GET", "/orgs/{org}/custom-repository-roles", self._list_custom_roles)
        add("GET", "/orgs/{org}/custom-repository-roles/{role_id}", self._get_custom_role)

    def _org_custom_roles(self, request: web.Request) -> list[JsonDict]:
        self._require_token(request)
        if not self.custom_roles_readable:
            raise ApiError(403, "Resource not accessible by integration")
        org = request.match_info["org"].lower()
        with self._lock:
            if org not in self._custom_roles and not any(o == org for o, _ in self._repos):
                raise ApiError(404)
            return [dict(r) for r in self._custom_roles.get(org, {}).values()]

    async def _list_custom_roles(self, request: web.Request) -> web.Response:
        roles = self._org_custom_roles(request)
        return self._json({"total_count": len(roles), "custom_roles": roles})

    async def _get_custom_role(self, request: web.Request) -> web.Response:
        roles = self._org_custom_roles(request)
        for role in roles:
            if str(role["id"]) == request.match_info["role_id"]:
                return self._json(role)
        raise ApiError(404)


# --------------------------------------------------------------------------------------
# The App's webhook delivery log: helpers of the GitHubStandIn section of the same name.

HOOKSHOT_USER_AGENT = "GitHub-Hookshot/8e4d3a7"
HOOK_ID = 498_271_003


def _new_guid() -> str:
    return str(uuid.uuid4())


def _hook_request_headers(
    event: str, guid: str, body: bytes, secret: str | None, app_id: int
) -> dict[str, str]:
    """The headers GitHub sends with a delivery (and shows in its log), signed when it can."""
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT_USER_AGENT,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(HOOK_ID),
        "X-GitHub-Hook-Installation-Target-ID": str(app_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    if secret is not None:
        key = secret.encode("utf-8")
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return headers


def _hook_list_item(entry: Mapping[str, Any]) -> JsonDict:
    """A logged delivery as the list shows it: without url, request and response."""
    return {k: v for k, v in entry.items() if k not in ("url", "request", "response")}
