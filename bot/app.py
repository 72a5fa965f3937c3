"""Composition: build the bot's aiohttp application from a :class:`Config`.

``make_app`` wires journal → worker → reconciler → Airtable lanes and GitHub, and mounts
the HTTP routes. One ``aiohttp.ClientSession`` is opened for the process in a cleanup
context, and the worker starts and stops with the application.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from pyairtable import Api

from bot.clients.airtable import Lanes
from bot.clients.github import AppGitHub, GitHubGateway, LoggingGitHub
from bot.clients.reads import github_session
from bot.config import Config
from bot.handlers import make_router
from bot.intake.journal import Journal
from bot.intake.recovery import start_recovery
from bot.intake.server import MAX_BODY_BYTES, add_routes
from bot.intake.worker import Worker
from bot.metrics import Metrics
from bot.sync.link import ProgressComments
from bot.sync.reconcile import Reconciler
from bot.sync.renewal import RenewalSignal
from bot.sync.sweep import Syncer, run_schedule

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived parts of a running bot, reachable for tests and the CLI."""

    config: Config
    journal: Journal
    metrics: Metrics
    lanes: Lanes
    worker: Worker
    github: GitHubGateway | None = None
    reconciler: Reconciler | None = None


SERVICES_KEY = web.AppKey("services", Services)


def make_app(
    config: Config,
    *,
    secret: str,
    api_factory: Callable[[], Api] | None = None,
    github_factory: Callable[[aiohttp.ClientSession], GitHubGateway] | None = None,
) -> web.Application:
    """The bot as an aiohttp application; the worker runs while the application does."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(config.journal_path)
    metrics = Metrics()
    lanes = Lanes(config, metrics=metrics, api_factory=api_factory)
    worker = Worker(config, journal=journal, router=make_router(), dependencies={}, metrics=metrics)
    services = Services(config, journal, metrics, lanes, worker)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICES_KEY] = services
    add_routes(app, journal=journal, worker=worker, metrics=metrics, secret=secret)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with github_session(config) as session:
            github: GitHubGateway
            if github_factory is not None:
                github = github_factory(session)
            elif config.has_github_app:
                github = AppGitHub(session, config, metrics=metrics)
            else:
                log.info("no GitHub App credentials: GitHub writes will be logged, not sent")
                github = LoggingGitHub()
            reconciler = Reconciler(
                config, lanes=lanes, github=github, journal=journal, metrics=metrics
            )
            reconciler.project_listeners.append(ProgressComments(config, github))
            renewal = RenewalSignal(config)
            reconciler.project_listeners.append(renewal.on_project_update)
            schedule = _start_schedule(config, lanes, github, reconciler, renewal)
            services.github = github
            services.reconciler = reconciler
            worker.dependencies.update(reconciler=reconciler, github=github, config=config)
            worker.bot_login = await github.bot_login()
            await worker.start()
            recovery = start_recovery(
                config, github, journal=journal, worker=worker, metrics=metrics
            )
            try:
                yield
            finally:
                if recovery is not None:
                    recovery.cancel()
                    await asyncio.gather(recovery, return_exceptions=True)
                if schedule is not None:
                    schedule.cancel()
                    await asyncio.gather(schedule, return_exceptions=True)
                await worker.stop()
                await lanes.close()
        journal.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def _start_schedule(
    config: Config,
    lanes: Lanes,
    github: GitHubGateway,
    reconciler: Reconciler,
    renewal: RenewalSignal,
) -> asyncio.Task[None] | None:
    """Start the drift-repairing sync every ``schedule.sync_interval_hours`` (0: none)."""
    hours = config.schedule.sync_interval_hours
    if hours <= 0:
        return None
    syncer = Syncer(
        config, lane_for=lanes.for_base, github=github, reconciler=reconciler, renewal=renewal
    )
    return asyncio.create_task(
        run_schedule(syncer, hours, can_read=github.can_read), name="scheduled-sync"
    )
