"""The stand-in's routes, by area; :data:`ROUTES` is every one, in the order they are added."""

from __future__ import annotations

from tests.standins.github.routes import (
    app,
    comments,
    deliveries,
    issues,
    manifests,
    roles,
    sub_issues,
)
from tests.standins.github.routes.route import Handler, Route, under_repositories

ROUTES: list[Route] = [
    *app.ROUTES,
    *under_repositories(
        [
            *issues.REPO_ROUTES,
            *app.REPO_ROUTES,
            *comments.REPO_ROUTES,
            *sub_issues.REPO_ROUTES,
            *roles.REPO_ROUTES,
        ]
    ),
    *roles.ROUTES,
    *deliveries.ROUTES,
    *manifests.ROUTES,
]

__all__ = ["ROUTES", "Handler", "Route"]
