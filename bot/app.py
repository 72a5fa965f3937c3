"""The composition root: everything the bot is made of is built here, for ``serve`` and for
the operator commands.

- :func:`make_app`: ``serve``'s aiohttp application — journal → worker → handlers →
  reconcile → Airtable lanes and GitHub, the HTTP routes, the recovery and the scheduled
  sync. One ``aiohttp.ClientSession`` is opened for the process in a cleanup context, and
  the worker starts and stops with the application.
- :func:`open_runtime`: the lanes and the GitHub gateway of one command (check, sync, audit,
  report).
- :func:`shared_lanes`: the Airtable lanes of ``serve`` and of every command, drawing on one
  request budget per base kept in the data folder, so that all of them together stay
  within the configured rate.
- :func:`build_engine`: the reconcile with every Project listener, the one :class:`Linker`
  the handlers are handed, the renewal signal and the :class:`Syncer` — wired once, for
  ``serve`` and for :func:`sync_command` alike.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from pyairtable import Api

from bot.clients.airtable import Lanes, budget_horizon
from bot.clients.github import AppGitHub, GitHubGateway
from bot.clients.github_logging import LoggingGitHub
from bot.clients.request_budget import PostgresBudget, RequestBudget, SharedBudget
from bot.config import Config
from bot.handlers import make_router
from bot.intake.airtable_hook import HookKeeper, followed_bases
from bot.intake.airtable_ping import add_airtable_route
from bot.intake.journal import Journal
from bot.intake.journal_schema import inspect_postgres
from bot.intake.recovery import start_recovery
from bot.intake.server import MAX_BODY_BYTES, add_routes, metrics_app
from bot.intake.worker import Worker
from bot.metrics import Metrics
from bot.storage.database import STORE_ERRORS, Database, PostgresDatabase
from bot.storage.locks import Leadership, SharedLocks
from bot.sync.airtable_follow import AirtableFollower, BaseFacts
from bot.sync.issue_opener import IssueOpener
from bot.sync.link import Linker
from bot.sync.progress_comment import ProgressComments
from bot.sync.reconcile import Reconciler, Watermarks
from bot.sync.renewal import RenewalSignal
from bot.sync.sweep import Syncer, run_schedule
from bot.sync.sweep_report import NEEDS_GITHUB, Meter, print_report

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """The reconcile and what is built around it, wired once (:func:`build_engine`)."""

    reconciler: Reconciler
    linker: Linker
    renewal: RenewalSignal
    syncer: Syncer

    def handler_dependencies(self, config: Config, github: GitHubGateway) -> dict[str, Any]:
        """What every handler is handed (the worker's dispatch keyword arguments)."""
        return {
            "config": config,
            "github": github,
            "reconciler": self.reconciler,
            "linker": self.linker,
        }


def build_engine(
    config: Config,
    *,
    lanes: Lanes,
    github: GitHubGateway,
    metrics: Metrics,
    watermarks: Watermarks,
    locks: SharedLocks | None = None,
) -> Engine:
    """The reconciler with every Project listener registered, the Linker, the renewal
    signal and the Syncer; the one wiring of ``serve`` and of the ``sync`` command. *locks*
    hold across replicas (PostgreSQL); None: this process's own locks only."""
    reconciler = Reconciler(
        config, lanes=lanes, github=github, watermarks=watermarks, metrics=metrics, locks=locks
    )
    renewal = RenewalSignal(config, locks=locks)
    # Told, in this order, of every decision about a Project.
    reconciler.project_listeners.extend(
        [ProgressComments(config, github), renewal.on_project_update]
    )
    linker = Linker(config, lanes=lanes, reconciler=reconciler, github=github)
    syncer = Syncer(
        config, lane_for=lanes.for_base, github=github, reconciler=reconciler, renewal=renewal
    )
    return Engine(reconciler, linker, renewal, syncer)


@dataclass
class Services:
    """The long-lived parts of a running bot, reachable for tests and the CLI."""

    config: Config
    journal: Journal
    metrics: Metrics
    lanes: Lanes
    worker: Worker
    github: GitHubGateway | None = None
    engine: Engine | None = None
    hook_keeper: HookKeeper | None = None  # with [airtable_to_github] enabled
    # Across replicas on PostgreSQL; no-ops (and always the leader) on SQLite.
    locks: SharedLocks = field(default_factory=lambda: SharedLocks(None))
    leadership: Leadership = field(default_factory=lambda: Leadership(None))

    @property
    def reconciler(self) -> Reconciler | None:
        """The reconciler, once the application has started."""
        return self.engine.reconciler if self.engine is not None else None


SERVICES_KEY = web.AppKey("services", Services)


def github_session(config: Config) -> aiohttp.ClientSession:
    """The HTTP session for GitHub calls, with ``[github]``'s connect and total timeouts, so
    no call waits for ever on a server that accepts the connection and never answers."""
    settings = config.github
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=settings.timeout_seconds,
            connect=settings.connect_timeout_seconds,
            sock_connect=settings.connect_timeout_seconds,
        )
    )


