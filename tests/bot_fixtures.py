"""Pytest fixtures for the bot itself: the real aiohttp app on 127.0.0.1, wired to the
embedded Airtable and (optionally) the GitHub stand-in, with fast retry settings.

Loaded as a plugin from ``tests/conftest.py``. ``start_bot(github=...)`` gives a
:class:`RunningBot` that posts signed deliveries and reads records back through the real
pyairtable client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pyairtable.formulas import match

from bot.airtable_local.thread import LocalAirtable
from bot.app import SERVICES_KEY, Services, make_app
from bot.config import AirtableSettings, Config, WorkerSettings
from bot.intake.server import HANDLER_ARGS
from tests.constants import DELIVERABLES, DEMO_PROJECT, OWNER, PROJECTS, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import post_delivery


def issue_url(number: int, owner: str = OWNER, repo: str = REPO) -> str:
    """The GitHub URL of an issue, as deliverable records hold it."""
    return f"https://github.com/{owner}/{repo}/issues/{number}"


@dataclasses.dataclass
class RunningBot:
    """A started bot and what a test needs to talk to it and look at its effects."""

    services: Services
    server: TestServer
    session: aiohttp.ClientSession
    airtable: LocalAirtable
    secret: str

    @property
    def webhook_url(self) -> str:
        """Where deliveries go."""
        return str(self.server.make_url("/webhook"))

    def url(self, path: str) -> str:
        """An absolute URL on the bot's server."""
        return str(self.server.make_url(path))

    async def deliver(
        self, event: str, payload: dict[str, Any], *, delivery_id: str | None = None
    ) -> aiohttp.ClientResponse:
        """Post one signed delivery."""
        return await post_delivery(
            self.session,
            self.webhook_url,
            event,
            payload,
            secret=self.secret,
            delivery_id=delivery_id,
        )

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until the worker has nothing pending or running."""
        await self.services.worker.drain(timeout)

    def deliverable(self, number: int, **kwargs: Any) -> dict[str, Any]:
        """The fields of the deliverable linked to an issue (read through pyairtable)."""
        url = issue_url(number, **kwargs)
        records = self.airtable.table(DELIVERABLES).all(formula=match({"GitHub Issue": url}))
        assert len(records) == 1, f"expected one deliverable for {url}, found {records}"
        return dict(records[0]["fields"])

    def project(self, name: str = DEMO_PROJECT) -> dict[str, Any]:
        """The fields of a Project by name."""
        records = self.airtable.table(PROJECTS).all(formula=match({"Name": name}))
        assert len(records) == 1
        return dict(records[0]["fields"])


def bot_config(
    data_dir: Path, airtable: LocalAirtable, secret: str, github: GitHubStandIn | None
) -> Config:
    """A configuration for tests: the local servers, fast retries, a generous lane."""
    config = Config(
        data_dir=data_dir,
        github_webhook_secret=secret,
        airtable_token=airtable.token,
        airtable_base_id=airtable.base_id,
        airtable_endpoint_url=airtable.url,
        airtable=AirtableSettings(
            requests_per_second=100, penalty_seconds=0.3, batch_wait_seconds=0.01
        ),
        worker=WorkerSettings(max_attempts=4, base_delay_seconds=0.05, max_delay_seconds=0.3),
    )
    if github is not None:
        config = dataclasses.replace(
            config,
            github_api_url=github.url,
            github_app_id=str(github.app_id),
            github_private_key=github.private_key_pem,
        )
    return config


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(
    tmp_path: Path, local_airtable: LocalAirtable, webhook_secret: str
) -> AsyncIterator[StartBot]:
    """Start the bot: ``await start_bot(github=stand_in_or_None, port=None,
    **config_overrides)`` (``port``: a fixed one, when the configuration must name it)."""
    started: list[tuple[TestServer, aiohttp.ClientSession]] = []

    async def start(
        github: GitHubStandIn | None = None, port: int | None = None, **overrides: Any
    ) -> RunningBot:
        config = bot_config(tmp_path / "data", local_airtable, webhook_secret, github)
        config = dataclasses.replace(config, **overrides)
        app = make_app(config, secret=webhook_secret)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server(**HANDLER_ARGS)
        session = aiohttp.ClientSession()
        started.append((server, session))
        return RunningBot(app[SERVICES_KEY], server, session, local_airtable, webhook_secret)

    yield start
    for server, session in reversed(started):
        await session.close()
        await server.close()
