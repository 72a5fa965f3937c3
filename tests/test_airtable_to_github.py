"""Airtable → GitHub end to end: a deliverable typed into Airtable becomes an issue.

The real bot (in-process aiohttp app, or ``python -m bot serve`` as a subprocess) follows the
embedded Airtable's demo base through a real webhook; a person types records with
pyairtable on the web app's token (source ``client``); Airtable's pings are signed with the
hook's real MAC and posted to ``POST /airtable/webhook``; issues are opened on the GitHub
stand-in. What is asserted is what a user sees: the issue (title, body, its marker), its
place as a sub-issue of the Project's tracking issue, the URL in the record, the Status the
usual sync writes — once, whatever happens in between.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.airtable_local.thread import LocalAirtable
from bot.config import AirtableToGitHubSettings
from bot.core.issue_drafts import marker
from tests.bot_fixtures import RunningBot, StartBot
from tests.constants import DELIVERABLES, DEMO_PROJECT, ENGAGEMENTS, OWNER, PROJECTS, REPO
from tests.fault_fixtures import StartProxy
from tests.operator_helpers import operator_env
from tests.processes import BotProcess, free_port, wait_until
from tests.processes import eventually as until
from tests.standins.github import GitHubStandIn

NEVER = 3600.0  # a poll interval no test reaches: only pings make the bot list payloads
WAIT = 20.0


def demo_project_id(at: LocalAirtable) -> str:
    projects = at.table(PROJECTS).all()
    return next(p["id"] for p in projects if p["fields"]["Name"] == DEMO_PROJECT)


def issues_titled(gh: GitHubStandIn, title: str) -> list[dict[str, Any]]:
    return [i for i in gh.issues(OWNER, REPO) if i["title"] == title]


async def eventually(check: Callable[[], Any], what: str = "it", timeout: float = WAIT) -> Any:
    """Poll ``check`` on the event loop until it is truthy (``tests.processes.eventually``)."""
    return await until(check, timeout=timeout, what=what)


async def following(start_bot: StartBot, gh: GitHubStandIn, **settings: Any) -> RunningBot:
    """A bot following the base; with ``pings=True``, Airtable pings its route."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/airtable/webhook" if settings.pop("pings", False) else ""
    options = {"enabled": True, "poll_seconds": NEVER, "notification_url": url} | settings
    bot = await start_bot(
        github=gh, port=port, airtable_to_github=AirtableToGitHubSettings(**options)
    )
    base = str(bot.airtable.base_id)
    await eventually(lambda: (row := bot.services.journal.hook(base)) and row.last_listed_at)
    return bot


def deliverable(at: LocalAirtable, record_id: str) -> dict[str, Any]:
    return dict(at.table(DELIVERABLES).get(record_id)["fields"])


