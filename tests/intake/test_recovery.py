"""``bot/recovery.py`` end to end: deliveries GitHub logged but the bot never got, recovered.

The GitHub stand-in really POSTs signed deliveries to the App's webhook URL and logs what
happened (connection refused while the bot is down); the bot reads that log back over real
HTTP with gidgethub as the App (JWT), journals what it missed, and the worker applies it to
the embedded Airtable through pyairtable. Payloads are validated against GitHub's webhook
schemas before they are sent. The last tests check the stand-in's delivery-log routes
themselves, as GitHub documents them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import gidgethub
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.airtable_local.thread import LocalAirtable
from bot.clients.github import AppGitHub
from bot.config import ConfigError, RecoverySettings
from bot.config_loader import load_config
from bot.intake.delivery_context import DeliveryIdFilter
from bot.intake.recovery import STATE_KEY, PassReport, Recovery
from tests.bot_fixtures import RunningBot, StartBot, issue_url
from tests.commenting import add_project
from tests.constants import DELIVERABLES, OWNER, REPO
from tests.intake.support import scrape, value
from tests.schemas import validator
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, sign

COMPLETED_PREFIX = "<!-- deliverables-bot:project-completed:"
OFF = RecoverySettings(enabled=False)
LOG_ENTRY = r"^/app/hook/deliveries/\d+$"


# -- helpers -----------------------------------------------------------------------------------


def validated(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload``, after checking it against GitHub's schema for its event and action."""
    plain = json.loads(json.dumps(payload))
    errors = [e.message[:200] for e in validator(event, payload.get("action")).iter_errors(plain)]
    assert not errors, errors
    return payload


def closed_payload(gh: GitHubStandIn, number: int) -> dict[str, Any]:
    """Close issue ``number`` on the stand-in; the ``issues.closed`` delivery GitHub sends."""
    return validated("issues", issues_event("closed", gh.close_issue(OWNER, REPO, number)))


def dead_url() -> str:
    """A webhook URL on 127.0.0.1 where nothing listens: the bot is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhook"


async def send(gh: GitHubStandIn, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """GitHub delivers ``payload`` to the App's webhook URL; the log entry it made."""
    return await asyncio.wrap_future(gh.send_delivery(event, payload))


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``check()`` is true (polled), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        await asyncio.sleep(0.1)


def seed_projects(
    at: LocalAirtable, gh: GitHubStandIn, projects: int, per_project: int, first: int = 101
) -> dict[str, list[int]]:
    """``projects`` Projects of ``per_project`` deliverables each, In progress, each linked to
    an open, assigned issue on the stand-in; ``{project id: [issue numbers]}``."""
    layout: dict[str, list[int]] = {}
    number = first
    for p in range(projects):
        project = add_project(at, f"Recovered project {p + 1}")
        layout[project] = []
        for _ in range(per_project):
            gh.add_issue(OWNER, REPO, number, title=f"Task {number}", assignees=["alice"])
            at.table(DELIVERABLES).create(
                {
                    "Name": f"Task {number}",
                    "Project": [project],
                    "GitHub Issue": issue_url(number),
                    "Status": "In progress",
                }
            )
            layout[project].append(number)
            number += 1
    return layout


def status_of(at: LocalAirtable, number: int) -> str | None:
    """The Status of the deliverable of issue ``number``."""
    records = [
        r
        for r in at.table(DELIVERABLES).all()
        if r["fields"].get("GitHub Issue") == issue_url(number)
    ]
    assert len(records) == 1
    return records[0]["fields"].get("Status")


def recovery_for(bot: RunningBot, session: aiohttp.ClientSession, **settings: Any) -> Recovery:
    """A Recovery over the running bot's journal, worker and metrics, reading the stand-in's
    log through the real AppGitHub; ``settings`` override ``[recovery]`` (and ``page_size``)."""
    services = bot.services
    page_size = settings.pop("page_size", 100)
    config = dataclasses.replace(
        services.config, recovery=dataclasses.replace(services.config.recovery, **settings)
    )
    return Recovery(
        config,
        delivery_log=AppGitHub(session, config, metrics=services.metrics),
        journal=services.journal,
        worker=services.worker,
        metrics=services.metrics,
        page_size=page_size,
    )


async def metric(bot: RunningBot, name: str, **labels: str) -> float:
    """The value of a counter in the bot's ``/metrics``, as Prometheus parses it."""
    return value(await scrape(bot), name, **labels)


