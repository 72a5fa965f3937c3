"""Airtable → GitHub: issues opened for deliverables typed into Airtable, exactly once, over
the embedded Airtable (behind a fault proxy) and the GitHub stand-in, with the real lanes,
gateway and reconcile.

A new deliverable gets one issue (the body from the template, its marker), under its
Project's tracking issue, its URL written back and its Status synced; followed twice or at
once, or again after the process died between opening the issue and writing the URL, it
still has one. A moved deliverable moves under its new Project's tracking issue; a Project
without a repository is skipped; a Project's tracking issue is opened once and its list
kept current; ``open_missing`` in a dry run changes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable import AirtableError, AirtableLane, Lanes
from bot.clients.errors import OperatorError
from bot.clients.github import AppGitHub, GitHubGateway
from bot.clients.github_logging import LoggingGitHub
from bot.config import AirtableToGitHubSettings
from bot.core.issue import IssueRef
from bot.core.issue_drafts import DELIVERABLE, TRACKING, marked_record, marker
from bot.intake.journal import Journal
from bot.metrics import Metrics
from bot.sync.issue_opener import OFF, IssueOpener
from bot.sync.reconcile import Reconciler
from tests.bot_fixtures import bot_config, issue_url
from tests.commenting import add_project, project_id
from tests.constants import DELIVERABLES, DEMO_PROJECT, OWNER, PROJECTS, REPO, WEBHOOK_SECRET
from tests.fault_fixtures import StartProxy
from tests.standins.fault_proxy import FaultProxy
from tests.standins.github import GitHubStandIn

EPIC = 10
OTHER_EPIC = 11
HERE = f"{OWNER}/{REPO}"


@dataclass
class Bot:
    """One process of the bot: its lanes, gateway, reconcile and opener."""

    opener: IssueOpener
    reconciler: Reconciler
    lane: AirtableLane
    base_id: str


@dataclass
class World:
    """The servers, and a way to start a bot process on them."""

    airtable: LocalAirtable
    github: GitHubStandIn
    proxy: FaultProxy
    start: Callable[..., Bot]

    @property
    def hub(self) -> str:
        """The demo Project's id."""
        return project_id(self.airtable, DEMO_PROJECT)

    def set_project(self, project: str, **fields: Any) -> None:
        """Change a Project's fields straight in Airtable."""
        self.airtable.table(PROJECTS).update(project, fields)

    def add_deliverable(self, name: str, project: str) -> str:
        """A deliverable typed into Airtable (no GitHub Issue); its id."""
        record = self.airtable.table(DELIVERABLES).create({"Name": name, "Project": [project]})
        return str(record["id"])

    def record(self, record_id: str) -> dict[str, Any]:
        """A deliverable's fields as Airtable has them."""
        return dict(self.airtable.table(DELIVERABLES).get(record_id)["fields"])

    def project(self, record_id: str) -> dict[str, Any]:
        """A Project's fields as Airtable has them."""
        return dict(self.airtable.table(PROJECTS).get(record_id)["fields"])

    def marked(self, kind: str, record_id: str, repo: str = REPO) -> list[dict[str, Any]]:
        """The bot's issues in ``repo`` carrying the record's marker."""
        return [
            i
            for i in self.github.issues(OWNER, repo)
            if i["user"]["login"] == self.github.bot_login
            and marked_record(i["body"], kind) == record_id
        ]

    def opened(self, repo: str = REPO) -> int:
        """How many issues were opened through the API in ``repo``."""
        return len(self.github.calls_matching("POST", rf"^/repos/{OWNER}/{repo}/issues$"))


def _ensure_repository_field(at: LocalAirtable) -> None:
    assert at.base_id is not None
    fields = {
        f["name"]
        for table in at.store.schema(at.base_id)["tables"]
        if table["name"] == PROJECTS
        for f in table["fields"]
    }
    if "Repository" not in fields:
        at.store.add_field(at.base_id, PROJECTS, {"name": "Repository", "type": "singleLineText"})


