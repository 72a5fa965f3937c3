"""Routes of repositories and issues: a repository, its issues listed, opened, read and edited.

``POST .../issues`` opens an issue as the authenticated user: every token the stand-in mints
is an installation token, so that is the App's bot user (``slug[bot]``), as on GitHub. Its
checks are GitHub's: a title is required (at most 256 characters), a body at most 65536
characters, labels and assignees lists of names; anything else is 422.
``PATCH .../issues/{number}`` changes title, body, state, state reason, labels and
assignees; closing sets ``closed_by`` to the bot user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.standins.github.answers import (
    JSON_BODY,
    MAX_COMMENT_LENGTH,
    json_response,
    paginate,
    validation_failed,
)
from tests.standins.github.objects import parse_timestamp
from tests.standins.github.routes.route import Route
from tests.standins.github.state import UNSET, Issue

# GitHub refuses an issue title longer than this (422).
MAX_TITLE_LENGTH = 256
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tests.standins.github.standin import GitHubStandIn


async def get_repo(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /repos/{owner}/{repo}``."""
    record = gh.request_repo(request)
    with gh.lock:
        return json_response(gh.render_repo(record))


def _issue_filter(query: Mapping[str, str]) -> Any:
    """The test ``GET .../issues`` applies to each issue for its query (``state`` checked)."""
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation_failed("Issue", "state")
    wanted = {name.strip().lower() for name in query.get("labels", "").split(",")}
    wanted.discard("")
    assignee = query.get("assignee")
    creator = query.get("creator")
    since = parse_timestamp(query["since"]) if query.get("since") else None

    def keep(issue: Issue) -> bool:
        if state != "all" and issue.state != state:
            return False
        if not wanted <= {name.lower() for name in issue.labels}:
            return False
        assigned = {login.lower() for login in issue.assignees}
        if assignee == "none" and assigned:
            return False
        if assignee == "*" and not assigned:
            return False
        if assignee not in (None, "none", "*") and assignee.lower() not in assigned:
            return False
        if creator is not None and issue.user.lower() != creator.lower():
            return False
        return since is None or parse_timestamp(issue.updated_at) >= since

    return keep


async def list_issues(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /repos/{owner}/{repo}/issues``: filtered by state, labels, assignee, creator and
    since; sorted by created, updated or comments."""
    record = gh.request_repo(request)
    keep = _issue_filter(request.query)
    sort = request.query.get("sort", "created")
    descending = request.query.get("direction", "desc") != "asc"
    with gh.lock:
        selected = [issue for issue in gh.live_issues(record) if keep(issue)]

        def order(issue: Issue) -> tuple[Any, ...]:
            if sort == "updated":
                return (issue.updated_at, issue.number)
            if sort == "comments":
                return (len(gh.comments_of(issue)), issue.number)
            return (issue.created_at, issue.number)

        selected.sort(key=order, reverse=descending)
        rendered = [gh.render_issue(issue) for issue in selected]
    return paginate(gh.url, request, rendered)


async def get_issue(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /repos/{owner}/{repo}/issues/{number}``."""
    issue = gh.request_issue(request)
    with gh.lock:
        return json_response(gh.render_issue(issue))


def _names(data: Mapping[str, Any], key: str) -> list[str] | Any:
    """``data[key]`` as a list of names (UNSET when absent); 422 for anything else."""
    if key not in data:
        return UNSET
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_failed("Issue", key)
    return list(value)


def _text_fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Title and body of a request body, checked as GitHub checks them."""
    fields: dict[str, Any] = {}
    if "title" in data or creating:
        title = data.get("title")
        if title is None and creating:
            raise validation_failed("Issue", "title", "missing_field")
        if isinstance(title, int | float) and not isinstance(title, bool):
            title = str(title)  # GitHub takes a number as the title's text
        if not isinstance(title, str) or not title.strip():
            raise validation_failed("Issue", "title")
        if len(title) > MAX_TITLE_LENGTH:
            raise validation_failed(
                "Issue", "title", "custom", f"title is too long (maximum is {MAX_TITLE_LENGTH})"
            )
        fields["title"] = title
    if "body" in data:
        body = data["body"]
        if body is not None and not isinstance(body, str):
            raise validation_failed("Issue", "body")
        if body is not None and len(body) > MAX_COMMENT_LENGTH:
            raise validation_failed(
                "Issue",
                "body",
                "custom",
                f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)",
            )
        fields["body"] = body
    return fields


async def create_issue(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST /repos/{owner}/{repo}/issues``: 201 with the issue, opened by the bot user."""
    record = gh.request_repo(request)
    data = request[JSON_BODY]
    if not isinstance(data, dict):
        raise validation_failed("Issue", "title", "missing_field")
    fields = _text_fields(data, creating=True)
    labels = _names(data, "labels")
    assignees = _names(data, "assignees")
    issue = gh.add_issue(
        record.owner,
        record.name,
        title=fields["title"],
        body=fields.get("body"),
        labels=() if labels is UNSET else labels,
        assignees=() if assignees is UNSET else assignees,
        user=gh.bot_login,
        author_association="NONE",
    )
    return json_response(issue, status=201, headers={"Location": issue["url"]})


async def edit_issue(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``PATCH /repos/{owner}/{repo}/issues/{number}``: the issue after the change."""
    issue = gh.request_issue(request)
    data = request[JSON_BODY]
    if not isinstance(data, dict):
        raise validation_failed("Issue", "body")
    changes: dict[str, Any] = _text_fields(data, creating=False)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise validation_failed("Issue", "state")
        changes["state"] = data["state"]
        if data["state"] == "closed" and issue.state != "closed":
            changes["closed_by"] = gh.bot_login
    if "state_reason" in data:
        if data["state_reason"] is not None and data["state_reason"] not in STATE_REASONS:
            raise validation_failed("Issue", "state_reason")
        changes["state_reason"] = data["state_reason"]
    for key in ("labels", "assignees"):
        names = _names(data, key)
        if names is not UNSET:
            changes[key] = names
    return json_response(
        gh.update_issue(issue.repo.owner, issue.repo.name, issue.number, **changes)
    )


REPO_ROUTES = [
    Route("GET", "", get_repo),
    Route("GET", "/issues", list_issues),
    Route("POST", "/issues", create_issue),
    Route("GET", "/issues/{number}", get_issue),
    Route("PATCH", "/issues/{number}", edit_issue),
]
