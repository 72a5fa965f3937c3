"""``sync``: drift repaired, labelled issues linked, ``--dry-run`` writing nothing, re-runnable,
and the same sync on ``serve``'s schedule."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from bot.airtable_local.thread import LocalAirtable
from bot.app import sync_command
from bot.config import ScheduleSettings
from bot.sync.sweep_report import Meter
from tests.bot_fixtures import StartBot, bot_config
from tests.constants import DELIVERABLES, DEMO_PROJECT, OWNER, REPO
from tests.operator_helpers import operator_env, record_id, records, run_bot
from tests.standins.github import GitHubStandIn

HUB = DEMO_PROJECT


def by_issue(at: LocalAirtable) -> dict[str, dict[str, Any]]:
    """Deliverable fields by issue number."""
    return {
        r["fields"]["GitHub Issue"].rsplit("/", 1)[1]: r["fields"]
        for r in records(at, DELIVERABLES)
        if "GitHub Issue" in r["fields"]
    }


async def sync(at: LocalAirtable, gh: GitHubStandIn, tmp_path: Path, **kwargs: Any) -> str:
    """Run one sync in process; what it printed (``code``: the exit code expected, 0 unless
    something could not be reached)."""
    expected = kwargs.pop("code", 0)
    out = io.StringIO()
    config = bot_config(tmp_path / "data", at, "s", gh)
    code = await sync_command(
        config,
        repo=kwargs.pop("repo", None),
        dry_run=kwargs.pop("dry_run", False),
        out=out,
        meter=Meter(io.StringIO()),
    )
    assert code == expected, out.getvalue()
    return out.getvalue()


def drift(gh: GitHubStandIn) -> None:
    """What happened on GitHub while the bot missed its deliveries."""
    gh.close_issue(OWNER, REPO, 1)
    gh.update_issue(OWNER, REPO, 3, title="Load the materials", assignees=["carol"])
    gh.add_issue(OWNER, REPO, 4, title="Print badges", labels=[f"project: {HUB.upper()}"])
    gh.add_issue(OWNER, REPO, 5, title="Unrelated", labels=["project: Nope"])
    gh.add_issue(OWNER, REPO, 6, title="No label")


async def test_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    drift(github)
    before = {t: records(local_airtable, t) for t in (DELIVERABLES, "Projects", "Opportunities")}
    out = await sync(local_airtable, github, tmp_path, dry_run=True)
    after = {t: records(local_airtable, t) for t in before}
    assert after == before
    assert 'would update deliverable "Deploy the hub"' in out
    assert "Status In progress → Done" in out
    assert "Assignees empty → carol" in out
    assert f'would link example-org/infrastructure#4 "Print badges" to Project "{HUB}"' in out
    assert 'example-org/infrastructure#5 has the label "project: Nope" but no Project' in out
    assert "sync summary (dry run: nothing written):" in out
    assert "  deliverables updated: 3" in out  # the demo base has no Assignees yet
    assert "  deliverable assignees changed: 3" in out
    assert "  deliverables linked: 1" in out
    assert "  deliverable status changed: 2" in out
    assert "  deliverable title changed: 1" in out
    assert not [c for c in github.calls if c.method != "GET" and "access_tokens" not in c.path]


async def test_sync_repairs_drift_links_labelled_issues_and_is_idempotent(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    drift(github)
    out = await sync(local_airtable, github, tmp_path)
    rows = by_issue(local_airtable)
    assert rows["1"]["Status"] == "Done" and rows["1"]["Completed"]
    assert rows["3"]["Name"] == "Load the materials"
    assert rows["3"]["Status"] == "In progress" and rows["3"]["Assignees"] == "carol"
    assert rows["4"]["Name"] == "Print badges" and rows["4"]["Status"] == "Todo"
    assert rows["4"]["Project"] == [record_id(local_airtable, "Projects", HUB)]
    assert "5" not in rows and "6" not in rows
    assert "  deliverables linked: 1" in out
    again = await sync(local_airtable, github, tmp_path)
    assert "updated" not in again.replace("deliverables updated", "")
    assert "linked:" not in again
    assert len(by_issue(local_airtable)) == 4


async def test_sync_completes_the_project_and_signals_renewal_once(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    for number in (1, 2, 3):
        github.close_issue(OWNER, REPO, number)
    out = await sync(local_airtable, github, tmp_path)
    hub = next(r for r in records(local_airtable, "Projects") if r["fields"]["Name"] == HUB)
    assert hub["fields"]["Status"] == "Complete"
    engagement = records(local_airtable, "Engagements")[0]["fields"]
    assert engagement["Status"] == "Delivered"
    renewals = [
        r["fields"]
        for r in records(local_airtable, "Opportunities")
        if r["fields"]["Name"] == "Example University 2026 renewal"
    ]
    assert renewals == [
        {"Name": "Example University 2026 renewal", "Type": "Renewal", "Stage": "Prospect"}
    ]
    completed = [c for c in github.comments(OWNER, REPO, 3) if "is complete" in c["body"]]
    completed += [c for c in github.comments(OWNER, REPO, 1) if "is complete" in c["body"]]
    assert len(completed) == 1
    assert "deliverables updated: 3" in out
    await sync(local_airtable, github, tmp_path)
    assert len(records(local_airtable, "Opportunities")) == 2


async def test_a_reopened_deliverable_makes_the_delivered_engagement_active_again(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    for number in (1, 2, 3):
        github.close_issue(OWNER, REPO, number)
    await sync(local_airtable, github, tmp_path)
    engagement = records(local_airtable, "Engagements")[0]
    assert engagement["fields"]["Status"] == "Delivered"
    github.reopen_issue(OWNER, REPO, 2)
    await sync(local_airtable, github, tmp_path, dry_run=True)
    assert records(local_airtable, "Engagements")[0]["fields"]["Status"] == "Delivered"
    await sync(local_airtable, github, tmp_path)  # the Project reopens, and with it the Engagement
    hub = next(r for r in records(local_airtable, "Projects") if r["fields"]["Name"] == HUB)
    assert hub["fields"]["Status"] == "In progress"
    assert records(local_airtable, "Engagements")[0]["fields"]["Status"] == "Active"
    renewals = [
        r
        for r in records(local_airtable, "Opportunities")
        if r["fields"]["Name"].endswith("renewal")
    ]
    assert len(renewals) == 1  # kept: a sales record by now

    # Left Delivered by someone (or by a bot that did not follow reopens): the sweep repairs it.
    local_airtable.table("Engagements").update(engagement["id"], {"Status": "Delivered"})
    out = await sync(local_airtable, github, tmp_path)
    assert (
        f'marked Engagement "Example University 2026" ({engagement["id"]}) Active again: one of '
        "its Projects is no longer Complete"
    ) in out
    assert "engagements reopened: 1" in out
    assert records(local_airtable, "Engagements")[0]["fields"]["Status"] == "Active"
    assert "Active again" not in await sync(local_airtable, github, tmp_path)

    github.close_issue(OWNER, REPO, 2)
    await sync(local_airtable, github, tmp_path)
    assert records(local_airtable, "Engagements")[0]["fields"]["Status"] == "Delivered"
    assert len(records(local_airtable, "Opportunities")) == 2  # no second renewal


async def test_repo_limits_the_sync(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    drift(github)
    out = await sync(local_airtable, github, tmp_path, repo=("other-org", "elsewhere"))
    assert "deliverables updated" not in out
    assert by_issue(local_airtable)["1"]["Status"] == "In progress"


def test_plain_progress_lines_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    shown = Meter(stream, every=2)
    shown.start("syncing", 3)
    for _ in range(3):
        shown.step()
    shown.note("done")
    shown.close()
    assert stream.getvalue().splitlines() == [
        "syncing: 0/3",
        "syncing: 2/3",
        "syncing: 3/3",
        "done",
    ]


def test_sync_command_as_a_user_runs_it(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    github.close_issue(OWNER, REPO, 2)
    env = operator_env(tmp_path, local_airtable, github)
    dry = run_bot("sync", "--dry-run", "--repo", f"{OWNER}/{REPO}", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert 'would update deliverable "Configure login"' in dry.stdout
    assert by_issue(local_airtable)["2"]["Status"] == "In progress"
    real = run_bot("sync", env=env, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    # Two deliverables repaired, then their Project decided again (every Project in scope is).
    assert "syncing: 3/3" in real.stderr, real.stdout
    assert by_issue(local_airtable)["2"]["Status"] == "Done"
    bad = run_bot("sync", "--repo", "nonsense", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "expected OWNER/REPO" in bad.stderr


def test_sync_without_github_credentials_exits_2_saying_why(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    result = run_bot("sync", env=operator_env(tmp_path, local_airtable), cwd=tmp_path)
    assert result.returncode == 2
    assert "sync needs the GitHub App's credentials" in result.stderr


async def test_serve_runs_the_sync_on_its_schedule(
    start_bot: StartBot, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    github.close_issue(OWNER, REPO, 1)  # no delivery: only the schedule can notice
    await start_bot(github=github, schedule=ScheduleSettings(sync_interval_hours=0.0002))
    for _ in range(100):
        if by_issue(local_airtable)["1"]["Status"] == "Done":
            break
        await asyncio.sleep(0.05)
    assert by_issue(local_airtable)["1"]["Status"] == "Done"


async def test_a_zero_interval_turns_the_schedule_off(
    start_bot: StartBot, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    github.close_issue(OWNER, REPO, 1)
    bot = await start_bot(github=github, schedule=ScheduleSettings(sync_interval_hours=0))
    await asyncio.sleep(0.3)
    assert by_issue(local_airtable)["1"]["Status"] == "In progress"
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "scheduled-sync"]
    assert bot.services.reconciler is not None


async def test_labelled_issues_in_any_installed_repository_are_linked(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    # No deliverable or tracking issue names this repository; the installation reaches it.
    github.add_repository(OWNER, "workshop-content")
    github.add_issue(OWNER, "workshop-content", 9, title="Slides", labels=[f"project: {HUB}"])
    out = await sync(local_airtable, github, tmp_path)
    assert "  deliverables linked: 1" in out
    linked = [
        r["fields"]
        for r in records(local_airtable, DELIVERABLES)
        if r["fields"].get("GitHub Issue", "").endswith("/workshop-content/issues/9")
    ]
    assert [(f["Name"], f["Status"]) for f in linked] == [("Slides", "Todo")]
    assert github.calls_matching("GET", r"^/installation/repositories$")


def bot_comments(gh: GitHubStandIn, prefix: str) -> list[dict[str, Any]]:
    """The bot's own comments on the demo issues whose body starts with ``prefix``."""
    return [
        c
        for n in (1, 2, 3)
        for c in gh.comments(OWNER, REPO, n)
        if c["user"]["login"] == gh.bot_login and c["body"].startswith(prefix)
    ]