@pytest.fixture
async def world(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, fault_proxy: StartProxy
) -> AsyncIterator[World]:
    _ensure_repository_field(local_airtable)
    hub = project_id(local_airtable, DEMO_PROJECT)
    local_airtable.table(PROJECTS).update(hub, {"Repository": HERE})
    proxy = fault_proxy(local_airtable.url)
    async with aiohttp.ClientSession() as session:
        lanes_made: list[Lanes] = []
        journals: list[Journal] = []

        def start(
            *, github_gateway: GitHubGateway | None = None, enabled: bool = True, **settings: Any
        ) -> Bot:
            config = bot_config(tmp_path / "data", local_airtable, WEBHOOK_SECRET, github)
            config = dataclasses.replace(
                config,
                airtable_endpoint_url=proxy.url,
                airtable_to_github=AirtableToGitHubSettings(enabled=enabled, **settings),
            )
            metrics = Metrics()
            lanes = Lanes(config, metrics=metrics)
            lanes_made.append(lanes)
            journal = Journal(tmp_path / f"journal-{len(journals)}.sqlite3")
            journals.append(journal)
            gateway = github_gateway or AppGitHub(session, config, metrics=metrics)
            reconciler = Reconciler(
                config, lanes=lanes, github=gateway, watermarks=journal, metrics=metrics
            )
            opener = IssueOpener(config, lanes=lanes, github=gateway, reconciler=reconciler)
            assert config.airtable_base_id is not None
            base_id = config.airtable_base_id
            return Bot(opener, reconciler, lanes.for_base(base_id), base_id)

        try:
            yield World(local_airtable, github, proxy, start)
        finally:
            for lanes in lanes_made:
                await lanes.close()
            for journal in journals:
                journal.close()


# -- a new deliverable -----------------------------------------------------------------------


async def test_a_new_deliverable_gets_one_issue_under_the_tracking_issue(world: World) -> None:
    gh = world.github
    gh.add_issue(OWNER, REPO, EPIC, title="Epic: workshop hub")  # a person's tracking issue
    world.set_project(world.hub, **{"Tracking Issue": issue_url(EPIC)})
    record_id = world.add_deliverable("Write the docs", world.hub)
    bot = world.start()

    outcome = await bot.opener.follow_deliverable(bot.base_id, record_id)

    [issue] = world.marked(DELIVERABLE, record_id)
    assert outcome == (
        f"deliverable {record_id} 'Write the docs': opened {HERE}#{issue['number']}; "
        f"sub-issue of {HERE}#{EPIC}"
    )
    assert issue["title"] == "Write the docs"
    assert issue["body"].startswith(marker(DELIVERABLE, record_id) + "\n")
    assert "Project: Setup workshop hub" in issue["body"]
    assert "Engagement: Example University 2026" in issue["body"]
    assert "<https://example.org/sow/example-university-2026>" in issue["body"]
    assert [s["number"] for s in gh.sub_issues(OWNER, REPO, EPIC)] == [issue["number"]]
    fields = world.record(record_id)
    assert fields["GitHub Issue"] == issue["html_url"] == issue_url(issue["number"])
    assert fields["Status"] == "Todo"  # the reconcile took over
    assert fields["Name"] == "Write the docs"
    assert "Last synced" in fields
    # The person's tracking issue is theirs: its body is not rewritten.
    assert gh.issue(OWNER, REPO, EPIC)["body"] is None
    assert world.opened() == 1


async def test_followed_twice_and_at_once_a_deliverable_has_one_issue(world: World) -> None:
    record_id = world.add_deliverable("Write the docs", world.hub)
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})  # someone's issue
    bot = world.start()

    outcomes = await asyncio.gather(
        *(bot.opener.follow_deliverable(bot.base_id, record_id) for _ in range(3))
    )
    again = await bot.opener.follow_deliverable(bot.base_id, record_id)

    [issue] = world.marked(DELIVERABLE, record_id)
    assert world.opened() == 1
    assert sum("opened" in o for o in outcomes) == 1
    assert (
        again
        == f"deliverable {record_id} 'Write the docs': has {HERE}#{issue['number']}; reconciled"
    )
    assert world.record(record_id)["GitHub Issue"] == issue["html_url"]


async def test_two_processes_following_one_after_the_other_open_one_issue(world: World) -> None:
    record_id = world.add_deliverable("Write the docs", world.hub)
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})
    first, second = world.start(), world.start()
    await first.opener.follow_deliverable(first.base_id, record_id)
    await second.opener.follow_deliverable(second.base_id, record_id)
    assert world.opened() == 1 and len(world.marked(DELIVERABLE, record_id)) == 1


