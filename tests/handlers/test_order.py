"""The order of a delivery's handlers: ``HANDLERS`` declares it, the combined router keeps it,
and the worker runs them so — a module's name plays no part."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gidgethub import sansio
from gidgethub.routing import Router

from bot.handlers import HANDLERS, DeclaredOrder, issues, labels, make_router
from tests.bot_fixtures import StartBot
from tests.constants import DEMO_PROJECT, OWNER, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event


def event(name: str, action: str) -> sansio.Event:
    """An event as the worker hands it to the router."""
    return sansio.Event({"action": action}, event=name, delivery_id="d-1")


def test_handlers_are_declared_in_this_order() -> None:
    # Renaming or reordering a handler module changes what runs first: say so here too.
    assert [handler.__name__ for handler in HANDLERS] == [
        "bot.handlers.issues",
        "bot.handlers.labels",
        "bot.handlers.comments",
        "bot.handlers.sub_issues",
        "bot.handlers.airtable",
    ]


@pytest.mark.parametrize(
    ("action", "second"),
    [("labeled", labels.project_label_added), ("unlabeled", labels.project_label_removed)],
)
def test_a_label_event_reconciles_before_it_links(action: str, second: Any) -> None:
    assert list(make_router().fetch(event("issues", action))) == [issues.issue_changed, second]


def test_the_declared_order_wins_over_names() -> None:
    async def zeta(event: sansio.Event, **_: Any) -> None:
        """Registered first; sorts last by name."""

    async def alpha(event: sansio.Event, **_: Any) -> None:
        """Registered second; sorts first by name."""

    first, second = Router(), Router()
    first.add(zeta, "issues")
    second.add(alpha, "issues", action="opened")
    opened = event("issues", "opened")
    assert list(DeclaredOrder(first, second).fetch(opened)) == [zeta, alpha]
    assert list(DeclaredOrder(second, first).fetch(opened)) == [alpha, zeta]
    # The same callbacks as gidgethub's own router finds, only ordered.
    assert DeclaredOrder(first, second).fetch(opened) == Router(first, second).fetch(opened)
    assert list(DeclaredOrder(first, second).fetch(event("issues", "closed"))) == [zeta]


async def test_the_worker_runs_a_label_delivery_reconcile_first(
    start_bot: StartBot, github: GitHubStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    label = f"project: {DEMO_PROJECT}"
    issue = github.add_issue(OWNER, REPO, 4, title="Write the docs", labels=[label])
    bot = await start_bot(github=github)
    with caplog.at_level(logging.INFO):
        response = await bot.deliver("issues", issues_event("labeled", issue, label=label))
        assert response.status == 202
        await bot.drain()
    said = [r.getMessage() for r in caplog.records]
    reconciled = next(i for i, m in enumerate(said) if "issues.labeled" in m and "#4 →" in m)
    linked = next(i for i, m in enumerate(said) if "#4: deliverable" in m and "linked" in m)
    assert reconciled < linked
    assert bot.deliverable(4)["Name"] == "Write the docs"
