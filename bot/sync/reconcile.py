"""Reconcile: make a deliverable record say what its issue says, then its Project.

Level-triggered: an event only names an issue. The reconciler reads the issue's current
state (from GitHub with App credentials, else from the delivery, guarded by a per-issue
watermark so a stale event cannot move a record backwards) and writes the fields that differ.
Then, changed or not — a first attempt, a retry or a delivery resumed after a crash — it
decides the deliverable's Project from its deliverables as they are now, under a per-Project
lock: an announcement due is posted first (looked up by its marker, :mod:`bot.sync.announce`),
then the Project's Status is written. A failed write or comment fails the delivery, which is
retried; nothing about a Project depends on having seen the edge.

GitHub's answers are read as GitHub means them: 410 is a deleted issue (Cancelled, record
kept), 301 a transfer (followed; the record takes the new URL), 404 an issue the App cannot
see (the record is left as it is, one warning, counted in ``/metrics``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.clients.airtable import AirtableLane, Lanes
from bot.clients.github import GitHubGateway, IssueNotVisible
from bot.clients.reads import read_issue
from bot.config import Config
from bot.core.completion import Transition, decide_project
from bot.core.issue import IssueRef, IssueState, parse_issue_url
from bot.core.progress import Progress, progress
from bot.core.records import Record, airtable_now
from bot.core.status import DeliverableState, deliverable_state
from bot.metrics import Metrics
from bot.storage.locks import SharedLocks
from bot.sync.announce import Announcer

log = logging.getLogger(__name__)

# A snapshot whose read began this long after another replica kept its view of a Project is
# newer than that view (the two hosts' clocks may differ by this much).
VIEW_CLOCK_MARGIN_SECONDS = 5.0


class Watermarks(Protocol):
    """What the reconcile remembers between deliveries: how far each issue's deliveries were
    applied (when GitHub cannot be read), and the issues GitHub last answered 404 for. The
    delivery journal (:class:`bot.intake.journal.Journal`) is one."""

    def advance_watermark(self, issue_key: str, updated_at: str) -> bool:
        """Move the issue's watermark to ``updated_at``; False when it is already later."""
        ...

    def note_not_visible(self, issue_key: str, url: str, repository: str) -> bool:
        """Remember that GitHub answers 404 for the issue; True the first time."""
        ...

    def clear_not_visible(self, issue_key: str) -> None:
        """Forget that GitHub answered 404 for the issue."""
        ...

    def not_visible(self) -> list[tuple[str, str, float]]:
        """The issues GitHub answers 404 for, as ``(url, repository, first_seen)``."""
        ...


@dataclass(frozen=True)
class ProjectUpdate:
    """A Project just decided again: what listeners (progress comments, renewal) are told."""

    lane: AirtableLane
    project: Record
    deliverables: list[Record]
    progress: Progress
    transition: Transition | None
    ref: IssueRef
    installation_id: int | None