async def test_two_processes_opening_at_the_same_moment_keep_one_issue(world: World) -> None:
    record_id = world.add_deliverable("Write the docs", world.hub)
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})
    first, second = world.start(), world.start()
    # Both look before either has opened: each finds nothing and opens one.
    world.github.delay(r"/issues$", 0.5, times=2, method="POST")

    await asyncio.gather(
        first.opener.follow_deliverable(first.base_id, record_id),
        second.opener.follow_deliverable(second.base_id, record_id),
    )

    assert world.opened() == 2
    [kept] = world.marked(DELIVERABLE, record_id)
    assert world.record(record_id)["GitHub Issue"] == kept["html_url"]
    [duplicate] = [
        i
        for i in world.github.issues(OWNER, REPO)
        if i["user"]["login"] == world.github.bot_login and i["number"] != kept["number"]
    ]
    assert (duplicate["state"], duplicate["state_reason"]) == ("closed", "duplicate")
    assert duplicate["number"] > kept["number"]
    assert f"{HERE}#{kept['number']}" in duplicate["body"]


async def test_a_crash_between_opening_and_writing_the_url_back_leaves_one_issue(
    world: World,
) -> None:
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})
    record_id = world.add_deliverable("Write the docs", world.hub)
    world.proxy.fail(503, method="PATCH", path=rf"/{DELIVERABLES}$", times=None)
    dying = world.start()
    with pytest.raises(AirtableError):
        await dying.opener.follow_deliverable(dying.base_id, record_id)
    [issue] = world.marked(DELIVERABLE, record_id)
    assert "GitHub Issue" not in world.record(record_id)  # the write never landed

    world.proxy.clear()
    restarted = world.start()  # a new process: no memory of the first
    outcome = await restarted.opener.follow_deliverable(restarted.base_id, record_id)

    assert "found (opened before; its URL written back)" in outcome
    assert world.opened() == 1
    assert world.marked(DELIVERABLE, record_id) == [
        world.github.issue(OWNER, REPO, issue["number"])
    ]
    fields = world.record(record_id)
    assert fields["GitHub Issue"] == issue["html_url"]
    assert fields["Status"] == "Todo"


# -- deliverables with an issue --------------------------------------------------------------


async def test_a_moved_deliverable_moves_under_its_new_projects_tracking_issue(
    world: World,
) -> None:
    gh = world.github
    gh.add_issue(OWNER, REPO, EPIC, title="Epic A")
    gh.add_issue(OWNER, REPO, OTHER_EPIC, title="Epic B")
    second = add_project(world.airtable, "Second hub")
    world.set_project(world.hub, **{"Tracking Issue": issue_url(EPIC)})
    world.set_project(second, Repository=HERE, **{"Tracking Issue": issue_url(OTHER_EPIC)})
    record_id = world.add_deliverable("Write the docs", world.hub)
    bot = world.start()
    await bot.opener.follow_deliverable(bot.base_id, record_id)
    [issue] = world.marked(DELIVERABLE, record_id)

    world.airtable.table(DELIVERABLES).update(record_id, {"Project": [second]})
    gh.close_issue(OWNER, REPO, issue["number"])
    outcome = await bot.opener.follow_deliverable(bot.base_id, record_id)

    assert f"moved under {HERE}#{OTHER_EPIC}" in outcome
    assert gh.sub_issues(OWNER, REPO, EPIC) == []
    assert [s["number"] for s in gh.sub_issues(OWNER, REPO, OTHER_EPIC)] == [issue["number"]]
    assert world.opened() == 1
    # The reconcile saw the record in its new Project: done there, which completes it.
    assert world.record(record_id)["Status"] == "Done"
    assert world.project(second)["Status"] == "Complete"


async def test_a_changed_issue_url_is_synced_from_its_new_issue(world: World) -> None:
    gh = world.github
    gh.add_issue(OWNER, REPO, 7, title="The real issue", assignees=["carol"])
    record_id = world.add_deliverable("Placeholder", world.hub)
    world.airtable.table(DELIVERABLES).update(record_id, {"GitHub Issue": issue_url(1)})
    world.set_project(world.hub, **{"Tracking Issue": issue_url(EPIC)})
    gh.add_issue(OWNER, REPO, EPIC, title="Epic")
    bot = world.start()
    await bot.opener.follow_deliverable(bot.base_id, record_id)

    world.airtable.table(DELIVERABLES).update(record_id, {"GitHub Issue": issue_url(7)})
    await bot.opener.follow_deliverable(bot.base_id, record_id)

    fields = world.record(record_id)
    assert (fields["Name"], fields["Assignees"], fields["Status"]) == (
        "The real issue",
        "carol",
        "In progress",
    )
    assert 7 in [s["number"] for s in gh.sub_issues(OWNER, REPO, EPIC)]
    assert world.opened() == 0


