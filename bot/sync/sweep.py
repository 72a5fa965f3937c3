"""``sync``: make every deliverable true to its issue (backfill, drift repair), GitHub the truth.

A sync reads each base through its lane and each repository's issues from GitHub page by
page, then plans: the deliverables whose fields differ from their issue, the issues that carry
a project label (``labels.project_prefix`` + a Project's name) but have no deliverable yet,
the Projects whose Status their deliverables no longer support, and the renewal signals due.
A dry run prints the plan and writes nothing. Otherwise the plan is carried out through the
bot's own :class:`Reconciler` (same lane: rate limit, batches of ten; same Project locks and
completion comments), so re-running a sync, or resuming an interrupted one, converges to the
same base. ``serve`` runs the same sync on a schedule.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

from bot.clients.airtable import AirtableError, AirtableLane
from bot.clients.errors import (
    GITHUB_FAILURES,
    OperatorError,
    airtable_problem_for,
    github_problem_for,
)
from bot.clients.github import GitHubGateway
from bot.clients.reads import IssueIndex, base_ids, fetch_issues, installation_ids, read_base
from bot.config import Config
from bot.core.completion import decide_project, progress
from bot.core.issue import IssueRef, IssueState, parse_issue_url
from bot.core.projects import find_by_name, new_deliverable_fields
from bot.core.records import Record, airtable_now
from bot.core.status import deliverable_state
from bot.sync.reconcile import Reconciler
from bot.sync.renewal import RenewalAction, RenewalSignal

log = logging.getLogger(__name__)

NEEDS_GITHUB = (
    "sync needs the GitHub App's credentials (GITHUB_APP_ID and GITHUB_PRIVATE_KEY or "
    "GITHUB_PRIVATE_KEY_PATH): GitHub is the truth it syncs the base to"
)
UPDATE_LINE = "{verb} deliverable {record} ({ref}): {changes}"
LINK_LINE = '{verb} {ref} "{title}" to Project {project} as {status}'
PROJECT_LINE = "{verb} Project {project} from {old} to {new}"
RENEWAL_LINE = '{verb} Engagement {engagement} {status}; Renewal Opportunity "{opportunity}" {what}'
UNKNOWN_PROJECT_LINE = '{ref} has the label "{label}" but no Project is named "{name}"'
UNINSTALLED_LINE = "skipped {count} deliverable(s) in {repo}: the App is not installed there"
NOT_VISIBLE_LINE = (
    "left as they are: {count} deliverable(s) in {repo}, GitHub answers 404 (the App is not "
    "installed there, cannot see a private repository, or the URL is wrong): {records}"
)
UNREADABLE_LINE = (
    "left as they are: {count} deliverable(s) in {what}, GitHub could not be read: {reason}"
)
UNREADABLE_ISSUE_LINE = (
    "left as it is: the deliverable of {what}, GitHub could not be read: {reason}"
)
SUMMARY_HEADER = "sync summary{dry}:"
SUMMARY_LINE = "  {kind}: {count}"
UNREACHED_HEADER = "could not reach ({count}; everything else was synced):"
UNREACHED_LINE = "  {what}: {reason}"
INSTALLATIONS_FAILED = "listing the App's installations"
REPOSITORIES_FAILED = "listing the repositories of installation {id}"
CONCURRENCY = 20  # reconciles in flight at once; enough to fill batches of ten

# Field kinds reported in the summary, by the DeliverableFields attribute that holds them.
_KINDS = {"status": "status", "completed": "completed", "name": "title", "assignees": "assignees"}


class Progress:
    """Progress through the planned work: a tqdm bar on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, every: int = 10) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self._bar: Any = None
        self._done = 0
        self._total = 0
        self._label = ""

    def start(self, label: str, total: int) -> None:
        """Begin a phase of ``total`` steps."""
        self._label, self._total, self._done = label, total, 0
        if total and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, file=self.stream, unit="item")
        elif total:
            print(f"{label}: 0/{total}", file=self.stream, flush=True)

    def step(self) -> None:
        """One step done."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._done % self.every == 0 or self._done == self._total:
            print(f"{self._label}: {self._done}/{self._total}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line about what is happening (reading a repository, ...)."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the phase."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class SilentProgress(Progress):
    """No output at all (the scheduled sync of ``serve`` logs instead)."""

    def start(self, label: str, total: int) -> None:
        """Nothing to show."""

    def step(self) -> None:
        """Nothing to show."""

    def note(self, text: str) -> None:
        """Logged at debug level."""
        log.debug("%s", text)


@dataclass(frozen=True)
class PlannedUpdate:
    """A deliverable whose fields differ from its issue."""

    record: Record
    ref: IssueRef
    changes: dict[str, Any]


@dataclass(frozen=True)
class PlannedLink:
    """A labelled issue with no deliverable: the record to create."""

    ref: IssueRef
    project: Record
    fields: dict[str, Any]


@dataclass(frozen=True)
class PlannedProject:
    """A Project whose Status its deliverables no longer support."""

    project: Record
    old: str | None
    new: str
    ref: IssueRef


@dataclass
class SyncReport:
    """What a sync did (or, in a dry run, would do): lines to print and counts by kind."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    unreached: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    @property
    def complete(self) -> bool:
        """Whether everything was reached (nothing skipped for a failure or a 404)."""
        return not self.unreached

    def skip(self, what: str, reason: str) -> None:
        """Record something the sync could not reach, and why; the rest goes on."""
        self.unreached.append((what, reason))

    def summary(self) -> str:
        """The counts by kind, one per line, then what could not be reached and why."""
        out = [SUMMARY_HEADER.format(dry=" (dry run: nothing written)" if self.dry_run else "")]
        for kind, count in self.counts.items():
            out.append(SUMMARY_LINE.format(kind=kind, count=count))
        if self.unreached:
            out.append(UNREACHED_HEADER.format(count=len(self.unreached)))
            out.extend(UNREACHED_LINE.format(what=w, reason=r) for w, r in self.unreached)
        return "\n".join(out)


