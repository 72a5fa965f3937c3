"""A route of the stand-in: method, path, handler and the credential it needs.

Handlers are plain functions of the stand-in and the request; the stand-in checks the
credential (``auth``: "token" for an installation token, "jwt" for an App JWT) before it
calls one, so no handler repeats the check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from aiohttp import web

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn

Handler = Callable[["GitHubStandIn", web.Request], Awaitable[web.StreamResponse]]
REPO_PREFIXES = ("/repos/{owner}/{repo}", "/repositories/{repo_id}")


class Route(NamedTuple):
    """One route; a path of a ``REPO_ROUTES`` table is relative to the repository's."""

    method: str
    path: str
    handler: Handler
    auth: str = "token"


def under_repositories(routes: list[Route]) -> list[Route]:
    """The routes under both addresses of a repository (by name and by id), GitHub's two."""
    return [
        route._replace(path=prefix + route.path) for prefix in REPO_PREFIXES for route in routes
    ]