async def test_a_transferred_issue_is_followed_to_its_new_place(world: World) -> None:
    world.github.transfer_issue(OWNER, REPO, 3, OWNER, "elsewhere", new_number=8)
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})
    [load] = [
        r
        for r in world.airtable.table(DELIVERABLES).all()
        if r["fields"]["Name"] == "Load workshop materials"
    ]
    bot = world.start()
    outcome = await bot.opener.follow_deliverable(bot.base_id, load["id"])
    assert f"has {OWNER}/elsewhere#8" in outcome
    assert world.record(load["id"])["GitHub Issue"] == issue_url(8, repo="elsewhere")
    assert [s["number"] for s in world.github.sub_issues(OWNER, REPO, 1)] == [8]


# -- where issues go -------------------------------------------------------------------------


async def test_a_project_without_a_repository_is_skipped(world: World) -> None:
    nowhere = add_project(world.airtable, "Nowhere hub")
    record_id = world.add_deliverable("Write the docs", nowhere)
    bot = world.start()
    outcome = await bot.opener.follow_deliverable(bot.base_id, record_id)
    assert outcome == (
        f"deliverable {record_id} 'Write the docs': its Project 'Nowhere hub' has no "
        "repository (its Repository field, or [airtable_to_github] default_repository or "
        "repositories); no issue opened"
    )
    assert world.github.calls_matching("POST", r"/issues$") == []
    assert "GitHub Issue" not in world.record(record_id)


async def test_a_repository_that_is_not_owner_name_is_named(world: World) -> None:
    odd = add_project(world.airtable, "Odd hub")
    world.set_project(odd, Repository="just-a-name")
    record_id = world.add_deliverable("Write the docs", odd)
    bot = world.start(default_repository=HERE)
    outcome = await bot.opener.follow_deliverable(bot.base_id, record_id)
    assert "names 'just-a-name' as its repository, not owner/name" in outcome
    assert world.opened() == 0


async def test_the_configured_default_repository_is_the_fallback(world: World) -> None:
    world.github.add_repository(OWNER, "docs")
    nowhere = add_project(world.airtable, "Docs hub")
    record_id = world.add_deliverable("Write the docs", nowhere)
    bot = world.start(default_repository=f"{OWNER}/docs")
    await bot.opener.follow_deliverable(bot.base_id, record_id)
    [issue] = world.marked(DELIVERABLE, record_id, repo="docs")
    assert world.record(record_id)["GitHub Issue"] == issue["html_url"]
    # The Project got its tracking issue there too, and the deliverable is under it.
    [tracking] = world.marked(TRACKING, nowhere, repo="docs")
    assert world.project(nowhere)["Tracking Issue"] == tracking["html_url"]
    assert [s["number"] for s in world.github.sub_issues(OWNER, "docs", tracking["number"])] == [
        issue["number"]
    ]


async def test_a_repository_the_app_is_not_installed_on_is_skipped(world: World) -> None:
    world.set_project(world.hub, Repository=f"{OWNER}/not-installed")
    record_id = world.add_deliverable("Write the docs", world.hub)
    bot = world.start()
    outcome = await bot.opener.follow_deliverable(bot.base_id, record_id)
    assert f"the App is not installed on {OWNER}/not-installed; no issue opened" in outcome
    assert world.github.calls_matching("POST", r"/issues$") == []


# -- tracking issues -------------------------------------------------------------------------