async def test_a_typed_project_and_deliverable_become_issues_through_pings(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await following(start_bot, github, pings=True)
    at = bot.airtable
    engagement = at.table(ENGAGEMENTS).all()[0]["id"]
    project = at.client_table(PROJECTS).create(
        {
            "Name": "Train the trainers",
            "Engagement": [engagement],
            "Statement of Work": "https://example.org/sow/train-the-trainers",
            "Repository": f"{OWNER}/{REPO}",
        }
    )["id"]
    # The Project had a repository and no tracking issue: it gets one.
    tracking_url = await eventually(
        lambda: at.table(PROJECTS).get(project)["fields"].get("Tracking Issue")
    )
    tracking = int(tracking_url.rsplit("/", 1)[1])
    assert marker("tracking", project) in github.issue(OWNER, REPO, tracking)["body"]
    record = at.client_table(DELIVERABLES).create(
        {"Name": "Write the trainers' guide", "Project": [project]}
    )
    url = await eventually(lambda: deliverable(at, record["id"]).get("GitHub Issue"))
    [issue] = issues_titled(github, "Write the trainers' guide")
    assert url == issue["html_url"]
    body = issue["body"]
    assert marker("deliverable", record["id"]) in body
    assert "Train the trainers" in body and "Example University 2026" in body
    assert "https://example.org/sow/train-the-trainers" in body
    # A sub-issue of the Project's tracking issue, which lists it.
    await eventually(
        lambda: issue["number"] in [s["number"] for s in github.sub_issues(OWNER, REPO, tracking)]
    )
    await eventually(lambda: f"#{issue['number']}" in github.issue(OWNER, REPO, tracking)["body"])
    # The usual sync took over: Status from the open, unassigned issue.
    await eventually(lambda: deliverable(at, record["id"]).get("Status") == "Todo")
    pings = bot.services.metrics.airtable_hook_pings.labels(outcome="accepted")._value.get()
    assert pings >= 1
    await bot.drain()
    assert len(issues_titled(github, "Write the trainers' guide")) == 1
    assert len(issues_titled(github, "Train the trainers")) == 1


async def test_records_from_before_the_bot_followed_the_base_are_left_to_the_operator(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    base = str(local_airtable.base_id)
    [old] = local_airtable.store.create_records(
        base,
        DELIVERABLES,
        [{"Name": "Typed last year", "Project": [demo_project_id(local_airtable)]}],
    )
    time.sleep(0.01)
    bot = await following(start_bot, github, pings=True)
    at = bot.airtable
    # A new deliverable in the demo Project (which existed before) gets its issue; the
    # Project gets no tracking issue unasked.
    new = at.client_table(DELIVERABLES).create(
        {"Name": "Typed today", "Project": [demo_project_id(at)]}
    )
    await eventually(lambda: deliverable(at, new["id"]).get("GitHub Issue"))
    # An edit of the old one opens nothing.
    at.client_table(DELIVERABLES).update(old["id"], {"Name": "Typed last year (edited)"})
    at.wait_for_pings()
    await asyncio.sleep(0.5)
    await bot.drain()
    assert "GitHub Issue" not in deliverable(at, old["id"])
    assert issues_titled(github, "Typed last year (edited)") == []
    assert "Tracking Issue" not in at.table(PROJECTS).get(demo_project_id(at))["fields"]
    assert len(issues_titled(github, "Typed today")) == 1


async def test_a_lost_ping_is_made_up_for_by_the_timer(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    # Airtable pings a URL nobody listens on: every ping is lost.
    bot = await following(
        start_bot,
        github,
        notification_url=f"http://127.0.0.1:{free_port()}/airtable/webhook",
        poll_seconds=0.5,
    )
    at = bot.airtable
    record = at.client_table(DELIVERABLES).create(
        {"Name": "Record the intro video", "Project": [demo_project_id(at)]}
    )
    await eventually(lambda: deliverable(at, record["id"]).get("GitHub Issue"))
    assert len(issues_titled(github, "Record the intro video")) == 1
    hook = at.api().base(str(at.base_id)).webhooks()[0]
    assert hook.last_notification_result is not None
    assert not hook.last_notification_result.success


async def test_the_bots_own_writes_are_not_acted_on(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await following(start_bot, github, pings=True)
    at = bot.airtable
    record = at.client_table(DELIVERABLES).create(
        {"Name": "Own writes", "Project": [demo_project_id(at)]}
    )
    await eventually(lambda: deliverable(at, record["id"]).get("Status") == "Todo")
    at.wait_for_pings()
    await bot.drain()

    # The bot's writes (the URL, the Status) made payloads too...
    def payloads() -> list[Any]:
        return [d for d in bot.services.journal.list(limit=100) if d.event == "airtable"]

    await eventually(lambda: len(payloads()) >= 2)  # the person's creation, the bot's writes
    await bot.drain()
    # ... and none of them made the bot look for or open another issue.
    github.reset_calls()
    at.table(DELIVERABLES).update(record["id"], {"Status": "In progress"})  # the bot's token
    at.wait_for_pings()
    await asyncio.sleep(0.5)
    await bot.drain()
    assert github.calls_matching(None, r"/issues(\?|$)") == []
    assert len(issues_titled(github, "Own writes")) == 1


async def test_an_expired_hook_is_replaced_and_the_gap_covered(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await following(start_bot, github, poll_seconds=0.3)
    keeper = bot.services.hook_keeper
    assert keeper is not None
    keeper.ensure_seconds = 0.3
    at = bot.airtable
    base = str(at.base_id)
    old = bot.services.journal.hook(base)
    assert old is not None and old.webhook_id is not None
    at.expire_webhook(old.webhook_id)
    record = at.client_table(DELIVERABLES).create(
        {"Name": "Typed while the hook was expired", "Project": [demo_project_id(at)]}
    )
    await eventually(lambda: deliverable(at, record["id"]).get("GitHub Issue"))
    await bot.drain()
    new = bot.services.journal.hook(base)
    assert new is not None and new.webhook_id != old.webhook_id
    assert len(issues_titled(github, "Typed while the hook was expired")) == 1
    sweeps = [d for d in bot.services.journal.list(limit=100) if d.action == "sweep"]
    assert len(sweeps) == 1 and sweeps[0].state == "done"


async def test_an_unsigned_ping_reads_nothing(start_bot: StartBot, github: GitHubStandIn) -> None:
    bot = await following(start_bot, github, pings=True)
    before = bot.airtable.stats().requests
    response = await bot.session.post(
        bot.url("/airtable/webhook"),
        json={"base": {"id": bot.airtable.base_id}, "webhook": {"id": "achForged"}},
        headers={"X-Airtable-Content-MAC": "hmac-sha256=" + "ab" * 32},
    )
    assert response.status == 401
    await asyncio.sleep(0.3)
    assert bot.airtable.stats().requests == before


def test_a_bot_killed_between_opening_and_writing_back_opens_one_issue(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, fault_proxy: StartProxy
) -> None:
    """``serve`` opens the issue, Airtable refuses the URL's write, the bot is SIGKILLed;
    started again it finds its issue by the marker instead of opening another."""
    proxy = fault_proxy(local_airtable.url)
    port = free_port()
    env = operator_env(tmp_path, local_airtable, github, AIRTABLE_ENDPOINT_URL=proxy.url)
    config = tmp_path / "bot.toml"
    config.write_text(
        "[airtable_to_github]\nenabled = true\npoll_seconds = 0.3\n"
        "[worker]\nbase_delay_seconds = 0.2\nmax_delay_seconds = 0.5\nmax_attempts = 50\n",
        encoding="utf-8",
    )
    env["DELIVERABLES_BOT_CONFIG"] = str(config)
    refused = proxy.fail(503, method="PATCH", path=r"/Project(%20| )Deliverables", times=None)

    def serve(name: str) -> BotProcess:
        bot = BotProcess(["serve", "--port", str(port)], env=env, folder=tmp_path, name=name)
        bot.wait_for_stdout(f"webhook POST http://127.0.0.1:{port}/webhook")
        return bot

    title = "Survive the crash"
    first = serve("first")
    try:
        wait_until(
            lambda: local_airtable.api().base(str(local_airtable.base_id)).webhooks(),
            timeout=WAIT,
            what="the bot's webhook",
            detail=lambda: first.output,
        )
        record = local_airtable.client_table(DELIVERABLES).create(
            {"Name": title, "Project": [demo_project_id(local_airtable)]}
        )
        wait_until(lambda: issues_titled(github, title), timeout=WAIT, what="the issue")
        wait_until(lambda: refused.taken >= 1, timeout=WAIT, what="the refused write-back")
        first.signal(signal.SIGKILL)
    finally:
        first.stop()
    assert "GitHub Issue" not in deliverable(local_airtable, record["id"])
    proxy.clear(refused)
    second = serve("second")
    try:
        url = wait_until(
            lambda: deliverable(local_airtable, record["id"]).get("GitHub Issue"),
            timeout=WAIT,
            what="the URL written back",
            detail=lambda: second.output,
        )
    finally:
        second.stop()
    issues = issues_titled(github, title)
    assert len(issues) == 1, [i["html_url"] for i in issues]
    assert url == issues[0]["html_url"]


def test_the_demo_base_says_where_its_issues_go(local_airtable: LocalAirtable) -> None:
    project = local_airtable.table(PROJECTS).get(demo_project_id(local_airtable))
    assert project["fields"]["Repository"] == f"{OWNER}/{REPO}"