ProjectListener = Callable[[ProjectUpdate], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What a reconcile did, for logs, metrics and tests."""

    kind: str  # "updated", "unchanged", "unlinked", "detached", "stale", "not-visible", "no-base"
    record_id: str | None = None
    transition: Transition | None = None


def _same_time(a: str | None, b: str | None) -> bool:
    """Airtable normalises dateTime values (milliseconds, Z); compare instants, not text."""
    if not a or not b:
        return not a and not b
    try:
        return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(
            b.replace("Z", "+00:00")
        )
    except ValueError:
        return a == b


class Reconciler:
    """Keeps deliverables and Projects true to GitHub issues."""

    def __init__(
        self,
        config: Config,
        *,
        lanes: Lanes,
        github: GitHubGateway,
        watermarks: Watermarks,
        metrics: Metrics,
        locks: SharedLocks | None = None,
    ) -> None:
        self.config = config
        # Across replicas (PostgreSQL): a Project's decision and announcement, once.
        self.locks = locks or SharedLocks(None)
        self.lanes = lanes
        self.github = github
        self.watermarks = watermarks
        self.metrics = metrics
        self.announcer = Announcer(config, github, metrics)
        self._not_visible: set[str] | None = None  # issue keys GitHub last answered 404 for
        self._project_locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        # Called, under the Project's lock, after every decision about a Project.
        self.project_listeners: list[ProjectListener] = []

    def is_detached(self, record: Record) -> bool:
        """A deliverable with no Project: unlinked on purpose (``/deliverable unlink``, a
        removed label or sub-issue) and kept as it was left, Cancelled; not synced."""
        return not record["fields"].get(self.config.fields.deliverables.project)

    def changes_for(self, record: Record, desired: DeliverableState) -> dict[str, Any]:
        """The fields of ``record`` that differ from ``desired``."""
        names = self.config.fields.deliverables
        current = record["fields"]
        changes: dict[str, Any] = {}
        if current.get(names.status) != desired.status:
            changes[names.status] = desired.status
        if not _same_time(current.get(names.completed), desired.completed):
            changes[names.completed] = desired.completed
        if (current.get(names.name) or "") != desired.name and desired.name:
            changes[names.name] = desired.name
        if (current.get(names.assignees) or "") != desired.assignees:
            changes[names.assignees] = desired.assignees or None
        return changes

    async def reconcile(
        self,
        ref: IssueRef,
        *,
        installation_id: int | None,
        hint: IssueState | None = None,
        deleted: bool = False,
        moved_to: IssueRef | None = None,
    ) -> Outcome:
        """Bring the deliverable of ``ref`` (and its Project) in line with the issue.

        ``hint`` is the issue as the delivery carried it; it is used when the bot cannot read
        GitHub. ``deleted`` and ``moved_to`` come from ``deleted`` and ``transferred`` events.
        """
        lane = self.lanes.for_owner(ref.owner)
        if lane is None:
            log.info("no Airtable base serves %s; ignoring %s", ref.owner, ref)
            return Outcome("no-base")
        with self.metrics.reconcile_seconds.time():
            record = await lane.find_deliverable(ref.url)
            if record is None:
                return Outcome("unlinked")
            return await self._reconcile_record(
                lane,
                ref,
                record,
                installation_id=installation_id,
                hint=hint,
                deleted=deleted,
                moved_to=moved_to,
            )

    async def _reconcile_record(
        self,
        lane: AirtableLane,
        ref: IssueRef,
        record: Record,
        *,
        installation_id: int | None,
        hint: IssueState | None,
        deleted: bool,
        moved_to: IssueRef | None,
    ) -> Outcome:
        """The reconcile of one found deliverable, under its lock across replicas: when
        another replica wrote it last, Airtable's copy is read first (this replica's snapshot
        may not have that write, and a change compared with it could be skipped)."""
        async with self.locks.hold(f"record:{lane.base_id}:{record['id']}") as held:
            if held.others_wrote:
                fresh = await lane.read_record(self.config.tables.deliverables, record["id"])
                if fresh is None:
                    return Outcome("unlinked")
                record = fresh
            if self.is_detached(record):
                return Outcome("detached", record["id"])
            try:
                issue = await self._issue_state(
                    moved_to or ref, installation_id, hint=hint, deleted=deleted
                )
            except IssueNotVisible:
                await self.note_not_visible(ref)
                return Outcome("not-visible", record["id"])
            if issue is None:
                log.info("%s: ignoring an event older than what was already applied", ref)
                return Outcome("stale", record["id"])
            if self.github.can_read and not deleted:
                await self.clear_not_visible(ref)
            names = self.config.fields.deliverables
            changes = self.changes_for(
                record, deliverable_state(issue, self.config.statuses, self.config.labels)
            )
            current = moved_to or (issue.ref if issue.ref.key != ref.key else None)
            if current is not None:  # transferred: a `transferred` event, or GitHub's 301
                changes[names.issue] = current.url
            if changes:
                changes[names.last_synced] = airtable_now()
                record = await lane.update(self.config.tables.deliverables, record["id"], changes)
                log.info("%s: deliverable %s updated: %s", ref, record["id"], sorted(changes))
            # The Project is decided from the truth whether or not this deliverable changed:
            # a retry or a resumed delivery finds the record already right but the Project,
            # or its announcement, possibly not.
            transition = None
            for project_id in record["fields"].get(names.project, ()):
                transition = await self.update_project(
                    lane,
                    project_id,
                    ref=current or ref,
                    installation_id=installation_id,
                    own_record=record,
                )
            return Outcome("updated" if changes else "unchanged", record["id"], transition)

    async def _from_view(
        self,
        lane: AirtableLane,
        project_id: str,
        view: dict[str, Any] | None,
        own_record: Record | None,
    ) -> tuple[Record, list[Record]] | None:
        """The Project and its deliverables as the last replica to decide it saw them, with
        this replica's own write on top; None when there is no such view, or it names a
        record this replica has never read (then the tables are read again). A snapshot
        read since the view was kept (with a margin for the clocks of two hosts) is newer
        than the view, and used as it is."""
        if view is None or own_record is None:
            return None
        project = await lane.get_project(project_id)
        deliverables = await lane.project_deliverables(project_id)
        if project is None:
            return None
        since = lane.read_since(self.config.tables.deliverables)
        if since is not None and since >= float(view["kept_at"]) + VIEW_CLOCK_MARGIN_SECONDS:
            return project, deliverables
        names = self.config.fields.deliverables
        known = await lane.table_records(self.config.tables.deliverables)
        members: dict[str, list[Any]] = dict(view["members"])
        if project_id in (own_record["fields"].get(names.project) or ()):
            members[own_record["id"]] = []
        else:
            members.pop(own_record["id"], None)
        seen: list[Record] = []
        for record_id, status_and_completed in members.items():
            if record_id == own_record["id"]:
                seen.append(own_record)
                continue
            record = known.get(record_id)
            if record is None:
                return None
            fields = dict(record["fields"])
            fields[names.status], fields[names.completed] = status_and_completed
            seen.append({**record, "fields": fields})
        project_fields = dict(project["fields"])
        project_fields[self.config.fields.projects.status] = view["status"]
        project_fields[self.config.fields.projects.completed] = view["completed"]
        return {**project, "fields": project_fields}, seen

    async def note_not_visible(self, ref: IssueRef) -> None:
        """GitHub answered 404: keep the record as it is; warn once per issue, count it, and
        remember it in the watermarks (the journal: ``check`` names it)."""
        self.metrics.github_not_visible.inc()
        keys = await self._not_visible_keys()
        keys.add(ref.key)
        first = await asyncio.to_thread(
            self.watermarks.note_not_visible, ref.key, ref.url, f"{ref.owner}/{ref.repo}"
        )
        if first:
            log.warning(
                "%s: GitHub answers 404 in %s/%s (the App is not installed there, cannot see "
                "a private repository, or the URL is wrong); the deliverable is left as it is",
                ref,
                ref.owner,
                ref.repo,
            )

    async def clear_not_visible(self, ref: IssueRef) -> None:
        """GitHub answered for the issue again: forget that it did not."""
        keys = await self._not_visible_keys()
        if ref.key in keys:
            keys.discard(ref.key)
            await asyncio.to_thread(self.watermarks.clear_not_visible, ref.key)

    async def _not_visible_keys(self) -> set[str]:
        if self._not_visible is None:
            rows = await asyncio.to_thread(self.watermarks.not_visible)
            refs = (parse_issue_url(url) for url, _, _ in rows)
            self._not_visible = {ref.key for ref in refs if ref is not None}
        return self._not_visible

    async def _issue_state(
        self,
        ref: IssueRef,
        installation_id: int | None,
        *,
        hint: IssueState | None,
        deleted: bool,
    ) -> IssueState | None:
        """The issue's state now; None when the delivery is older than what was applied."""
        if deleted:
            return IssueState(ref=ref, title=hint.title if hint else "", state="deleted")
        if self.github.can_read:
            issue = await read_issue(self.github, ref, installation_id)
            return issue or IssueState(ref=ref, title=hint.title if hint else "", state="deleted")
        if hint is None:
            return None
        if hint.updated_at and not await asyncio.to_thread(
            self.watermarks.advance_watermark, ref.key, hint.updated_at
        ):
            return None
        return hint

    async def update_project(
        self,
        lane: AirtableLane,
        project_id: str,
        *,
        ref: IssueRef,
        installation_id: int | None,
        verify_announcement: bool = False,
        own_record: Record | None = None,
    ) -> Transition | None:
        """Decide a Project's Status from its deliverables as they are now; announce a
        completion or reopening first, then write the Status. Returns the transition made.

        With replicas, a Project is decided from the view the last replica to decide it kept
        with the lock (its Status and its deliverables' Statuses), with ``own_record`` (the
        deliverable this reconcile just wrote) as this replica has it; without a usable view,
        from this replica's snapshots when it decided last, else from the tables read again.

        Runs under the Project's lock, so two deliverables finishing at once announce once.
        A failed comment or write raises, so the delivery is retried and the transition is
        decided again. Listeners (progress comment, renewal) are told of every decision.
        ``verify_announcement`` (the sweep): a Project that is Complete already gets its
        completion comment if it has none.
        """
        async with (
            self._project_locks[project_id],
            self.locks.hold(f"project:{lane.base_id}:{project_id}") as held,
        ):
            # Replicas share the base: when another decided this Project last, what it wrote
            # must be seen before deciding (a change read per table, shared by concurrent
            # callers); when this replica did, its snapshots hold its own writes.
            names = self.config.fields.projects
            deliverable_names = self.config.fields.deliverables
            # The kept view, whoever kept it: this replica's snapshot may lack what a view it
            # decided from earlier had taken from another's.
            seen = await self._from_view(lane, project_id, held.state, own_record)
            if seen is not None:
                project, deliverables = seen
            else:
                read_after = time.monotonic() if held.others_wrote else None
                found = await lane.get_project(project_id, read_after=read_after)
                if found is None:
                    log.warning("%s: linked Project %s not found", ref, project_id)
                    return None
                project = found
                deliverables = await lane.project_deliverables(project_id, read_after=read_after)
            counts = progress(
                (d["fields"].get(deliverable_names.status) for d in deliverables),
                self.config.statuses,
            )
            current = project["fields"].get(names.status)
            decision = decide_project(current, counts, self.config.statuses)
            if decision.transition is not None:
                await self.announcer.announce(
                    decision.transition, project, deliverables, counts, installation_id
                )
            elif verify_announcement and counts.complete:
                await self.announcer.announce(
                    Transition.COMPLETED,
                    project,
                    deliverables,
                    counts,
                    installation_id,
                    any_key=True,
                )
            changes: dict[str, Any] = {}
            if decision.status != current:
                changes[names.status] = decision.status
            if decision.transition is Transition.COMPLETED:
                changes[names.completed] = completion_date(deliverables, self.config)
            elif decision.transition is Transition.REOPENED:
                changes[names.completed] = None
            if changes:
                project = await lane.update(self.config.tables.projects, project_id, changes)
            await held.keep(project_view(project, deliverables, self.config, kept_at=time.time()))
            update = ProjectUpdate(
                lane, project, deliverables, counts, decision.transition, ref, installation_id
            )
            for listener in self.project_listeners:
                try:
                    await listener(update)
                except Exception:
                    log.exception("%s: a listener of Project %s failed", ref, project_id)
            return decision.transition


def project_view(
    project: Record, deliverables: list[Record], config: Config, *, kept_at: float
) -> dict[str, Any]:
    """What a replica decided a Project from, kept with its lock for the next replica: the
    Project's Status and Completed day, and each deliverable's Status and Completed time."""
    status, completed = config.fields.deliverables.status, config.fields.deliverables.completed
    names = config.fields.projects
    return {
        "kept_at": kept_at,
        "status": project["fields"].get(names.status),
        "completed": project["fields"].get(names.completed),
        "members": {
            d["id"]: [d["fields"].get(status), d["fields"].get(completed)] for d in deliverables
        },
    }


def completion_date(deliverables: list[Record], config: Config) -> str:
    """The day a Project was completed: its last deliverable's Completed day (UTC), else today."""
    completed = config.fields.deliverables.completed
    done = config.statuses.deliverable.done
    days = []
    for record in deliverables:
        value = record["fields"].get(completed)
        if record["fields"].get(config.fields.deliverables.status) != done or not value:
            continue
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            continue
        days.append((when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date())
    return (max(days) if days else datetime.now(UTC).date()).isoformat()
