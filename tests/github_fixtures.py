"""Pytest fixtures for the GitHub side: a started stand-in seeded with the demo issues.

Loaded as a plugin from ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.constants import OWNER, REPO, WEBHOOK_SECRET
from tests.standins.github import GitHubStandIn

# The issues behind the demo base's deliverables (README: Quick start).
DEMO_ISSUES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "Deploy the hub", ("alice",)),
    (2, "Configure login", ("bob",)),
    (3, "Load workshop materials", ()),
)


def seed_demo_issues(gh: GitHubStandIn) -> None:
    """Create example-org/infrastructure#1..3, the issues of the demo base's deliverables."""
    for number, title, assignees in DEMO_ISSUES:
        gh.add_issue(OWNER, REPO, number, title=title, assignees=assignees)


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    """A started GitHub stand-in with the demo issues (#1 and #2 assigned, #3 not)."""
    with GitHubStandIn() as gh:
        seed_demo_issues(gh)
        yield gh


@pytest.fixture
def webhook_secret() -> str:
    """The secret deliveries are signed with in tests."""
    return WEBHOOK_SECRET


@pytest.fixture
def github_env(
    github: GitHubStandIn, webhook_secret: str, monkeypatch: pytest.MonkeyPatch
) -> GitHubStandIn:
    """The ``github`` stand-in, with the bot's GitHub environment variables pointing at it."""
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_APP_ID", str(github.app_id))
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", github.private_key_pem)
    monkeypatch.delenv("GITHUB_PRIVATE_KEY_PATH", raising=False)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", webhook_secret)
    return github
