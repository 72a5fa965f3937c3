"""Routes of permissions: a collaborator's permission, an organization's custom roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from tests.standins.github.answers import ApiError, json_response
from tests.standins.github.routes.route import Route

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn


async def get_permission(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /repos/{owner}/{repo}/collaborators/{login}/permission``."""
    record = gh.request_repo(request)
    return json_response(gh.permission_answer(record, request.match_info["login"]))


async def list_custom_roles(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /orgs/{org}/custom-repository-roles``."""
    roles = gh.org_custom_roles(request.match_info["org"])
    return json_response({"total_count": len(roles), "custom_roles": roles})


async def get_custom_role(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /orgs/{org}/custom-repository-roles/{role_id}``."""
    for role in gh.org_custom_roles(request.match_info["org"]):
        if str(role["id"]) == request.match_info["role_id"]:
            return json_response(role)
    raise ApiError(404)


ROUTES = [
    Route("GET", "/orgs/{org}/custom-repository-roles", list_custom_roles),
    Route("GET", "/orgs/{org}/custom-repository-roles/{role_id}", get_custom_role),
]
REPO_ROUTES = [Route("GET", "/collaborators/{login}/permission", get_permission)]
