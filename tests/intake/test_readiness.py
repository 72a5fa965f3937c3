"""/readyz, /metrics and ``check`` say when Airtable or GitHub fail, without refusing work.

Real faults over real HTTP: the embedded Airtable answering 503, the GitHub stand-in
answering 502; the bot stays ready (200) while its journal takes deliveries.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot.airtable_local.thread import LocalAirtable
from bot.intake.journal import Journal
from tests.bot_fixtures import RunningBot, StartBot
from tests.intake.support import ISSUE, closing_payload, scrape, value
from tests.operator_helpers import operator_env, run_bot
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event


async def ready(bot: RunningBot) -> dict[str, Any]:
    """GET /readyz; it must answer 200. Its JSON body."""
    async with bot.session.get(bot.url("/readyz")) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
    return body


async def wait_for(bot: RunningBot, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Poll /readyz until ``predicate(body)``; that body."""
    deadline = time.monotonic() + timeout
    while not predicate(body := await ready(bot)):
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)
    return body


async def test_airtable_failing_is_reported_while_the_bot_stays_ready(
    start_bot: StartBot, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot()
    body = await ready(bot)
    assert body["degraded"] == []
    assert body["dependencies"]["airtable"]["status"] == "ok"
    assert body["deliveries"] == {"pending": 0, "processing": 0, "failed": 0, "oldest_failed": None}

    local_airtable.inject(503, times=1000)
    response = await bot.deliver("issues", closing_payload())
    delivery = (await response.json())["delivery"]
    failing = await wait_for(bot, lambda b: b["deliveries"]["failed"] == 1)
    assert failing["status"] == "ready"
    assert failing["degraded"] == ["airtable"]
    airtable = failing["dependencies"]["airtable"]
    assert airtable["status"] == "failing"
    assert airtable["consecutive_failures"] >= 4  # one per attempt at least
    assert "503" in airtable["last_error"]
    assert failing["dependencies"]["github"]["status"] == "ok"
    oldest = failing["deliveries"]["oldest_failed"]
    assert oldest["delivery"] == delivery
    assert (oldest["event"], oldest["action"], oldest["attempts"]) == ("issues", "closed", 4)
    assert "503" in oldest["last_error"]

    samples = await scrape(bot)
    since = value(
        samples, "deliverables_bot_dependency_failing_since_seconds", dependency="airtable"
    )
    assert value(samples, "deliverables_bot_dependency_failing", dependency="airtable") == 1
    assert value(samples, "deliverables_bot_dependency_failing", dependency="github") == 0
    assert time.time() - 30 < since <= time.time()
    assert (
        value(
            samples,
            "deliverables_bot_dependency_last_error_seconds",
            dependency="airtable",
            kind="503",
        )
        >= since
    )
    assert value(samples, "deliverables_bot_queue_depth", state="failed") == 1
    # Since when: the first failure of the run, not the latest.
    assert airtable["failing_since"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))

    local_airtable.faults.clear()
    bot.services.journal.retry(delivery)
    bot.services.worker.notify()
    await bot.drain()
    recovered = await ready(bot)
    assert recovered["degraded"] == []
    assert recovered["dependencies"]["airtable"]["status"] == "ok"
    assert recovered["dependencies"]["airtable"]["failing_since"] is None
    assert "503" in recovered["dependencies"]["airtable"]["last_error"]  # kept after recovery
    assert recovered["deliveries"]["failed"] == 0
    samples = await scrape(bot)
    assert value(samples, "deliverables_bot_dependency_failing", dependency="airtable") == 0
    assert bot.deliverable(ISSUE)["Status"] == "Done"


async def test_github_failing_is_reported_since_its_first_failure(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    github.inject(r"/issues/1$", status=502, times=None, method="GET")
    await bot.deliver(
        "issues", issues_event("closed", github.close_issue("example-org", "infrastructure", 1))
    )
    first = await wait_for(bot, lambda b: b["degraded"] == ["github"])
    since = first["dependencies"]["github"]["failing_since"]
    later = await wait_for(bot, lambda b: b["deliveries"]["failed"] == 1)
    gh = later["dependencies"]["github"]
    assert later["status"] == "ready"
    assert gh["status"] == "failing"
    assert gh["failing_since"] == since
    assert gh["consecutive_failures"] >= 4
    assert "HTTP 502" in gh["last_error"] and "/issues/1" in gh["last_error"]
    samples = await scrape(bot)
    assert value(samples, "deliverables_bot_dependency_failing", dependency="github") == 1
    assert (
        value(samples, "deliverables_bot_dependency_consecutive_failures", dependency="github") >= 4
    )
    assert (
        value(
            samples,
            "deliverables_bot_dependency_last_error_seconds",
            dependency="github",
            kind="502",
        )
        > 0
    )

    github.clear_faults()
    await bot.deliver(
        "issues", issues_event("closed", github.close_issue("example-org", "infrastructure", 2))
    )
    await bot.drain()
    body = await ready(bot)
    assert body["degraded"] == []
    assert body["dependencies"]["github"]["status"] == "ok"
    assert body["deliveries"]["failed"] == 1  # the dead letter stays until retried


def test_check_reports_the_journal_and_fails_on_failed_deliveries(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    env = operator_env(tmp_path, local_airtable, github)
    data = Path(env["DELIVERABLES_BOT_DATA"])
    result = run_bot("check", env=env, cwd=tmp_path)
    assert "ok   delivery journal: no journal yet at" in result.stdout, result.stdout

    with Journal(data / "journal.sqlite3") as journal:
        journal.record("d-waiting", "issues", "closed", {"action": "closed"})
        result = run_bot("check", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stdout
        assert "deliveries waiting (1 pending, 0 processing), none failed" in result.stdout

        journal.record(
            "d-old", "issues", "closed", {"action": "closed"}, issue_key="o/r#1", now=1.0
        )
        journal.record("d-new", "issues", "edited", {"action": "edited"}, now=2.0)
        journal.mark_failed("d-new", "GitHubBroken: Bad Gateway")
        journal.mark_failed("d-old", "AirtableError: Airtable update failed: 503 Server Error")
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if "delivery journal" in line]
    assert line.startswith("FAIL delivery journal: ")
    assert "2 failed deliveries, 1 waiting" in line
    assert "d-old (issues.closed, o/r#1, 1 attempts)" in line
    assert "last error: AirtableError: Airtable update failed: 503 Server Error" in line
    assert "deliveries list --failed" in line