def fetched_ids(gh: GitHubStandIn) -> list[int]:
    """The log entries the bot fetched one by one, in order."""
    return [int(c.path.rsplit("/", 1)[1]) for c in gh.calls_matching("GET", LOG_ENTRY)]


def journaled(bot: RunningBot) -> list[str]:
    """Every delivery id in the bot's journal."""
    return [d.id for d in bot.services.journal.list(limit=1000)]


# -- the bot down while 20 issues close ----------------------------------------------------------


async def test_events_sent_while_the_bot_was_down_are_applied_after_it_starts(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable, webhook_secret: str
) -> None:
    layout = seed_projects(local_airtable, github, projects=4, per_project=5)
    github.configure_hook(dead_url(), webhook_secret)
    logged = [await send(github, "issues", closed_payload(github, n)) for n in range(101, 121)]
    assert {(e["status_code"], e["status"]) for e in logged} == {(0, "failed to connect")}

    bot = await start_bot(github=github)  # the pass at start-up finds the 20 in the log

    numbers = [n for issues in layout.values() for n in issues]
    await eventually(lambda: all(status_of(local_airtable, n) == "Done" for n in numbers))
    await bot.drain()
    assert sorted(journaled(bot)) == sorted(e["guid"] for e in logged)
    for project, issues in layout.items():
        record = local_airtable.table("Projects").get(project)["fields"]
        assert record["Status"] == "Complete", record
        announcements = [
            c
            for n in issues
            for c in github.comments(OWNER, REPO, n)
            if c["body"].startswith(COMPLETED_PREFIX)
        ]
        assert len(announcements) == 1, (project, [c["body"][:80] for c in announcements])
    assert await metric(bot, "deliverables_bot_recovered_deliveries_total", event="issues") == 20
    assert await metric(bot, "deliverables_bot_recovery_passes_total", outcome="complete") >= 1
    # Each logged delivery was fetched once, and the log was read once.
    assert sorted(fetched_ids(github)) == sorted(e["id"] for e in logged)
    assert len(github.calls_matching("GET", r"^/app/hook/deliveries$")) == 1


# -- what is not taken, and the persisted point -------------------------------------------------


