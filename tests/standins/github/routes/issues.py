"""Routes of repositories and issues: a repository, its issues listed and one issue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.standins.github.answers import json_response, paginate, validation_failed
from tests.standins.github.objects import parse_timestamp
from tests.standins.github.routes.route import Route
from tests.standins.github.state import Issue

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


REPO_ROUTES = [
    Route("GET", "", get_repo),
    Route("GET", "/issues", list_issues),
    Route("GET", "/issues/{number}", get_issue),
]
