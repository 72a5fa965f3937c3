"""Linking issues to Projects: the one service that commands, project labels and sub-issues use.

:class:`Linker` finds the base serving an issue, matches the Project a person named
(:func:`bot.core.projects.find_project`, against the lane's cached Projects table — exact
comparison, never a formula — so a name like ``x' OR TRUE() OR '`` can only ever match a
Project of exactly that name), gives the Engagement warning, and links, unlinks and tracks.
After a link or unlink the Projects involved are decided again
(``Reconciler.update_project``), whose listeners keep the tracking issue's progress comment
current (:class:`bot.sync.progress_comment.ProgressComments`). ``bot.app`` builds one and
hands it to the handlers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.clients.airtable import AirtableLane, Lanes
from bot.clients.github import GitHubGateway, IssueNotVisible
from bot.clients.reads import read_issue
from bot.config import Config
from bot.core.issue import IssueRef, IssueState, issue_url_key, parse_issue_url
from bot.core.projects import ProjectMatch, engagement_warning, find_project, new_deliverable_fields
from bot.core.records import Record, airtable_now
from bot.core.status import deliverable_state
from bot.sync.reconcile import Reconciler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkResult:
    """What a link did."""

    record: Record
    created: bool
    already: bool  # it was linked to this Project already
    previous: list[str]  # the Projects it was linked to before, when moved


@dataclass(frozen=True)
class UnlinkResult:
    """What an unlink did; ``record`` is None when the issue was linked to no Project."""

    record: Record | None
    previous: list[str]


class Linker:
    """Links and unlinks issues to Projects, then lets the Projects be decided again."""

    def __init__(
        self, config: Config, *, lanes: Lanes, reconciler: Reconciler, github: GitHubGateway
    ) -> None:
        self.config = config
        self.lanes = lanes
        self.reconciler = reconciler
        self.github = github

    def lane(self, ref: IssueRef) -> AirtableLane | None:
        """The Airtable lane serving the issue's owner."""
        return self.lanes.for_owner(ref.owner)

    async def projects(self, lane: AirtableLane) -> dict[str, Record]:
        """Every Project by record id (the lane's cached snapshot)."""
        return await lane.table_records(self.config.tables.projects)

    async def find(
        self, lane: AirtableLane, query: str, *, near: IssueRef | None = None
    ) -> ProjectMatch:
        """The Project a person named (see :func:`find_project`). With ``near``, close names
        are offered only from Projects with a deliverable or the tracking issue in ``near``'s
        repository, so nobody learns of Projects elsewhere by guessing."""
        projects = await self.projects(lane)
        among: set[str] | None = None
        if near is not None:
            here = (near.owner.lower(), near.repo.lower())

            def in_repo(url: object) -> bool:
                ref = parse_issue_url(str(url or ""))
                return ref is not None and (ref.owner.lower(), ref.repo.lower()) == here

            names = self.config.fields
            among = {
                p["id"]
                for p in projects.values()
                if in_repo(p["fields"].get(names.projects.tracking_issue))
            }
            deliverables = await lane.table_records(self.config.tables.deliverables)
            for record in deliverables.values():
                if in_repo(record["fields"].get(names.deliverables.issue)):
                    among.update(record["fields"].get(names.deliverables.project) or [])
        return find_project(projects, query, self.config.fields.projects.name, suggest_among=among)

    async def warning(self, lane: AirtableLane, project: Record) -> str | None:
        """The Engagement warning for linking to ``project``, if any."""
        engagements = await lane.table_records(self.config.tables.engagements)
        return engagement_warning(project, engagements, self.config, datetime.now(UTC).date())

    async def tracked_by(self, lane: AirtableLane, ref: IssueRef) -> Record | None:
        """The Project whose Tracking Issue is ``ref``, if any."""
        key = ref.key
        field_name = self.config.fields.projects.tracking_issue
        for record in (await self.projects(lane)).values():
            url = record["fields"].get(field_name)
            if url and issue_url_key(str(url)) == key:
                return record
        return None

    async def _issue_state(
        self, ref: IssueRef, installation_id: int | None, hint: IssueState | None
    ) -> IssueState | None:
        """The issue from GitHub when the bot can read it there, else ``hint``."""
        if not self.github.can_read:
            return hint
        try:
            return await read_issue(self.github, ref, installation_id) or hint
        except IssueNotVisible:
            return hint

    async def link(
        self,
        lane: AirtableLane,
        ref: IssueRef,
        project_id: str,
        *,
        installation_id: int | None,
        hint: IssueState | None,
    ) -> LinkResult:
        """Link the issue's deliverable to the Project, creating the record if need be.

        The record takes Name, Status, Completed and Assignees from the issue (read from
        GitHub when the bot can, else ``hint``, the issue as the delivery carried it).
        """
        names = self.config.fields.deliverables
        table = self.config.tables.deliverables
        record = await lane.find_deliverable(ref.url)
        issue = await self._issue_state(ref, installation_id, hint)
        fields: dict[str, Any] = {names.project: [project_id]}
        if issue is not None:
            state = deliverable_state(issue, self.config.statuses, self.config.labels)
            fields[names.status] = state.status
            fields[names.completed] = state.completed
            fields[names.assignees] = state.assignees or None
            if state.name:
                fields[names.name] = state.name
        previous: list[str] = []
        if record is None:
            record = await lane.create(
                table, new_deliverable_fields(self.config, ref, project_id, issue, airtable_now())
            )
            created, already = True, False
        else:
            previous = [p for p in record["fields"].get(names.project) or [] if p != project_id]
            current = record["fields"]
            changes = {k: v for k, v in fields.items() if (current.get(k) or None) != (v or None)}
            already = not previous and project_id in (current.get(names.project) or [])
            if changes:
                changes[names.last_synced] = airtable_now()
                record = await lane.update(table, record["id"], changes)
            created = False
        log.info("%s: deliverable %s linked to Project %s", ref, record["id"], project_id)
        for other in [project_id, *previous]:
            await self.reconciler.update_project(
                lane, other, ref=ref, installation_id=installation_id
            )
        return LinkResult(record, created, already, previous)

    async def unlink(
        self,
        lane: AirtableLane,
        ref: IssueRef,
        *,
        installation_id: int | None,
        only_from: str | None = None,
    ) -> UnlinkResult:
        """Take the issue's deliverable out of its Project: no Project, Status Cancelled.

        Nothing is deleted. With ``only_from``, only a link to that Project is removed.
        """
        names = self.config.fields.deliverables
        record = await lane.find_deliverable(ref.url)
        linked = list((record or {}).get("fields", {}).get(names.project) or [])
        if record is None or not linked or (only_from is not None and only_from not in linked):
            return UnlinkResult(None, [])
        changes: dict[str, Any] = {
            names.project: [],
            names.status: self.config.statuses.deliverable.cancelled,
            names.completed: None,
            names.last_synced: airtable_now(),
        }
        record = await lane.update(self.config.tables.deliverables, record["id"], changes)
        log.info("%s: deliverable %s unlinked from %s", ref, record["id"], linked)
        for project_id in linked:
            await self.reconciler.update_project(
                lane, project_id, ref=ref, installation_id=installation_id
            )
        return UnlinkResult(record, linked)

    async def track(
        self, lane: AirtableLane, ref: IssueRef, project: Record, *, installation_id: int | None
    ) -> list[IssueRef]:
        """Make ``ref`` the Project's Tracking Issue and link its sub-issues (when GitHub can
        be read); returns the sub-issues linked."""
        field_name = self.config.fields.projects.tracking_issue
        if issue_url_key(str(project["fields"].get(field_name) or "")) != ref.key:
            await lane.update(self.config.tables.projects, project["id"], {field_name: ref.url})
        linked: list[IssueRef] = []
        if self.github.can_read:
            for sub in await self.github.list_sub_issues(ref, installation_id):
                sub_ref = parse_issue_url(str(sub.get("html_url", "")))
                if sub_ref is None:
                    continue
                hint = IssueState.from_api(sub, ref=sub_ref)
                await self.link(
                    lane, sub_ref, project["id"], installation_id=installation_id, hint=hint
                )
                linked.append(sub_ref)
        await self.reconciler.update_project(
            lane, project["id"], ref=ref, installation_id=installation_id
        )
        return linked