async def test_a_tracking_issue_is_opened_once_and_its_list_kept_current(world: World) -> None:
    gh = world.github
    bot = world.start()

    opened = await bot.opener.follow_project(bot.base_id, world.hub)

    [tracking] = world.marked(TRACKING, world.hub)
    ref = IssueRef(OWNER, REPO, tracking["number"])
    assert opened.startswith(
        f"Project {world.hub} 'Setup workshop hub': opened tracking issue {ref}"
    )
    assert tracking["title"] == "Setup workshop hub"
    assert world.project(world.hub)["Tracking Issue"] == tracking["html_url"]
    assert "- [ ] example-org/infrastructure#1 Deploy the hub" in tracking["body"]
    assert "- [ ] example-org/infrastructure#3 Load workshop materials" in tracking["body"]
    # The demo deliverables' issues become its sub-issues.
    assert [s["number"] for s in gh.sub_issues(OWNER, REPO, ref.number)] == [1, 2, 3]

    gh.reset_calls()
    current = await bot.opener.follow_project(bot.base_id, world.hub)
    assert current.endswith(f"tracking issue {ref} is current")
    assert gh.calls_matching("PATCH", r"/issues/") == [] and world.opened() == 0

    # A deliverable added: its issue is opened and listed.
    record_id = world.add_deliverable("Write the docs", world.hub)
    await bot.opener.follow_deliverable(bot.base_id, record_id)
    [issue] = world.marked(DELIVERABLE, record_id)
    body = gh.issue(OWNER, REPO, ref.number)["body"]
    assert f"- [ ] example-org/infrastructure#{issue['number']} Write the docs" in body
    assert issue["number"] in [s["number"] for s in gh.sub_issues(OWNER, REPO, ref.number)]

    # A deliverable done on GitHub: once Airtable says Done, the list says so.
    gh.close_issue(OWNER, REPO, 1)
    await bot.reconciler.reconcile(IssueRef(OWNER, REPO, 1), installation_id=gh.installation_id)
    [deploy] = [
        r
        for r in world.airtable.table(DELIVERABLES).all()
        if r["fields"]["Name"] == "Deploy the hub"
    ]
    assert deploy["fields"]["Status"] == "Done"
    await bot.opener.follow_deliverable(bot.base_id, deploy["id"])
    body = gh.issue(OWNER, REPO, ref.number)["body"]
    assert "- [x] example-org/infrastructure#1 Deploy the hub" in body
    assert world.opened() == 1  # the deliverable's issue only
    assert len(world.marked(TRACKING, world.hub)) == 1


async def test_as_a_listener_the_list_follows_every_decision_of_the_project(
    world: World,
) -> None:
    gh = world.github
    bot = world.start()
    bot.reconciler.project_listeners.append(bot.opener.on_project_update)
    await bot.opener.follow_project(bot.base_id, world.hub)
    [tracking] = world.marked(TRACKING, world.hub)

    gh.close_issue(OWNER, REPO, 2)
    await bot.reconciler.reconcile(IssueRef(OWNER, REPO, 2), installation_id=gh.installation_id)

    body = gh.issue(OWNER, REPO, tracking["number"])["body"]
    assert "- [x] example-org/infrastructure#2 Configure login" in body
    assert "- [ ] example-org/infrastructure#1 Deploy the hub" in body


async def test_a_tracking_issue_opened_before_the_crash_is_found_not_opened_again(
    world: World,
) -> None:
    world.proxy.fail(503, method="PATCH", path=rf"/{PROJECTS}$", times=None)
    dying = world.start()
    with pytest.raises(AirtableError):
        await dying.opener.follow_project(dying.base_id, world.hub)
    assert len(world.marked(TRACKING, world.hub)) == 1
    world.proxy.clear()

    restarted = world.start()
    outcome = await restarted.opener.follow_project(restarted.base_id, world.hub)

    assert "found its tracking issue (URL written back)" in outcome
    [tracking] = world.marked(TRACKING, world.hub)
    assert world.project(world.hub)["Tracking Issue"] == tracking["html_url"]
    assert world.opened() == 1


async def test_a_tracking_issue_a_person_opened_is_left_as_they_wrote_it(world: World) -> None:
    world.github.add_issue(OWNER, REPO, EPIC, title="Epic", body="my words")
    world.set_project(world.hub, **{"Tracking Issue": issue_url(EPIC)})
    bot = world.start()
    outcome = await bot.opener.follow_project(bot.base_id, world.hub)
    assert outcome.endswith(
        f"its tracking issue {HERE}#{EPIC} was not opened by the bot; its body is left alone"
    )
    assert world.github.issue(OWNER, REPO, EPIC)["body"] == "my words"
    assert world.github.calls_matching("PATCH", r"/issues/") == []


# -- open_missing ----------------------------------------------------------------------------


