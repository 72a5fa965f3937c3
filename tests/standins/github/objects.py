"""Shapes of GitHub objects as its REST API and webhooks show them: pure functions.

The shapes the bot's demo needs too (users, labels, repositories, issues, timestamps, ids)
live in :mod:`bot.cli.github_objects` and are re-exported here; this module adds the App,
its installation and issue comments, and the stand-in's defaults. ``html_url`` values point
at https://github.com; API URLs at ``api_url`` (the stand-in's own URL, or
https://api.github.com).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.cli.github_objects import (
    FIXED_CREATED_AT,
    GITHUB_API,
    GITHUB_WEB,
    REACTION_CONTENTS,
    JsonDict,
    issue_object,
    label_object,
    node_id,
    organization_object,
    parse_timestamp,
    reactions_summary,
    repository_object,
    stable_id,
    timestamp,
    user_object,
)
from tests.constants import OWNER

__all__ = [
    "APP_EVENTS",
    "APP_NAME",
    "APP_PERMISSIONS",
    "DEFAULT_ACCOUNT",
    "DEFAULT_APP_ID",
    "DEFAULT_APP_SLUG",
    "DEFAULT_INSTALLATION_ID",
    "DEFAULT_RATE_LIMIT",
    "DOCS_URL",
    "FIXED_CREATED_AT",
    "GITHUB_API",
    "GITHUB_WEB",
    "REACTION_CONTENTS",
    "JsonDict",
    "app_object",
    "comment_object",
    "installation_object",
    "issue_object",
    "label_object",
    "node_id",
    "organization_object",
    "parse_timestamp",
    "reactions_summary",
    "repository_object",
    "stable_id",
    "timestamp",
    "user_object",
]

DOCS_URL = "https://docs.github.com/rest"
DEFAULT_APP_ID = 271828
DEFAULT_INSTALLATION_ID = 31415926
DEFAULT_APP_SLUG = "deliverables-bot"
DEFAULT_ACCOUNT = OWNER
DEFAULT_RATE_LIMIT = 15000
APP_NAME = "Deliverables Bot"
APP_PERMISSIONS: Mapping[str, str] = {"issues": "write", "metadata": "read"}
APP_EVENTS: tuple[str, ...] = ("issues", "issue_comment", "sub_issues")


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