def _github(session: aiohttp.ClientSession, config: Config, metrics: Metrics) -> GitHubGateway:
    """The App's gateway with credentials; without, one that logs its writes instead."""
    if config.has_github_app:
        return AppGitHub(session, config, metrics=metrics)
    return LoggingGitHub()


def make_app(
    config: Config,
    *,
    secret: str,
    api_factory: Callable[[], Api] | None = None,
    github_factory: Callable[[aiohttp.ClientSession], GitHubGateway] | None = None,
) -> web.Application:
    """The bot as an aiohttp application; the worker runs while the application does."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(config.journal_location, lease_seconds=config.worker.lease_seconds)
    metrics = Metrics()
    lanes = shared_lanes(
        config,
        metrics,
        api_factory=api_factory,
        database=journal.database if journal.is_shared else None,
    )
    worker = Worker(config, journal=journal, router=make_router(), dependencies={}, metrics=metrics)
    services = Services(config, journal, metrics, lanes, worker)
    if isinstance(journal.database, PostgresDatabase):
        services.locks = SharedLocks(
            journal.database.url,
            journal.database.schema,
            replica=journal.replica,
            count=journal.database.count_round_trip,
        )
        services.leadership = Leadership(journal.database.url, journal.database.schema)
        log.info(
            "keeping the bot's state in PostgreSQL at %s as replica %s (lease %.0f s)",
            journal.description, journal.replica, journal.lease_seconds,
        )  # fmt: skip
    metrics.database_round_trips.set_function(lambda: journal.database.round_trips)
    metrics.leader.set_function(lambda: int(services.leadership.leading))
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICES_KEY] = services
    add_routes(
        app,
        journal=journal,
        worker=worker,
        metrics=metrics,
        secret=secret,
        metrics_port=config.metrics_port,
    )
    facts = BaseFacts(config, lanes=lanes)
    if config.airtable_to_github.enabled:
        services.hook_keeper = HookKeeper(
            config,
            lanes=lanes,
            journal=journal,
            metrics=metrics,
            facts=facts,
            wake_worker=worker.notify,
        )
    add_airtable_route(app, services.hook_keeper, metrics)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with github_session(config) as session:
            if github_factory is not None:
                github = github_factory(session)
            else:
                if not config.has_github_app:
                    log.info("no GitHub App credentials: GitHub writes will be logged, not sent")
                github = _github(session, config, metrics)
            engine = build_engine(
                config,
                lanes=lanes,
                github=github,
                metrics=metrics,
                watermarks=journal,
                locks=services.locks,
            )
            services.github = github
            services.engine = engine
            worker.dependencies.update(engine.handler_dependencies(config, github))
            worker.bot_login = await github.bot_login()
            await worker.start()
            keeper = _prepare_following(services, facts, github, engine)

            def scheduled_work() -> list[asyncio.Task[None]]:
                """What only the leader runs: the sync, the recovery, following Airtable."""
                tasks = [
                    _start_schedule(config, engine.syncer, can_read=github.can_read),
                    start_recovery(config, github, journal=journal, worker=worker, metrics=metrics),
                    None
                    if keeper is None
                    else asyncio.create_task(keeper.run(), name="airtable-webhook"),
                ]
                return [task for task in tasks if task is not None]

            leading = asyncio.create_task(
                services.leadership.run(scheduled_work), name="leadership"
            )
            try:
                yield
            finally:
                leading.cancel()
                await asyncio.gather(leading, return_exceptions=True)
                await worker.stop()
                await services.locks.close()
                await lanes.close()
        journal.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def serve_metrics(app: web.Application, sock: socket.socket) -> None:
    """Serve ``/metrics`` alone on ``sock`` (``METRICS_PORT``): its own aiohttp site, started
    and stopped with ``app`` (before the journal it reads is closed)."""
    services = app[SERVICES_KEY]

    async def metrics_site(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(
            metrics_app(journal=services.journal, metrics=services.metrics), access_log=None
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            yield
        finally:
            await runner.cleanup()

    app.cleanup_ctx.append(metrics_site)


def _prepare_following(
    services: Services, facts: BaseFacts, github: GitHubGateway, engine: Engine
) -> HookKeeper | None:
    """With Airtable → GitHub on: hand the worker its follower; the keeper the leader runs
    to follow the bases (None when there is nothing to follow)."""
    keeper = services.hook_keeper
    if keeper is None:
        return None
    if not github.can_read:
        log.warning(
            "Airtable → GitHub is on but needs the GitHub App's credentials to open issues;"
            " the bases are not followed"
        )
        return None
    from bot.sync.issue_opener import IssueOpener

    config = services.config
    opener = IssueOpener(config, lanes=services.lanes, github=github, reconciler=engine.reconciler)
    services.worker.dependencies["airtable_follower"] = AirtableFollower(
        config, facts=facts, lanes=services.lanes, opener=opener
    )
    return keeper


def _start_schedule(config: Config, syncer: Syncer, *, can_read: bool) -> asyncio.Task[None] | None:
    """Start the drift-repairing sync every ``schedule.sync_interval_hours`` (0: none)."""
    hours = config.schedule.sync_interval_hours
    if hours <= 0:
        return None
    return asyncio.create_task(
        run_schedule(syncer, hours, can_read=can_read), name="scheduled-sync"
    )


def shared_lanes(
    config: Config,
    metrics: Metrics,
    *,
    api_factory: Callable[[], Api] | None = None,
    database: Database | None = None,
) -> Lanes:
    """The lanes of the bases, each on the base's request budget: in *database* (PostgreSQL,
    shared by every replica) when given, else in the data folder's SQLite file."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    rate = config.airtable.requests_per_second
    horizon = budget_horizon(config)

    def budget(base_id: str) -> RequestBudget:
        if database is not None:
            return PostgresBudget(database, base_id, rate, max_ahead=horizon)
        return SharedBudget(config.budget_path, base_id, rate, max_ahead=horizon)

    return Lanes(config, metrics=metrics, api_factory=api_factory, budgets=budget)


