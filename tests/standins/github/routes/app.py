"""Routes of the App itself: the App, its installation and the installation's tokens."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aiohttp import web

from tests.standins.github.answers import ApiError, json_response, paginate
from tests.standins.github.objects import APP_PERMISSIONS, timestamp
from tests.standins.github.routes.route import Route

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn


def _check_installation(gh: GitHubStandIn, request: web.Request) -> None:
    if request.match_info["installation_id"] != str(gh.installation_id):
        raise ApiError(404)


async def get_app(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /app``."""
    return json_response(gh.app())


async def list_installations(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /app/installations``: the one installation."""
    return paginate(gh.url, request, [gh.installation()])


async def get_installation(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /app/installations/{installation_id}``."""
    _check_installation(gh, request)
    return json_response(gh.installation())


async def create_token(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST /app/installations/{installation_id}/access_tokens``: a new installation token."""
    _check_installation(gh, request)
    token, expires = gh.mint_token()
    return json_response(
        {
            "token": token,
            # Reported to the second, rounded down, so a client never trusts it too long.
            "expires_at": timestamp(math.floor(expires)),
            "permissions": dict(APP_PERMISSIONS),
            "repository_selection": "all",
        },
        status=201,
    )


async def list_installation_repositories(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /installation/repositories``: every repository the stand-in knows."""
    with gh.lock:
        repositories = [gh.render_repo(record) for record in gh.repo_records()]
    return json_response(
        {
            "total_count": len(repositories),
            "repository_selection": "all",
            "repositories": repositories,
        }
    )


async def get_repo_installation(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /repos/{owner}/{repo}/installation``."""
    gh.request_repo(request)
    return json_response(gh.installation())


ROUTES = [
    Route("GET", "/app", get_app, "jwt"),
    Route("GET", "/app/installations", list_installations, "jwt"),
    Route("GET", "/app/installations/{installation_id}", get_installation, "jwt"),
    Route("POST", "/app/installations/{installation_id}/access_tokens", create_token, "jwt"),
    Route("GET", "/installation/repositories", list_installation_repositories),
]
REPO_ROUTES = [Route("GET", "/installation", get_repo_installation, "jwt")]