async def test_open_missing_in_a_dry_run_changes_nothing_then_opens_all(world: World) -> None:
    nowhere = add_project(world.airtable, "Nowhere hub")
    lost = world.add_deliverable("Lost", nowhere)
    docs = world.add_deliverable("Write the docs", world.hub)
    slides = world.add_deliverable("Make slides", world.hub)
    before = {r["id"]: r["fields"] for r in world.airtable.table(DELIVERABLES).all()}
    bot = world.start()

    planned = await bot.opener.open_missing(bot.base_id, dry_run=True)

    assert [(i.kind, i.record_id, i.status) for i in planned] == [
        ("deliverable", lost, "skipped"),
        ("tracking", world.hub, "would-open"),
        ("deliverable", slides, "would-open"),
        ("deliverable", docs, "would-open"),
    ]
    assert all(i.dry_run for i in planned)
    assert planned[1].line() == (
        f"Project {world.hub} 'Setup workshop hub': would open its tracking issue in {HERE}"
    )
    assert planned[2].repository == HERE
    assert world.github.calls == []  # GitHub is not even asked
    after = {r["id"]: r["fields"] for r in world.airtable.table(DELIVERABLES).all()}
    assert after == before
    assert "Tracking Issue" not in world.project(world.hub)

    done = await bot.opener.open_missing(bot.base_id, dry_run=False)

    assert [(i.kind, i.status) for i in done] == [
        ("deliverable", "skipped"),
        ("tracking", "opened"),
        ("deliverable", "opened"),
        ("deliverable", "opened"),
    ]
    for record_id in (docs, slides):
        [issue] = world.marked(DELIVERABLE, record_id)
        assert world.record(record_id)["GitHub Issue"] == issue["html_url"]
    [tracking] = world.marked(TRACKING, world.hub)
    assert "Make slides" in world.github.issue(OWNER, REPO, tracking["number"])["body"]
    assert world.opened() == 3

    again = await bot.opener.open_missing(bot.base_id, dry_run=True)
    assert [(i.record_id, i.status) for i in again] == [(lost, "skipped")]


async def test_open_missing_says_what_failed_and_goes_on(world: World) -> None:
    docs = world.add_deliverable("Write the docs", world.hub)
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})
    world.github.inject(r"/issues$", 500, times=1, method="POST")
    bot = world.start()
    [failed] = await bot.opener.open_missing(bot.base_id, dry_run=False)
    assert failed.status == "failed" and failed.record_id == docs
    assert "GitHub answered HTTP 500" in failed.line()
    [retried] = await bot.opener.open_missing(bot.base_id, dry_run=False)
    assert retried.status == "opened"


# -- off, gone, no credentials ---------------------------------------------------------------


async def test_nothing_happens_while_the_direction_is_off(world: World) -> None:
    record_id = world.add_deliverable("Write the docs", world.hub)
    bot = world.start(enabled=False)
    assert await bot.opener.follow_deliverable(bot.base_id, record_id) == OFF
    assert await bot.opener.follow_project(bot.base_id, world.hub) == OFF
    with pytest.raises(OperatorError, match="enabled = true"):
        await bot.opener.open_missing(bot.base_id, dry_run=True)
    assert world.github.calls == []


async def test_a_record_gone_from_airtable_says_so(world: World) -> None:
    bot = world.start()
    gone = "recNoSuchRecord00"
    assert await bot.opener.follow_deliverable(bot.base_id, gone) == (
        f"deliverable {gone}: gone from Airtable"
    )
    assert await bot.opener.follow_project(bot.base_id, gone) == (
        f"Project {gone}: gone from Airtable; nothing to do"
    )
    assert world.github.calls == []


async def test_without_credentials_nothing_is_opened_and_the_log_says_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.set_project(world.hub, **{"Tracking Issue": issue_url(1)})
    record_id = world.add_deliverable("Write the docs", world.hub)
    bot = world.start(github_gateway=LoggingGitHub())
    caplog.set_level(logging.INFO, logger="bot.clients.github")
    outcome = await bot.opener.follow_deliverable(bot.base_id, record_id)
    assert "not opened" in outcome and "needs GitHub App credentials" in outcome
    assert f"would open an issue in {HERE} titled 'Write the docs'" in caplog.text
    assert "GitHub Issue" not in world.record(record_id)
    assert world.github.calls == []
