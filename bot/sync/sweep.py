"""The sweep: make every deliverable true to its issue (backfill, drift repair), GitHub the truth.

The engine of the ``sync`` command and of ``serve``'s schedule (both built by :mod:`bot.app`).
A sync reads each base through its lane and each repository's issues from GitHub page by
page, then plans: the deliverables whose fields differ from their issue, the issues that carry
a project label (``labels.project_prefix`` + a Project's name) but have no deliverable yet,
the Projects whose Status their deliverables no longer support, and the renewal signals due.
A label is matched as a label added live is (:func:`bot.core.projects.find_project`): a name
no Project has, or several have, is reported, not linked. A dry run reports the plan and
writes nothing. Otherwise the plan is carried out through the bot's own :class:`Reconciler`
(same lane: rate limit, batches of ten; same Project locks, listeners and completion
comments), so re-running a sync, or resuming an interrupted one, converges to the same base.
What it did goes in a :class:`bot.sync.sweep_report.SyncReport`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import date
from typing import Any

from bot.clients.airtable import AirtableError, AirtableLane
from bot.clients.errors import (
    GITHUB_FAILURES,
    OperatorError,
    airtable_problem_for,
    github_problem_for,
)
from bot.clients.github import GitHubGateway
from bot.clients.reads import base_ids, fetch_issues, installation_ids, read_base
from bot.config import Config
from bot.core.completion import decide_project
from bot.core.issue import IssueRef, IssueState, parse_issue_url
from bot.core.labels import project_name
from bot.core.progress import progress
from bot.core.projects import find_project, new_deliverable_fields
from bot.core.records import Record, airtable_now
from bot.core.status import deliverable_state
from bot.sync.reconcile import Reconciler
from bot.sync.renewal import RenewalSignal
from bot.sync.sweep_report import (
    Meter,
    PlannedLink,
    PlannedProject,
    PlannedUpdate,
    SilentMeter,
    SyncReport,
)

log = logging.getLogger(__name__)

INSTALLATIONS_FAILED = "listing the App's installations"
REPOSITORIES_FAILED = "listing the repositories of installation {id}"
CONCURRENCY = 20  # reconciles in flight at once; enough to fill batches of ten


def _first_project_label(labels: tuple[str, ...], prefix: str) -> tuple[str, str] | None:
    """The first project label and the name it gives (:func:`bot.core.labels.project_name`)."""
    for label in labels:
        name = project_name(label, prefix)
        if name is not None:
            return label, name
    return None


@dataclass
class Syncer:
    """Plans and carries out a sync of every base the configuration names."""

    config: Config
    _: KW_ONLY
    lane_for: Callable[[str], AirtableLane]
    github: GitHubGateway
    reconciler: Reconciler
    renewal: RenewalSignal

    async def run(
        self,
        *,
        repo: tuple[str, str] | None = None,
        dry_run: bool = False,
        meter: Meter | None = None,
        today: date | None = None,
    ) -> SyncReport:
        """Sync every base (only ``repo``'s issues when given); returns what changed."""
        report = SyncReport(dry_run)
        shown = meter or SilentMeter()
        bases = base_ids(self.config)
        for base_id in bases:
            try:
                await self._sync_base(self.lane_for(base_id), repo, dry_run, shown, report, today)
            except AirtableError as exc:
                if len(bases) == 1:
                    raise
                # One base failing leaves the others to sync.
                report.skip(f"base {base_id}", airtable_problem_for(self.config, exc))
        return report

    async def _installations(self, shown: Meter) -> dict[str, int]:
        """The App's installations; without them nothing can be read, so this one fails."""
        shown.note("asking GitHub for the App's installations")
        try:
            return await installation_ids(self.github)
        except GITHUB_FAILURES as exc:
            raise OperatorError(
                github_problem_for(self.config, exc, what=INSTALLATIONS_FAILED)
            ) from exc

    async def _sync_base(
        self,
        lane: AirtableLane,
        repo: tuple[str, str] | None,
        dry_run: bool,
        shown: Meter,
        report: SyncReport,
        today: date | None,
    ) -> None:
        config = self.config
        names = config.fields.deliverables
        data = await read_base(lane)
        in_scope: list[tuple[Record, IssueRef]] = []
        for record in data.deliverables:
            ref = parse_issue_url(str(record["fields"].get(names.issue) or ""))
            if ref is None:
                report.counts["deliverables without an issue URL (skipped)"] += 1
                continue
            if repo and (ref.owner.lower(), ref.repo.lower()) != repo:
                continue
            if self.reconciler.is_detached(record):
                report.counts["unlinked deliverables (left as they are)"] += 1
                continue
            in_scope.append((record, ref))
        extra = [repo] if repo else []
        if not repo:
            for project in data.projects:
                tracking = parse_issue_url(
                    str(project["fields"].get(config.fields.projects.tracking_issue) or "")
                )
                if tracking:
                    extra.append((tracking.owner, tracking.repo))
        installations = await self._installations(shown)
        if not repo:
            # Every repository the App can reach, for labelled issues not linked yet.
            for installation_id in installations.values():
                try:
                    found_repos = await self.github.installation_repositories(installation_id)
                except GITHUB_FAILURES as exc:
                    what = REPOSITORIES_FAILED.format(id=installation_id)
                    report.skip(what, github_problem_for(config, exc))
                    continue
                for found in found_repos:
                    extra.append((str(found["owner"]["login"]), str(found["name"])))
        shown.note(f"reading issues from GitHub for {len(in_scope)} deliverable(s)")
        index = await fetch_issues(
            self.github,
            [ref for _, ref in in_scope],
            extra_repos=extra,
            installations=installations,
            describe=lambda exc: github_problem_for(config, exc),
            on_repo=lambda name, n, total: shown.note(
                f"reading the issues of {name} ({n}/{total})"
            ),
        )
        report.uninstalled(index.uninstalled)
        report.not_visible(config, in_scope, index.not_visible)
        report.unreadable(index.unreadable)
        if not dry_run:
            for _, ref in in_scope:
                if ref.key in index.not_visible:
                    await self.reconciler.note_not_visible(ref)
                elif ref.key in index.states:
                    await self.reconciler.clear_not_visible(ref)
        report.counts["deliverables checked"] += len(in_scope)

        updates = self._plan_updates(in_scope, index.states)
        links = self._plan_links(data.projects, data.deliverables, index.raw, repo, report)
        scope = {record["id"] for record, _ in in_scope}
        projects, touched = self._plan_projects(
            data.projects, data.deliverables, scope, updates, links
        )
        report.plan(config, updates, links, projects)
        if not dry_run:
            await self._apply(lane, updates, links, touched, index.installations, shown, report)
        report.renewals(await self.renewal.check_all(lane, today=today, dry_run=dry_run))
        report.drop_empty_counts()

    def _plan_updates(
        self, in_scope: list[tuple[Record, IssueRef]], states: dict[str, IssueState]
    ) -> list[PlannedUpdate]:
        planned = []
        for record, ref in in_scope:
            issue = states.get(ref.key)
            if issue is None:
                continue  # its repository is not installed: reported as skipped
            desired = deliverable_state(issue, self.config.statuses, self.config.labels)
            # The reconciler's own comparison, so the plan is exactly what it will write.
            changes = self.reconciler.changes_for(record, desired)
            if issue.ref.key != ref.key:  # transferred: GitHub answered 301
                changes[self.config.fields.deliverables.issue] = issue.ref.url
            if changes:
                planned.append(PlannedUpdate(record, ref, changes))
        return planned

    def _plan_links(
        self,
        projects: list[Record],
        deliverables: list[Record],
        raw: dict[str, dict[str, Any]],
        repo: tuple[str, str] | None,
        report: SyncReport,
    ) -> list[PlannedLink]:
        config = self.config
        names = config.fields.deliverables
        linked = set()
        for record in deliverables:
            ref = parse_issue_url(str(record["fields"].get(names.issue) or ""))
            if ref:
                linked.add(ref.key)
        by_id = {project["id"]: project for project in projects}
        planned = []
        for key, issue_data in sorted(raw.items()):
            issue = IssueState.from_api(issue_data)
            if key in linked or issue.ref.key in linked:
                continue
            if repo and (issue.ref.owner.lower(), issue.ref.repo.lower()) != repo:
                continue
            named = _first_project_label(issue.labels, config.labels.project_prefix)
            if named is None:
                continue
            label, name = named
            # The rule of a label added live (handlers.labels): one Project of that name.
            match = find_project(by_id, name, config.fields.projects.name)
            if match.project is None:
                report.unmatched_label(issue.ref, label, name, match)
                continue
            fields = new_deliverable_fields(
                config, issue.ref, match.project["id"], issue, airtable_now()
            )
            planned.append(PlannedLink(issue.ref, match.project, fields))
        return planned

    def _plan_projects(
        self,
        projects: list[Record],
        deliverables: list[Record],
        scope: set[str],
        updates: list[PlannedUpdate],
        links: list[PlannedLink],
    ) -> tuple[list[PlannedProject], dict[str, IssueRef]]:
        """Projects of the deliverables in scope (or newly linked) whose Status their
        deliverables, once synced, no longer support; and every Project in scope, with an
        issue of one of its deliverables (each is decided again, announcements checked)."""
        config = self.config
        names = config.fields.deliverables
        status_after = {r["id"]: r["fields"].get(names.status) for r in deliverables}
        for u in updates:
            status_after[u.record["id"]] = u.changes.get(names.status, status_after[u.record["id"]])
        members: dict[str, list[str | None]] = collections.defaultdict(list)
        refs: dict[str, IssueRef] = {}
        touched = {link.project["id"] for link in links}
        for record in deliverables:
            for project_id in record["fields"].get(names.project) or ():
                members[project_id].append(status_after[record["id"]])
                ref = parse_issue_url(str(record["fields"].get(names.issue) or ""))
                if ref:
                    refs.setdefault(project_id, ref)
                if record["id"] in scope:
                    touched.add(project_id)  # a Project in scope may have drifted itself
        for link in links:
            members[link.project["id"]].append(link.fields[names.status])
            refs.setdefault(link.project["id"], link.ref)
        planned = []
        in_scope = {p: refs[p] for p in sorted(touched) if p in refs}
        for project in projects:
            if project["id"] not in in_scope:
                continue
            current = project["fields"].get(config.fields.projects.status)
            decision = decide_project(
                current, progress(members[project["id"]], config.statuses), config.statuses
            )
            if decision.status != current:
                planned.append(
                    PlannedProject(project, current, decision.status, refs[project["id"]])
                )
        return planned, in_scope

    async def _apply(
        self,
        lane: AirtableLane,
        updates: list[PlannedUpdate],
        links: list[PlannedLink],
        projects: dict[str, IssueRef],
        installations: dict[str, int],
        shown: Meter,
        report: SyncReport,
    ) -> None:
        """Carry out the plan: reconciles and creations concurrently (so writes batch), then
        every Project in scope decided again under its lock, its announcements checked. A
        step that fails (GitHub or Airtable refusing, failing, not answering) is recorded in
        the report with its reason, and the others go on."""
        limit = asyncio.Semaphore(CONCURRENCY)
        config = self.config

        async def one(work: Awaitable[Any], what: str = "") -> None:
            try:
                async with limit:
                    await work
            except AirtableError as exc:
                report.skip(what, airtable_problem_for(config, exc))
            except GITHUB_FAILURES as exc:
                report.skip(what, github_problem_for(config, exc))
            shown.step()

        shown.start("syncing", len(updates) + len(links) + len(projects))
        try:
            await asyncio.gather(
                *(
                    one(
                        self.reconciler.reconcile(
                            u.ref, installation_id=installations.get(u.ref.owner.lower())
                        ),
                        f"updating the deliverable of {u.ref}",
                    )
                    for u in updates
                ),
                *(
                    one(
                        lane.create(self.config.tables.deliverables, link.fields),
                        f"linking {link.ref}",
                    )
                    for link in links
                ),
            )
            for project_id, ref in projects.items():
                await one(
                    self.reconciler.update_project(
                        lane,
                        project_id,
                        ref=ref,
                        installation_id=installations.get(ref.owner.lower()),
                        verify_announcement=True,
                    ),
                    f"deciding Project {project_id}",
                )
        finally:
            shown.close()


async def run_schedule(syncer: Syncer, interval_hours: float, *, can_read: bool) -> None:
    """``serve``'s timer: every ``interval_hours``, sync (or, without GitHub, only the renewal
    check). Runs until cancelled; a failed round is logged and the next one runs anyway."""
    while True:
        await asyncio.sleep(interval_hours * 3600)
        try:
            if can_read:
                report = await syncer.run()
                log.info("scheduled sync done: %s", dict(report.counts))
                for what, reason in report.unreached:
                    log.warning("scheduled sync could not reach %s: %s", what, reason)
            else:
                for base_id in base_ids(syncer.config):
                    actions = await syncer.renewal.check_all(syncer.lane_for(base_id))
                    log.info("scheduled renewal check: %d engagement(s) signalled", len(actions))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            from bot.clients.errors import describe

            log.warning(
                "scheduled sync failed (%s); the next runs in %s h",
                describe(exc, syncer.config),
                interval_hours,
            )
            log.debug("scheduled sync failure", exc_info=True)