@dataclass
class Runtime:
    """What an operator command needs: the lanes of the bases and a GitHub gateway."""

    config: Config
    lanes: Lanes
    github: GitHubGateway
    metrics: Metrics


def _shared_journal(config: Config) -> Journal | None:
    """With ``DATABASE_URL``, the journal whose budgets the replicas share, for a command to
    draw on them too; None when the database is not ready (unreachable, or no ``serve`` has
    created its tables yet: then no replica is at work, and the command's own budget is
    enough). Nothing is created here; ``check`` says what is wrong with the database."""
    if config.database_url is None:
        return None
    try:
        ready, detail = inspect_postgres(config.database_url)
        if ready:
            return Journal(config.database_url)
    except (*STORE_ERRORS, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    log.warning("the replicas' request budgets are not used: %s", detail)
    return None


@asynccontextmanager
async def open_runtime(config: Config) -> AsyncIterator[Runtime]:
    """Open one HTTP session and the Airtable lanes for a command; close them after."""
    metrics = Metrics()
    journal = await asyncio.to_thread(_shared_journal, config)
    try:
        async with github_session(config) as session:
            lanes = shared_lanes(
                config, metrics, database=journal.database if journal is not None else None
            )
            try:
                yield Runtime(config, lanes, _github(session, config, metrics), metrics)
            finally:
                await lanes.close()
    finally:
        if journal is not None:
            journal.close()


async def sync_command(
    config: Config,
    *,
    repo: tuple[str, str] | None,
    dry_run: bool,
    out: TextIO,
    meter: Meter | None = None,
    open_missing: bool = False,
) -> int:
    """``deliverables-bot sync``: run one sync, print each change and the summary; exit code.
    With ``open_missing``, then open the issues Airtable → GitHub would open for records
    that have none (also those from before it was turned on)."""
    if not config.has_github_app:
        print(f"error: {NEEDS_GITHUB}", file=sys.stderr)
        return 2
    async with open_runtime(config) as runtime:
        # The data folder's journal remembers the issues GitHub answers 404 for, for `serve`
        # and `check` to see too.
        with Journal(config.journal_location) as journal:
            database = journal.database
            locks = (
                SharedLocks(database.url, database.schema, replica=journal.replica)
                if isinstance(database, PostgresDatabase)
                else None
            )
            engine = build_engine(
                config,
                lanes=runtime.lanes,
                github=runtime.github,
                metrics=runtime.metrics,
                watermarks=journal,
                locks=locks,
            )
            report = await engine.syncer.run(repo=repo, dry_run=dry_run, meter=meter or Meter())
            code = print_report(report, out)
            if open_missing:
                opener = IssueOpener(
                    config, lanes=runtime.lanes, github=runtime.github, reconciler=engine.reconciler
                )
                code = max(code, await _open_missing(config, opener, dry_run=dry_run, out=out))
            if locks is not None:
                await locks.close()
    return code


async def _open_missing(config: Config, opener: IssueOpener, *, dry_run: bool, out: TextIO) -> int:
    """``sync --open-missing-issues``: one line per issue opened (or, dry, to be opened) for
    deliverables and Projects without one; 1 when any could not be opened."""
    failed = 0
    print("Airtable → GitHub: " + ("what would be opened" if dry_run else "opening"), file=out)
    for base_id in followed_bases(config):
        items = await opener.open_missing(base_id, dry_run=dry_run)
        for item in items:
            print(f"  {item.line()}", file=out)
            failed += item.status == "failed"
        if not items:
            print(f"  {base_id}: every deliverable and Project has its issue", file=out)
    return 1 if failed else 0