def _record_name(config: Config, table: str, record: Record) -> str:
    name = record["fields"].get(getattr(config.fields, table).name) or "(unnamed)"
    return f'"{name}" ({record["id"]})'


def _describe(config: Config, record: Record, changes: dict[str, Any]) -> str:
    parts = []
    for field_name, new in changes.items():
        old = record["fields"].get(field_name)
        parts.append(f"{field_name} {old or 'empty'} → {new or 'empty'}")
    return ", ".join(parts)


def project_label(labels: tuple[str, ...], prefix: str) -> str | None:
    """The Project named by the first label starting with ``prefix`` (case-insensitive)."""
    for label in labels:
        if label.lower().startswith(prefix.lower()) and label[len(prefix) :].strip():
            return label
    return None


class Syncer:
    """Plans and carries out a sync of every base the configuration names."""

    def __init__(
        self,
        config: Config,
        *,
        lane_for: Callable[[str], AirtableLane],
        github: GitHubGateway,
        reconciler: Reconciler,
        renewal: RenewalSignal,
    ) -> None:
        self.config = config
        self.lane_for = lane_for
        self.github = github
        self.reconciler = reconciler
        self.renewal = renewal

    async def run(
        self,
        *,
        repo: tuple[str, str] | None = None,
        dry_run: bool = False,
        progress_to: Progress | None = None,
        today: date | None = None,
    ) -> SyncReport:
        """Sync every base (only ``repo``'s issues when given); returns what changed."""
        report = SyncReport(dry_run)
        shown = progress_to or SilentProgress()
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

    async def _installations(self, shown: Progress) -> dict[str, int]:
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
        shown: Progress,
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
        for repo_name, count in index.uninstalled.items():
            report.lines.append(UNINSTALLED_LINE.format(count=count, repo=repo_name))
            report.counts["skipped: App not installed"] += count
            if count:
                report.skip(repo_name, f"the App is not installed there ({count} deliverable(s))")
        self._report_not_visible(in_scope, index.not_visible, report)
        self._report_unreadable(index, report)
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
        verb = "would update" if dry_run else "updated"
        for u in updates:
            report.lines.append(
                UPDATE_LINE.format(
                    verb=verb,
                    record=_record_name(config, "deliverables", u.record),
                    ref=u.ref,
                    changes=_describe(config, u.record, u.changes),
                )
            )
            for attribute, kind in _KINDS.items():
                if getattr(names, attribute) in u.changes:
                    report.counts[f"deliverable {kind} changed"] += 1
        report.counts["deliverables updated"] += len(updates)
        for link in links:
            report.lines.append(
                LINK_LINE.format(
                    verb="would link" if dry_run else "linked",
                    ref=link.ref,
                    title=link.fields[names.name],
                    project=_record_name(config, "projects", link.project),
                    status=link.fields[names.status],
                )
            )
        report.counts["deliverables linked"] += len(links)
        for p in projects:
            report.lines.append(
                PROJECT_LINE.format(
                    verb="would move" if dry_run else "moved",
                    project=_record_name(config, "projects", p.project),
                    old=p.old or "empty",
                    new=p.new,
                )
            )
        report.counts["projects updated"] += len(projects)
        if not dry_run:
            await self._apply(lane, updates, links, touched, index.installations, shown, report)
        actions = await self.renewal.check_all(lane, today=today, dry_run=dry_run)
        self._report_renewals(actions, dry_run, report)
        for kind in [k for k, v in report.counts.items() if v == 0]:
            del report.counts[kind]

    def _report_not_visible(
        self,
        in_scope: list[tuple[Record, IssueRef]],
        not_visible: dict[str, IssueRef],
        report: SyncReport,
    ) -> None:
        """Name the deliverables whose issues GitHub answered 404 for, by repository."""
        by_repo: dict[str, list[str]] = collections.defaultdict(list)
        for record, ref in in_scope:
            if ref.key in not_visible:
                by_repo[f"{ref.owner}/{ref.repo}"].append(
                    _record_name(self.config, "deliverables", record)
                )
        for repo_name, records in sorted(by_repo.items()):
            report.lines.append(
                NOT_VISIBLE_LINE.format(
                    count=len(records), repo=repo_name, records=", ".join(records)
                )
            )
            report.counts["skipped: not visible on GitHub (404)"] += len(records)
            report.skip(
                repo_name,
                f"GitHub answers 404: the App is not installed there, cannot see it, or it "
                f"does not exist ({len(records)} deliverable(s))",
            )

    def _report_unreadable(self, index: IssueIndex, report: SyncReport) -> None:
        """Name each repository or issue GitHub failed to give, and why."""
        for item in index.unreadable:
            if "#" in item.what:
                report.lines.append(
                    UNREADABLE_ISSUE_LINE.format(what=item.what, reason=item.reason)
                )
            else:
                report.lines.append(
                    UNREADABLE_LINE.format(
                        count=item.deliverables, what=item.what, reason=item.reason
                    )
                )
            report.counts["skipped: GitHub could not be read"] += item.deliverables
            report.skip(item.what, item.reason)

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
        planned = []
        for key, issue_data in sorted(raw.items()):
            issue = IssueState.from_api(issue_data)
            if key in linked or issue.ref.key in linked:
                continue
            if repo and (issue.ref.owner.lower(), issue.ref.repo.lower()) != repo:
                continue
            label = project_label(issue.labels, config.labels.project_prefix)
            if label is None:
                continue
            project_name = label[len(config.labels.project_prefix) :].strip()
            project = find_by_name(projects, config.fields.projects.name, project_name)
            if project is None:
                report.lines.append(
                    UNKNOWN_PROJECT_LINE.format(ref=issue.ref, label=label, name=project_name)
                )
                report.counts["labelled issues naming no Project (skipped)"] += 1
                continue
            fields = new_deliverable_fields(config, issue.ref, project["id"], issue, airtable_now())
            planned.append(PlannedLink(issue.ref, project, fields))
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
        shown: Progress,
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

    def _report_renewals(
        self, actions: list[RenewalAction], dry_run: bool, report: SyncReport
    ) -> None:
        for action in actions:
            what = ("would be created" if dry_run else "created") if action.created else "exists"
            report.lines.append(
                RENEWAL_LINE.format(
                    verb="would mark" if dry_run else "marked",
                    engagement=f'"{action.engagement}" ({action.engagement_id})',
                    status=action.status,
                    opportunity=action.opportunity,
                    what=what,
                )
            )
            report.counts["engagements signalled for renewal"] += 1
            if action.created:
                report.counts["renewal opportunities created"] += 1


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


