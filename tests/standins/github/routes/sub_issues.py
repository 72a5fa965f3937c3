"""Routes of sub-issues: list, add, remove, and an issue's parent.

``POST .../sub_issues`` and ``DELETE .../sub_issue`` answer with the parent issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from tests.standins.github.answers import JSON_BODY, ApiError, json_response, paginate
from tests.standins.github.routes.route import Route

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn


async def list_sub_issues(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET .../issues/{number}/sub_issues``, in the order they were added."""
    parent = gh.request_issue(request, "/sub_issues")
    with gh.lock:
        rendered = [gh.render_issue(child) for child in parent.sub_issues]
    return paginate(gh.url, request, rendered)


async def add_sub_issue(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST .../issues/{number}/sub_issues`` (``replace_parent`` moves one from another)."""
    parent = gh.request_issue(request, "/sub_issues")
    child = gh.request_sub_issue(request)
    data = request[JSON_BODY]
    replace = isinstance(data, dict) and bool(data.get("replace_parent", False))
    with gh.lock:
        gh.link_sub_issue(parent, child, replace_parent=replace)
        return json_response(gh.render_issue(parent), status=201)


async def remove_sub_issue(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``DELETE .../issues/{number}/sub_issue``."""
    parent = gh.request_issue(request, "/sub_issue")
    child = gh.request_sub_issue(request)
    with gh.lock:
        if child.parent is not parent:
            raise ApiError(404)
        gh.unlink_sub_issue(parent, child)
        return json_response(gh.render_issue(parent))


async def get_parent(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET .../issues/{number}/parent``: 404 for an issue without one."""
    issue = gh.request_issue(request, "/parent")
    with gh.lock:
        if issue.parent is None:
            raise ApiError(404)
        return json_response(gh.render_issue(issue.parent))


REPO_ROUTES = [
    Route("GET", "/issues/{number}/sub_issues", list_sub_issues),
    Route("POST", "/issues/{number}/sub_issues", add_sub_issue),
    Route("DELETE", "/issues/{number}/sub_issue", remove_sub_issue),
    Route("GET", "/issues/{number}/parent", get_parent),
]
