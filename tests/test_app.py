"""The composition root: what ``make_app``, ``build_engine`` and ``open_runtime`` build and
wire — one engine, every Project listener once, one Linker handed to the handlers, the
handlers in their declared order — on the local Airtable and the GitHub stand-in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.app import Engine, build_engine, open_runtime, sync_command
from bot.clients.github import AppGitHub
from bot.clients.github_logging import LoggingGitHub
from bot.clients.reads import installation_ids, read_base
from bot.handlers import DeclaredOrder
from bot.intake.journal import Journal
from bot.sync.progress_comment import ProgressComments
from tests.bot_fixtures import StartBot, bot_config
from tests.constants import OWNER, WEBHOOK_SECRET
from tests.standins.github import GitHubStandIn


def assert_wired_once(engine: Engine) -> None:
    """The reconciler's listeners are the progress comment then the renewal signal, once
    each, and every part shares the one reconciler."""
    first, second = engine.reconciler.project_listeners
    assert isinstance(first, ProgressComments)
    assert getattr(second, "__self__", None) is engine.renewal
    assert getattr(second, "__func__", None) is type(engine.renewal).on_project_update
    assert engine.linker.reconciler is engine.reconciler
    assert engine.syncer.reconciler is engine.reconciler
    assert engine.syncer.renewal is engine.renewal


async def test_serve_builds_one_engine_and_hands_its_linker_to_the_handlers(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    services = bot.services
    engine = services.engine
    assert engine is not None and services.reconciler is engine.reconciler
    assert_wired_once(engine)
    assert engine.reconciler.watermarks is services.journal
    assert engine.linker.lanes is services.lanes
    dependencies = services.worker.dependencies
    assert dependencies["linker"] is engine.linker
    assert dependencies["reconciler"] is engine.reconciler
    assert dependencies["github"] is services.github
    assert dependencies["config"] is services.config
    assert isinstance(services.github, AppGitHub)
    assert isinstance(services.worker.router, DeclaredOrder)


async def test_without_github_credentials_serve_logs_its_github_writes(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(github=None)
    assert isinstance(bot.services.github, LoggingGitHub)
    assert bot.services.engine is not None
    assert_wired_once(bot.services.engine)


async def test_open_runtime_reads_the_base_and_github(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    config = bot_config(tmp_path / "data", local_airtable, WEBHOOK_SECRET, github)
    assert local_airtable.base_id is not None
    async with open_runtime(config) as runtime:
        assert isinstance(runtime.github, AppGitHub)
        data = await read_base(runtime.lanes.for_base(local_airtable.base_id))
        assert len(data.deliverables) == 3
        assert OWNER in await installation_ids(runtime.github)
        with Journal(tmp_path / "journal.sqlite3") as journal:
            engine = build_engine(
                config,
                lanes=runtime.lanes,
                github=runtime.github,
                metrics=runtime.metrics,
                watermarks=journal,
            )
            assert_wired_once(engine)


async def test_open_runtime_without_credentials_reads_no_github(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    config = bot_config(tmp_path / "data", local_airtable, WEBHOOK_SECRET, None)
    async with open_runtime(config) as runtime:
        assert isinstance(runtime.github, LoggingGitHub)
        assert not runtime.github.can_read


async def test_sync_command_without_credentials_exits_2(
    tmp_path: Path, local_airtable: LocalAirtable, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bot_config(tmp_path / "data", local_airtable, WEBHOOK_SECRET, None)
    out = io.StringIO()
    code = await sync_command(config, repo=None, dry_run=True, out=out)
    assert code == 2 and out.getvalue() == ""
    assert "sync needs the GitHub App's credentials" in capsys.readouterr().err
