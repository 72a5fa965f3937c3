"""GitHub's objects as its REST API and webhook payloads show them: pure functions.

Users, organizations, labels, repositories and issues with every field GitHub's webhook
schemas require, ids derived from names (so a name always gets the same id), URLs under
``api_url`` and ``html_url`` values on https://github.com. The demo's deliveries are built
from them (:mod:`bot.cli.demo_events`), and so are the tests'.
"""

from __future__ import annotations

import datetime as dt
import string
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

JsonDict = dict[str, Any]

GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"
FIXED_CREATED_AT = "2024-01-15T09:00:00Z"
REACTION_CONTENTS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


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
