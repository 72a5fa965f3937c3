"""Reconcile: make a deliverable record say what its issue says, then its Project.

Level-triggered: an event only names an issue. The reconciler reads the issue's current
state (from GitHub with App credentials, else from the delivery, guarded by a per-issue
watermark so a stale event cannot move a record backwards), writes the fields that differ,
and then decides the Project. Completion and reopening are announced once per transition,
under a per-Project lock, in a comment carrying a hidden marker.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.airtable import AirtableLane, Lanes, Record, airtable_now
from bot.completion import Progress, Transition, decide_project, progress
from bot.config import Config
from bot.github import GitHubGateway
from bot.issues import IssueRef, IssueState, parse_issue_url
from bot.journal import Journal
from bot.metrics import Metrics
from bot.status import DeliverableState, deliverable_state

log = logging.getLogger(__name__)

COMPLETED_MARKER = "<!-- deliverables-bot:project-completed:{project_id} -->"
REOPENED_MARKER = "<!-- deliverables-bot:project-reopened:{project_id} -->"
COMPLETED_COMMENT = """\
{marker}
:tada: **{project}** is complete: all {done} of its deliverables are done.

{deliverables}
"""
REOPENED_COMMENT = """\
{marker}
**{project}** is in progress again: {issue} is no longer done, so {done} of {total} \
deliverables are now done.
"""


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

    kind: str  # "updated", "unchanged", "unlinked", "detached", "stale", "no-base"
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
        journal: Journal,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self.lanes = lanes
        self.github = github
        self.journal = journal
        self.metrics = metrics
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
            if self.is_detached(record):
                return Outcome("detached", record["id"])
            issue = await self._issue_state(
                moved_to or ref, installation_id, hint=hint, deleted=deleted
            )
            if issue is None:
                log.info("%s: ignoring an event older than what was already applied", ref)
                return Outcome("stale", record["id"])
            names = self.config.fields.deliverables
            changes = self.changes_for(
                record, deliverable_state(issue, self.config.statuses, self.config.labels)
            )
            if moved_to is not None:
                changes[names.issue] = moved_to.url
            if not changes:
                return Outcome("unchanged", record["id"])
            changes[names.last_synced] = airtable_now()
            old_status = record["fields"].get(names.status)
            updated = await lane.update(self.config.tables.deliverables, record["id"], changes)
            log.info("%s: deliverable %s updated: %s", ref, record["id"], sorted(changes))
            transition = None
            # A new Status decides the Project again; a new title refreshes its progress comment.
            if names.name in changes or changes.get(names.status, old_status) != old_status:
                for project_id in updated["fields"].get(names.project, ()):
                    transition = await self.update_project(
                        lane, project_id, ref=moved_to or ref, installation_id=installation_id
                    )
            return Outcome("updated", record["id"], transition)

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
            data = await self.github.get_issue(ref, installation_id)
            if data is None:
                return IssueState(ref=ref, title=hint.title if hint else "", state="deleted")
            return IssueState.from_api(data, ref=parse_issue_url(data["html_url"]) or ref)
        if hint is None:
            return None
        if hint.updated_at and not await asyncio.to_thread(
            self.journal.advance_watermark, ref.key, hint.updated_at
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
    ) -> Transition | None:
        """Decide a Project's Status from its deliverables; announce completion or reopening.

        Runs under the Project's lock, so two deliverables finishing at once announce once.
        """
        async with self._project_locks[project_id]:
            project = await lane.get_project(project_id)
            if project is None:
                log.warning("%s: linked Project %s not found", ref, project_id)
                return None
            names = self.config.fields.projects
            deliverable_names = self.config.fields.deliverables
            deliverables = await lane.project_deliverables(project_id)
            counts = progress(
                (d["fields"].get(deliverable_names.status) for d in deliverables),
                self.config.statuses,
            )
            current = project["fields"].get(names.status)
            decision = decide_project(current, counts, self.config.statuses)
            changes: dict[str, Any] = {}
            if decision.status != current:
                changes[names.status] = decision.status
            if decision.transition is Transition.COMPLETED:
                changes[names.completed] = datetime.now(UTC).date().isoformat()
            elif decision.transition is Transition.REOPENED:
                changes[names.completed] = None
            if changes:
                project = await lane.update(self.config.tables.projects, project_id, changes)
            update = ProjectUpdate(
                lane, project, deliverables, counts, decision.transition, ref, installation_id
            )
            for listener in self.project_listeners:
                try:
                    await listener(update)
                except Exception:
                    log.exception("%s: a listener of Project %s failed", ref, project_id)
            if decision.transition is None:
                return None
            target = parse_issue_url(project["fields"].get(names.tracking_issue) or "") or ref
            body = self._comment(decision.transition, project, deliverables, ref, counts)
            await self.github.create_comment(target, body, installation_id)
            self.metrics.comments.labels(kind=f"project-{decision.transition.value}").inc()
            log.info(
                "%s: Project %s %s; commented on %s",
                ref,
                project_id,
                decision.transition.value,
                target,
            )
            return decision.transition

    def _comment(
        self,
        transition: Transition,
        project: Record,
        deliverables: list[Record],
        ref: IssueRef,
        counts: Progress,
    ) -> str:
        names = self.config.fields.deliverables
        project_name = project["fields"].get(self.config.fields.projects.name, project["id"])
        if transition is Transition.REOPENED:
            return REOPENED_COMMENT.format(
                marker=REOPENED_MARKER.format(project_id=project["id"]),
                project=project_name,
                issue=ref.url,
                done=counts.done,
                total=counts.total,
            )
        lines = []
        for record in sorted(deliverables, key=lambda r: r["fields"].get(names.name, "")):
            fields = record["fields"]
            status = fields.get(names.status, "")
            mark = "x" if status == self.config.statuses.deliverable.done else " "
            lines.append(
                f"- [{mark}] {fields.get(names.name, record['id'])} — "
                f"{fields.get(names.issue, 'no issue')} ({status})"
            )
        return COMPLETED_COMMENT.format(
            marker=COMPLETED_MARKER.format(project_id=project["id"]),
            project=project_name,
            done=counts.done,
            deliverables="\n".join(lines),
        )
