"""The Linker and the progress comment on their own, over the GitHub stand-in and the local
Airtable: link, move, unlink and track, the issue read from GitHub (or the delivery's copy),
close names offered only from the repository's Projects, and one progress comment per
tracking issue, edited in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable import AirtableLane, Lanes
from bot.clients.github import AppGitHub
from bot.core.issue import IssueRef, IssueState
from bot.intake.journal import Journal
from bot.metrics import Metrics
from bot.sync.link import Linker
from bot.sync.progress_comment import ProgressComments
from bot.sync.reconcile import Reconciler
from tests.bot_fixtures import bot_config, issue_url
from tests.commenting import add_project, deliverable_record, project_id
from tests.constants import DEMO_PROJECT, OWNER, PROJECTS, REPO, WEBHOOK_SECRET
from tests.standins.github import GitHubStandIn

EPIC = 10
PROGRESS = "<!-- deliverables-bot:progress:"


@dataclass
class Parts:
    """A Linker and its reconciler (the progress comment its one listener) on real servers."""

    linker: Linker
    reconciler: Reconciler
    lane: AirtableLane
    installation: int


@pytest.fixture
async def parts(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> AsyncIterator[Parts]:
    github.add_issue(OWNER, REPO, 4, title="Write the docs", assignees=["carol"])
    github.add_issue(OWNER, REPO, EPIC, title="Epic: workshop hub")
    add_project(local_airtable, "Second hub")  # before the lane first reads the Projects
    add_project(local_airtable, "Setup workshop hut")  # no issue in this repository
    config = bot_config(tmp_path / "data", local_airtable, WEBHOOK_SECRET, github)
    metrics = Metrics()
    lanes = Lanes(config, metrics=metrics)
    async with aiohttp.ClientSession() as session:
        with Journal(tmp_path / "journal.sqlite3") as journal:
            gh = AppGitHub(session, config, metrics=metrics)
            reconciler = Reconciler(
                config, lanes=lanes, github=gh, watermarks=journal, metrics=metrics
            )
            reconciler.project_listeners.append(ProgressComments(config, gh))
            linker = Linker(config, lanes=lanes, reconciler=reconciler, github=gh)
            lane = linker.lane(IssueRef(OWNER, REPO, 1))
            assert lane is not None
            try:
                yield Parts(linker, reconciler, lane, int(github.installation()["id"]))
            finally:
                await lanes.close()


def fields_of(at: LocalAirtable, number: int) -> dict:
    """The fields of issue ``number``'s deliverable record, which must exist."""
    record = deliverable_record(at, number)
    assert record is not None, f"issue {number} has no deliverable"
    return dict(record["fields"])


def progress_comments(gh: GitHubStandIn, number: int = EPIC) -> list[dict]:
    """The bot's progress comments on an issue."""
    return [
        c
        for c in gh.comments(OWNER, REPO, number)
        if c["body"].startswith(PROGRESS) and c["user"]["login"] == gh.bot_login
    ]


async def test_link_makes_the_record_from_the_issue_and_again_changes_nothing(
    parts: Parts, local_airtable: LocalAirtable
) -> None:
    hub = project_id(local_airtable, DEMO_PROJECT)
    ref = IssueRef(OWNER, REPO, 4)
    first = await parts.linker.link(
        parts.lane, ref, hub, installation_id=parts.installation, hint=None
    )
    assert first.created and not first.already and first.previous == []
    fields = fields_of(local_airtable, 4)
    assert (fields["Name"], fields["Status"], fields["Assignees"]) == (
        "Write the docs",
        "In progress",
        "carol",
    )
    assert fields["Project"] == [hub]
    again = await parts.linker.link(
        parts.lane, ref, hub, installation_id=parts.installation, hint=None
    )
    assert again.already and not again.created
    assert again.record["id"] == first.record["id"]