async def test_journaled_or_later_successful_ones_are_not_taken_and_a_second_pass_fetches_nothing(
    start_bot: StartBot, github: GitHubStandIn, webhook_secret: str
) -> None:
    bot = await start_bot(github=github, recovery=OFF)
    github.configure_hook(bot.webhook_url, webhook_secret)
    # Reached the bot: logged 202 and journaled.
    ok = await send(github, "issues", closed_payload(github, 1))
    assert ok["status_code"] == 202
    # The bot journaled it, but answered after GitHub had given up: logged as failed.
    slow_payload = closed_payload(github, 2)
    slow_guid = str(uuid.uuid4())
    assert (await bot.deliver("issues", slow_payload, delivery_id=slow_guid)).status == 202
    github.log_delivery("issues", slow_payload, guid=slow_guid, status_code=0, status="timed out")
    # Failed, then redelivered with success (to some other receiver: not in this journal).
    retried = validated("issues", issues_event("edited", github.issue(OWNER, REPO, 3)))
    retried_guid = str(uuid.uuid4())
    github.log_delivery("issues", retried, guid=retried_guid, status_code=502)
    github.log_delivery("issues", retried, guid=retried_guid, status_code=202, redelivery=True)
    # A ping that failed is never journaled, not even by recovery.
    github.log_delivery("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}, status_code=0)
    # The one the bot never got.
    missed_payload = closed_payload(github, 3)
    missed = github.log_delivery("issues", missed_payload, status_code=0)

    async with aiohttp.ClientSession() as session:
        recovery = recovery_for(bot, session)
        first = await recovery.run_pass()
        assert (first.fetched, first.recovered, first.complete) == (1, 1, True)
        assert fetched_ids(github) == [missed["id"]]
        ids = journaled(bot)
        assert sorted(ids) == sorted([ok["guid"], slow_guid, missed["guid"]])
        assert bot.services.journal.get_meta(STATE_KEY) is not None

        github.reset_calls()
        second = await recovery.run_pass()
        assert second == PassReport(pages=1, examined=0, fetched=0, recovered=0, complete=True)
        assert fetched_ids(github) == []

        later = github.log_delivery("issues", closed_payload(github, 1), status_code=503)
        third = await recovery.run_pass()
        assert (third.examined, third.fetched, third.recovered) == (1, 1, 1)
        assert fetched_ids(github) == [later["id"]]
    await bot.drain()
    assert bot.deliverable(3)["Status"] == "Done"


async def test_a_pass_failing_before_its_point_is_saved_leaves_the_entries_to_the_next(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github, recovery=OFF)
    missed = github.log_delivery("issues", closed_payload(github, 3), status_code=0)
    # The fetch of the delivery fails: the pass fails, the point stays, nothing is journaled.
    github.inject(LOG_ENTRY, 502, method="GET")
    async with aiohttp.ClientSession() as session:
        recovery = recovery_for(bot, session)
        with pytest.raises(gidgethub.GitHubBroken):
            await recovery.run_pass()
        assert bot.services.journal.get_meta(STATE_KEY) is None
        assert journaled(bot) == []
        again = await recovery.run_pass()
    assert (again.fetched, again.recovered) == (1, 1)
    assert journaled(bot) == [missed["guid"]]


async def test_entries_older_than_the_journal_window_are_left(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github, recovery=OFF)
    eight_days_ago = time.time() - 8 * 86400
    github.log_delivery(
        "issues", closed_payload(github, 1), status_code=0, delivered_at=eight_days_ago
    )
    recent = github.log_delivery("issues", closed_payload(github, 2), status_code=0)
    async with aiohttp.ClientSession() as session:
        report = await recovery_for(bot, session).run_pass()
    assert (report.examined, report.fetched, report.complete) == (1, 1, True)
    assert journaled(bot) == [recent["guid"]]


# -- bounds ---------------------------------------------------------------------------------------


async def test_a_pass_fetches_at_most_max_per_pass_and_the_next_goes_on(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github, recovery=OFF)
    payload = validated("issues", issues_event("edited", github.issue(OWNER, REPO, 1)))
    logged = [github.log_delivery("issues", payload, status_code=500) for _ in range(25)]
    async with aiohttp.ClientSession() as session:
        recovery = recovery_for(bot, session, max_per_pass=10)
        reports = [await recovery.run_pass() for _ in range(4)]
    assert [r.fetched for r in reports] == [10, 10, 5, 0]
    assert [r.complete for r in reports] == [False, False, True, True]
    assert sorted(journaled(bot)) == sorted(e["guid"] for e in logged)
    assert sorted(fetched_ids(github)) == sorted(e["id"] for e in logged)  # each once
    assert await metric(bot, "deliverables_bot_recovery_passes_total", outcome="bounded") == 2


async def test_a_pass_reads_at_most_max_pages_and_the_next_goes_on_from_its_cursor(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github, recovery=OFF)
    payload = validated("issues", issues_event("edited", github.issue(OWNER, REPO, 1)))
    logged = [github.log_delivery("issues", payload, status_code=0) for _ in range(12)]
    async with aiohttp.ClientSession() as session:
        recovery = recovery_for(bot, session, max_pages=2, page_size=5)
        first = await recovery.run_pass()
        assert (first.pages, first.fetched, first.complete) == (2, 10, False)
        state = json.loads(bot.services.journal.get_meta(STATE_KEY) or "{}")
        assert state["resume_cursor"] and state["resume_top"] == logged[-1]["id"]
        lists = github.calls_matching("GET", r"^/app/hook/deliveries$")
        github.reset_calls()
        second = await recovery.run_pass()
        # Went on from the third page (the cursor GitHub's Link header gave), not the top.
        [call] = github.calls_matching("GET", r"^/app/hook/deliveries$")
        assert call.query["cursor"] == state["resume_cursor"]
        assert (second.pages, second.fetched, second.complete) == (1, 2, True)
        newest = github.log_delivery("issues", payload, status_code=0)
        third = await recovery.run_pass()
    assert (third.pages, third.fetched) == (1, 1)
    assert len(lists) == 2
    assert sorted(journaled(bot)) == sorted(e["guid"] for e in [*logged, newest])


# -- faults ---------------------------------------------------------------------------------------


async def test_a_github_5xx_on_the_log_is_one_logged_line_and_the_next_pass_recovers(
    start_bot: StartBot,
    github: GitHubStandIn,
    local_airtable: LocalAirtable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    github.inject(r"^/app/hook/deliveries$", 502, method="GET")
    missed = github.log_delivery("issues", closed_payload(github, 3), status_code=0)
    caplog.set_level(logging.INFO, logger="bot.intake.recovery")
    caplog.handler.addFilter(DeliveryIdFilter())
    bot = await start_bot(github=github, recovery=RecoverySettings(interval_minutes=0.01))

    await eventually(lambda: status_of(local_airtable, 3) == "Done")
    failures = [
        r
        for r in caplog.records
        if r.name == "bot.intake.recovery" and r.levelno >= logging.WARNING
    ]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    message = failures[0].getMessage()
    assert "recovery pass failed" in message and "502" in message
    assert "\n" not in message and failures[0].exc_info is None
    assert await metric(bot, "deliverables_bot_recovery_passes_total", outcome="error") == 1
    assert await metric(bot, "deliverables_bot_recovered_deliveries_total") == 1
    [journaled_line] = [
        r for r in caplog.records if "journaled from GitHub's log" in r.getMessage()
    ]
    assert journaled_line.delivery_id == missed["guid"]  # type: ignore[attr-defined]
    assert bot.services.worker.running  # serve goes on


async def test_a_rate_limited_log_fails_the_pass_not_serve(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github, recovery=OFF)
    # Reset beyond what the client waits out: gidgethub raises, the pass fails.
    github.inject_rate_limit(1, path_regex=r"^/app/hook/deliveries$", reset_in=3600)
    async with aiohttp.ClientSession() as session:
        recovery = recovery_for(bot, session, interval_minutes=0.005)
        task = asyncio.create_task(recovery.run_forever())
        github.log_delivery("issues", closed_payload(github, 3), status_code=0)
        try:
            await eventually(lambda: len(journaled(bot)) == 1, timeout=10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert await metric(bot, "deliverables_bot_recovery_passes_total", outcome="error") == 1


# -- the stand-in's delivery log, as GitHub documents it -------------------------------------------


def app_jwt(gh: GitHubStandIn) -> str:
    """An App JWT for the stand-in."""
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(gh.app_id)}
    return jwt.encode(claims, gh.private_key_pem, algorithm="RS256")


async def api(
    session: aiohttp.ClientSession,
    gh: GitHubStandIn,
    method: str,
    path: str,
    *,
    token: str | None = "jwt",
    **kwargs: Any,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """A raw request to the stand-in; status, JSON body and the response."""
    headers = {"Accept": "application/vnd.github+json"}
    if token == "jwt":
        headers["Authorization"] = f"Bearer {app_jwt(gh)}"
    elif token is not None:
        headers["Authorization"] = f"token {token}"
    url = path if path.startswith("http") else gh.url + path
    async with session.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json(), response


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/app/hook/deliveries", id="list"),
        pytest.param("GET", "/app/hook/deliveries/{id}", id="get"),
        pytest.param("POST", "/app/hook/deliveries/{id}/attempts", id="redeliver"),
    ],
)
async def test_standin_log_routes_need_the_app_jwt(
    github: GitHubStandIn, method: str, path: str
) -> None:
    entry = github.log_delivery("issues", closed_payload(github, 1))
    path = path.format(id=entry["id"])
    async with aiohttp.ClientSession() as session:
        status, body, _ = await api(session, github, method, path, token=None)
        assert status == 401 and "message" in body
        # An installation token is not the App's JWT either.
        _, minted, _ = await api(
            session, github, "POST", f"/app/installations/{github.installation_id}/access_tokens"
        )
        status, _, _ = await api(session, github, method, path, token=minted["token"])
        assert status == 401
        status, _, _ = await api(session, github, method, path)
        assert status == (202 if method == "POST" else 200)


async def test_standin_lists_newest_first_paged_by_cursor(github: GitHubStandIn) -> None:
    payload = closed_payload(github, 1)
    logged = [
        github.log_delivery("issues", payload, status_code=code) for code in (0, 202, 502, 0, 200)
    ]
    seen: list[dict[str, Any]] = []
    url: str | None = "/app/hook/deliveries?per_page=2"
    async with aiohttp.ClientSession() as session:
        while url:
            status, page, response = await api(session, github, "GET", url)
            assert status == 200 and len(page) <= 2
            seen += page
            next_link = response.links.get("next")
            url = str(next_link["url"]) if next_link else None
            if seen[2:] and url:
                assert "prev" in response.links
        status, _, _ = await api(session, github, "GET", "/app/hook/deliveries?cursor=bogus")
        assert status == 400
    assert [e["id"] for e in seen] == [e["id"] for e in reversed(logged)]
    assert [e["status"] for e in seen] == [
        "OK",
        "failed to connect",
        "Invalid HTTP Response: 502",
        "OK",
        "failed to connect",
    ]
    item = seen[0]
    assert set(item) == {
        "id", "guid", "delivered_at", "redelivery", "duration", "status", "status_code",
        "event", "action", "installation_id", "repository_id", "throttled_at",
    }  # fmt: skip
    assert (item["event"], item["action"]) == ("issues", "closed")
    assert item["installation_id"] == github.installation_id
    assert item["repository_id"] == payload["repository"]["id"]


async def test_standin_get_gives_request_and_response_and_404_for_an_unknown_id(
    github: GitHubStandIn, webhook_secret: str
) -> None:
    github.configure_hook(dead_url(), webhook_secret)
    payload = closed_payload(github, 1)
    entry = await send(github, "issues", payload)
    async with aiohttp.ClientSession() as session:
        status, detail, _ = await api(session, github, "GET", f"/app/hook/deliveries/{entry['id']}")
        assert status == 200
        assert detail["request"]["payload"] == payload
        headers = detail["request"]["headers"]
        assert headers["X-GitHub-Event"] == "issues"
        assert headers["X-GitHub-Delivery"] == entry["guid"]
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        assert headers["X-Hub-Signature-256"] == sign(body, webhook_secret)
        assert detail["url"].endswith("/webhook") and "response" in detail
        unknown = entry["id"] + 1000
        for method, path in (
            ("GET", f"/app/hook/deliveries/{unknown}"),
            ("POST", f"/app/hook/deliveries/{unknown}/attempts"),
        ):
            status, body_json, _ = await api(session, github, method, path)
            assert status == 404 and body_json["message"] == "Not Found"


async def test_standin_redelivers_signed_to_the_hook_and_logs_the_attempt(
    github: GitHubStandIn, webhook_secret: str
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.json_response({"status": "accepted"}, status=202)

    receiver = web.Application()
    receiver.router.add_post("/webhook", hook)
    server = TestServer(receiver, host="127.0.0.1")
    await server.start_server()
    try:
        github.configure_hook(dead_url(), webhook_secret)
        failed = await send(github, "issues", closed_payload(github, 1))
        github.configure_hook(str(server.make_url("/webhook")), webhook_secret)
        async with aiohttp.ClientSession() as session:
            path = f"/app/hook/deliveries/{failed['id']}/attempts"
            status, _, _ = await api(session, github, "POST", path)
        assert status == 202
        await eventually(lambda: len(github.hook_deliveries()) == 2, timeout=10)
    finally:
        await server.close()
    newest = github.hook_deliveries()[0]
    assert (newest["guid"], newest["redelivery"], newest["status_code"]) == (
        failed["guid"],
        True,
        202,
    )
    [(headers, body)] = received
    assert headers["X-GitHub-Delivery"] == failed["guid"]
    assert headers["X-Hub-Signature-256"] == sign(body, webhook_secret)


# -- the [recovery] settings --------------------------------------------------------------------


def test_recovery_settings_load_and_unknown_or_impossible_ones_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(
        "[recovery]\nenabled = false\ninterval_minutes = 2.5\nmax_per_pass = 20\nmax_pages = 3\n",
        encoding="utf-8",
    )
    config = load_config({"DELIVERABLES_BOT_CONFIG": str(path)})
    assert config.recovery == RecoverySettings(
        enabled=False, interval_minutes=2.5, max_per_pass=20, max_pages=3
    )
    assert load_config({}).recovery == RecoverySettings(True, 5.0, 100, 10)
    path.write_text(
        "[recovery]\nevery = 5\ninterval_minutes = 0\nmax_per_pass = 0\nenabled = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_config({"DELIVERABLES_BOT_CONFIG": str(path)})
    problems = "\n".join(refused.value.problems)
    assert "recovery: unknown setting 'every'" in problems
    assert "recovery.enabled: expected true or false" in problems
    assert "recovery.interval_minutes: must be positive" in problems
    assert "recovery.max_per_pass: must be at least 1" in problems