async def sync_command(
    config: Config,
    *,
    repo: tuple[str, str] | None,
    dry_run: bool,
    out: TextIO,
    progress_to: Progress | None = None,
) -> int:
    """``deliverables-bot sync``: run one sync, print each change and the summary; exit code."""
    from bot.clients.reads import open_runtime
    from bot.intake.journal import Journal
    from bot.sync.link import ProgressComments

    if not config.has_github_app:
        print(f"error: {NEEDS_GITHUB}", file=sys.stderr)
        return 2
    async with open_runtime(config) as runtime:
        # The data folder's journal: where issues GitHub answers 404 for are remembered, for
        # `serve` and `check` to see too.
        with Journal(config.journal_path) as journal:
            reconciler = Reconciler(
                config,
                lanes=runtime.lanes,
                github=runtime.github,
                journal=journal,
                metrics=runtime.metrics,
            )
            renewal = RenewalSignal(config)
            reconciler.project_listeners.append(ProgressComments(config, runtime.github))
            reconciler.project_listeners.append(renewal.on_project_update)
            syncer = Syncer(
                config,
                lane_for=runtime.lanes.for_base,
                github=runtime.github,
                reconciler=reconciler,
                renewal=renewal,
            )
            report = await syncer.run(
                repo=repo, dry_run=dry_run, progress_to=progress_to or Progress()
            )
    for line in report.lines:
        print(line, file=out)
    print(report.summary(), file=out)
    return 0 if report.complete else 1