async def test_link_moves_and_unlink_only_takes_it_out_of_its_own_project(
    parts: Parts, local_airtable: LocalAirtable
) -> None:
    hub = project_id(local_airtable, DEMO_PROJECT)
    second = project_id(local_airtable, "Second hub")
    ref = IssueRef(OWNER, REPO, 1)
    moved = await parts.linker.link(
        parts.lane, ref, second, installation_id=parts.installation, hint=None
    )
    assert moved.previous == [hub] and not moved.created
    not_there = await parts.linker.unlink(
        parts.lane, ref, installation_id=parts.installation, only_from=hub
    )
    assert not_there.record is None
    assert fields_of(local_airtable, 1)["Project"] == [second]
    out = await parts.linker.unlink(parts.lane, ref, installation_id=parts.installation)
    assert out.previous == [second]
    fields = fields_of(local_airtable, 1)
    assert "Project" not in fields and fields["Status"] == "Cancelled"


async def test_an_issue_github_will_not_show_is_linked_as_the_delivery_had_it(
    parts: Parts, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    github.inject(r"/issues/4$", 404, times=None, method="GET")
    ref = IssueRef(OWNER, REPO, 4)
    hint = IssueState(
        ref=ref, title="As delivered", state="closed", closed_at="2026-01-02T03:04:05Z"
    )
    hub = project_id(local_airtable, DEMO_PROJECT)
    await parts.linker.link(parts.lane, ref, hub, installation_id=parts.installation, hint=hint)
    fields = fields_of(local_airtable, 4)
    assert (fields["Name"], fields["Status"]) == ("As delivered", "Done")


async def test_close_names_come_only_from_the_projects_of_the_repository(parts: Parts) -> None:
    near = IssueRef(OWNER, REPO, 4)
    here = await parts.linker.find(parts.lane, "Setup workshop hu", near=near)
    anywhere = await parts.linker.find(parts.lane, "Setup workshop hu")
    assert here.project is None and here.suggestions == [DEMO_PROJECT]
    assert set(anywhere.suggestions) == {DEMO_PROJECT, "Setup workshop hut"}
    exact = await parts.linker.find(parts.lane, "  setup WORKSHOP hub ", near=near)
    assert exact.project is not None and exact.project["fields"]["Name"] == DEMO_PROJECT


async def test_track_links_the_sub_issues_and_keeps_one_progress_comment(
    parts: Parts, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    github.add_sub_issue(OWNER, REPO, EPIC, 4)
    hub = project_id(local_airtable, DEMO_PROJECT)
    project = await parts.lane.get_project(hub)
    assert project is not None
    epic = IssueRef(OWNER, REPO, EPIC)
    linked = await parts.linker.track(parts.lane, epic, project, installation_id=parts.installation)
    assert linked == [IssueRef(OWNER, REPO, 4)]
    [tracked] = [r for r in local_airtable.table(PROJECTS).all() if r["id"] == hub]
    assert tracked["fields"]["Tracking Issue"] == issue_url(EPIC)
    assert (await parts.linker.tracked_by(parts.lane, epic) or {}).get("id") == hub
    [posted] = progress_comments(github)
    assert "0/4 deliverables done" in posted["body"] and "Write the docs" in posted["body"]

    # Deciding the Project again with nothing changed asks GitHub nothing about comments.
    github.reset_calls()
    await parts.reconciler.update_project(
        parts.lane, hub, ref=epic, installation_id=parts.installation
    )
    assert not github.calls_matching(None, r"/comments")

    # A deliverable done: the same comment is edited, even by a freshly started listener.
    parts.reconciler.project_listeners[:] = [
        ProgressComments(parts.reconciler.config, parts.reconciler.github)
    ]
    github.close_issue(OWNER, REPO, 4)
    await parts.reconciler.reconcile(IssueRef(OWNER, REPO, 4), installation_id=parts.installation)
    [edited] = progress_comments(github)
    assert edited["id"] == posted["id"]
    assert "1/4 deliverables done" in edited["body"]
    assert "- [x] Write the docs" in edited["body"]
    assert len(github.calls_matching("POST", rf"/issues/{EPIC}/comments$")) == 0