async def test_sweep_announces_a_complete_project_that_never_was_and_only_once(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    # All done and the Project already Complete in Airtable, but no comment ever posted (a
    # lost POST, a crash, an older bot): the sweep posts it; the next sweep does not.
    assert local_airtable.base_id is not None
    store = local_airtable.store
    for number in (1, 2, 3):
        issue = github.close_issue(OWNER, REPO, number)
        rid = next(
            r["id"]
            for r in records(local_airtable, DELIVERABLES)
            if r["fields"]["GitHub Issue"].endswith(f"/{number}")
        )
        fields = {"Status": "Done", "Completed": issue["closed_at"]}
        store.update_records(local_airtable.base_id, DELIVERABLES, [{"id": rid, "fields": fields}])
    hub = record_id(local_airtable, "Projects", HUB)
    store.update_records(
        local_airtable.base_id, "Projects", [{"id": hub, "fields": {"Status": "Complete"}}]
    )
    marker = f"<!-- deliverables-bot:project-completed:{hub}:"
    await sync(local_airtable, github, tmp_path)
    assert len(bot_comments(github, marker)) == 1
    await sync(local_airtable, github, tmp_path)
    assert len(bot_comments(github, marker)) == 1


async def test_sweep_reads_404_410_and_301_as_github_means_them(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    before = by_issue(local_airtable)["2"]
    github.transfer_issue(OWNER, REPO, 1, OWNER, "hubs", new_number=5)
    github.delete_issue(OWNER, REPO, 3)
    # Issue 2 is missing from the listing and answers 404 on its own: not visible.
    github.inject(r"/issues/2$", 404, times=None, method="GET")
    github.inject(r"/repos/example-org/infrastructure/issues$", 200, times=None, body=[])
    out = await sync(local_airtable, github, tmp_path, code=1)  # one issue not reached
    rows = by_issue(local_airtable)
    assert rows["2"] == before  # left as it is
    assert rows["3"]["Status"] == "Cancelled"
    moved = next(r for r in rows.values() if r["Name"] == "Deploy the hub")
    assert moved["GitHub Issue"] == "https://github.com/example-org/hubs/issues/5"
    assert (
        "left as they are: 1 deliverable(s) in example-org/infrastructure, GitHub answers 404"
        in out
    )
    assert '"Configure login"' in out
    assert "  skipped: not visible on GitHub (404): 1" in out
    assert "  example-org/infrastructure: GitHub answers 404" in out  # in the summary too


def progress_on(gh: GitHubStandIn, number: int) -> list[dict[str, Any]]:
    """The bot's progress comments on an issue."""
    return [
        c
        for c in gh.comments(OWNER, REPO, number)
        if c["user"]["login"] == gh.bot_login
        and c["body"].startswith("<!-- deliverables-bot:progress:")
    ]


async def test_sync_keeps_the_tracking_issues_progress_comment_current(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    # The progress comment is a Project listener: `sync` wires it as serve does.
    github.add_issue(OWNER, REPO, 10, title="Epic: workshop hub")
    hub = record_id(local_airtable, "Projects", HUB)
    local_airtable.table("Projects").update(
        hub, {"Tracking Issue": f"https://github.com/{OWNER}/{REPO}/issues/10"}
    )
    github.close_issue(OWNER, REPO, 1)
    await sync(local_airtable, github, tmp_path)
    [posted] = progress_on(github, 10)
    assert "1/3 deliverables done" in posted["body"]
    assert "- [x] Deploy the hub" in posted["body"]
    github.close_issue(OWNER, REPO, 2)
    await sync(local_airtable, github, tmp_path)
    [edited] = progress_on(github, 10)
    assert edited["id"] == posted["id"]
    assert "2/3 deliverables done" in edited["body"]


async def test_a_label_naming_two_projects_is_reported_not_linked(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    # As a label added live is refused (handlers.labels), so is it by `sync`.
    original = record_id(local_airtable, "Projects", HUB)
    twin = local_airtable.table("Projects").create({"Name": HUB, "Status": "Not started"})
    github.add_issue(OWNER, REPO, 4, title="Print badges", labels=[f"project: {HUB}"])
    github.add_issue(OWNER, REPO, 5, title="Hand out badges", labels=[f"project: {twin['id']}"])
    out = await sync(local_airtable, github, tmp_path)
    assert (
        f'example-org/infrastructure#4 has the label "project: {HUB}" but 2 Projects are named '
        f'"{HUB}" ({", ".join(sorted([original, twin["id"]]))}); not linked'
    ) in out
    assert "  labelled issues naming several Projects (skipped): 1" in out
    rows = by_issue(local_airtable)
    assert "4" not in rows
    assert rows["5"]["Project"] == [twin["id"]]  # a record id names one Project, as live
