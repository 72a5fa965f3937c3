"""Airtable → GitHub: issues opened for deliverables typed into Airtable, and the tracking
issue of their Project, each exactly once.

Opt-in (``[airtable_to_github] enabled``). The Airtable webhook intake calls
:meth:`IssueOpener.follow_deliverable` or :meth:`IssueOpener.follow_project` for each
record that changed; ``sync --open-missing-issues`` calls :meth:`IssueOpener.open_missing`.
Like the reconcile, every call is level-triggered: it reads the record as Airtable has it
now and makes GitHub agree, whatever happened before.

- A deliverable without a GitHub Issue, in a Project with a repository (its ``Repository``
  field, else :meth:`bot.config.Config.default_repository`), gets one. The issue carries the
  record's hidden marker (:mod:`bot.core.issue_drafts`), and it is looked for (issues the
  App's bot user opened since the record was made, the listing, not the eventually
  consistent search) before one is opened: a second trigger, a retry, or a process killed
  between opening the issue and writing its URL back finds it and opens nothing. The URL is
  written into the record, the issue is made a sub-issue of the Project's tracking issue,
  and the reconcile writes Status, Assignees and the rest from the issue.
- A deliverable with an issue has it kept under its Project's tracking issue (moved there,
  ``replace_parent``, when it was moved to another Project) and reconciled.
- A Project with a repository and no Tracking Issue gets one, looked up by its marker the
  same way; a tracking issue the bot opened (its body has the marker) has its body, the
  list of the Project's deliverables, kept current; one a person opened is left alone.
- Given ``created_after`` (the intake passes when the bot began following the base), a
  record created before it gets no issue, and an older Project no tracking issue, from a
  change: those are opened only when an operator asks (``open_missing``).

Within a process, calls are serialised per record (an asyncio lock), so two triggers never
race to open two issues. Two processes (``serve`` and an operator's ``sync``) can still both
look, find nothing and open: after opening, each looks again, the oldest issue with the
marker is kept and a later one is closed as a duplicate by the process that opened it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import gidgethub

from bot.clients.airtable import AirtableError, AirtableLane, Lanes
from bot.clients.errors import (
    GITHUB_FAILURES,
    OperatorError,
    airtable_problem_for,
    github_problem_for,
)
from bot.clients.github import GitHubGateway, IssueNotVisible
from bot.clients.github_logging import GitHubUnavailable
from bot.config import Config
from bot.core import issue_drafts as drafts
from bot.core.issue import IssueRef, parse_issue_url
from bot.core.records import Record, airtable_now
from bot.sync.reconcile import ProjectUpdate, Reconciler

log = logging.getLogger(__name__)

BEFORE_FOLLOWING = (
    "created before Airtable → GitHub followed the base: `deliverables-bot sync"
    " --open-missing-issues` opens its issue"
)
OFF = (
    "the Airtable → GitHub direction is off: set [airtable_to_github] enabled = true to open "
    "issues for deliverables typed into Airtable"
)
NO_REPOSITORY = (
    "its Project {project} has no repository (its {field} field, or "
    "[airtable_to_github] default_repository or repositories); no issue opened"
)
BAD_REPOSITORY = "its Project {project} names {value!r} as its repository, not owner/name"
NOT_INSTALLED = "the App is not installed on {repository}; no issue opened"


@dataclass(frozen=True)
class Followed:
    """What following one record did: ``status`` for counting, ``text`` for people."""

    status: str  # opened, found, linked, placed, current, updated, skipped, gone, failed, ...
    text: str


@dataclass(frozen=True)
class OpenItem:
    """One line of ``sync --open-missing-issues``: a record that needs an issue, and what was
    (or, in a dry run, would be) done about it."""

    kind: str  # "deliverable" or "tracking"
    record_id: str
    name: str
    repository: str | None
    status: str  # would-open, opened, found, skipped, failed, ...
    outcome: str
    dry_run: bool

    def line(self) -> str:
        """The line an operator reads."""
        return self.outcome


class IssueOpener:
    """Opens the issues Airtable asks for, exactly once, then lets the reconcile take over."""

    def __init__(
        self, config: Config, *, lanes: Lanes, github: GitHubGateway, reconciler: Reconciler
    ) -> None:
        self.config = config
        self.lanes = lanes
        self.github = github
        self.reconciler = reconciler
        self._record_locks: dict[tuple[str, str], asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )
        self._project_locks: dict[tuple[str, str], asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    @property
    def enabled(self) -> bool:
        """Whether the direction is turned on."""
        return self.config.airtable_to_github.enabled

    # -- the public calls ----------------------------------------------------------------

    async def follow_deliverable(
        self, base_id: str, record_id: str, *, created_after: float | None = None
    ) -> str:
        """Make GitHub agree with one deliverable record as it is now; a one-line outcome.

        With ``created_after`` (when the bot began following the base), a record created
        before it gets no issue here (``sync --open-missing-issues`` opens those), nor does
        an older Project get its tracking issue; a record's issue is still moved and synced.
        Raises what Airtable or GitHub raised (the intake retries): nothing is left half done
        that a second call would not finish.
        """
        return (await self._follow_deliverable(base_id, record_id, created_after)).text

    async def follow_project(
        self, base_id: str, project_id: str, *, created_after: float | None = None
    ) -> str:
        """Make GitHub agree with one Project record as it is now (its tracking issue opened,
        or its body kept current); a one-line outcome. With ``created_after``, a Project
        created before it gets no tracking issue here (``sync --open-missing-issues``)."""
        if not self.enabled:
            return OFF
        lane = self.lanes.for_base(base_id)
        async with (
            self._project_locks[(base_id, project_id)],
            self.reconciler.locks.hold(f"opener-project:{base_id}:{project_id}"),
        ):
            project = await self._read_now(lane, self.config.tables.projects, project_id)
            if project is None:
                return f"Project {project_id}: gone from Airtable; nothing to do"
            if not self._tracking_url(project) and _older(project, created_after):
                return self._said("skipped", project, BEFORE_FOLLOWING, kind="Project").text
            followed, _ = await self._keep_tracking(lane, project, place_deliverables=True)
            return followed.text

    async def open_missing(self, base_id: str, *, dry_run: bool) -> list[OpenItem]:
        """Every Project needing a tracking issue and every deliverable without an issue, in
        the Projects of the base by name, with what was done (or would be, ``dry_run``).

        A failure of one record is its item's outcome; the others go on.
        """
        if not self.enabled:
            raise OperatorError(OFF)
        lane = self.lanes.for_base(base_id)
        names = self.config.fields
        projects = await lane.table_records(self.config.tables.projects)
        items: list[OpenItem] = []
        for project in sorted(projects.values(), key=lambda p: (self._name(p).lower(), p["id"])):
            where = self._repository(base_id, project)
            repository = f"{where[0]}/{where[1]}" if isinstance(where, tuple) else None
            if repository and not project["fields"].get(names.projects.tracking_issue):
                items.append(
                    await self._item(
                        "tracking",
                        project,
                        repository,
                        dry_run,
                        f"would open its tracking issue in {repository}",
                        partial(self._follow_project_for_item, base_id, project["id"]),
                    )
                )
            waiting = [
                d
                for d in await lane.project_deliverables(project["id"])
                if not d["fields"].get(names.deliverables.issue)
            ]
            for record in sorted(waiting, key=lambda d: (self._name(d).lower(), d["id"])):
                if repository is None:
                    reason = self._no_repository(project, where)
                    items.append(
                        OpenItem(
                            "deliverable",
                            record["id"],
                            self._name(record),
                            None,
                            "skipped",
                            self._say("deliverable", record, reason),
                            dry_run,
                        )
                    )
                    continue
                items.append(
                    await self._item(
                        "deliverable",
                        record,
                        repository,
                        dry_run,
                        f"would open an issue in {repository} (or link the one that carries "
                        "its marker)",
                        partial(self._follow_deliverable, base_id, record["id"]),
                    )
                )
        return items

    async def on_project_update(self, update: ProjectUpdate) -> None:
        """A Project listener of the reconcile: keep the tracking issue the bot opened
        current whenever the Project is decided again (a deliverable done, added, moved)."""
        if not self.enabled or not self.github.can_read:
            return
        tracking = parse_issue_url(str(self._tracking_url(update.project)))
        if tracking is None:
            return
        lane = update.lane
        async with (
            self._project_locks[(lane.base_id, update.project["id"])],
            self.reconciler.locks.hold(f"opener-project:{lane.base_id}:{update.project['id']}"),
        ):
            await self._refresh_tracking(lane, update.project, tracking, update.deliverables)

    # -- deliverables --------------------------------------------------------------------

    async def _follow_deliverable(
        self, base_id: str, record_id: str, created_after: float | None = None
    ) -> Followed:
        if not self.enabled:
            return Followed("off", OFF)
        lane = self.lanes.for_base(base_id)
        names = self.config.fields.deliverables
        async with (
            self._record_locks[(base_id, record_id)],
            self.reconciler.locks.hold(f"record:{base_id}:{record_id}"),
        ):
            record = await self._read_now(lane, self.config.tables.deliverables, record_id)
            if record is None:
                return Followed("gone", f"deliverable {record_id}: gone from Airtable")
            project_ids = record["fields"].get(names.project) or []
            if not project_ids:
                return self._said("skipped", record, "in no Project; nothing to open")
            project = await self._read_now(lane, self.config.tables.projects, project_ids[0])
            if project is None:
                return self._said("skipped", record, f"its Project {project_ids[0]} is gone")
            where = self._repository(base_id, project)
            url = str(record["fields"].get(names.issue) or "").strip()
            if not url and _older(record, created_after):
                return self._said("skipped", record, BEFORE_FOLLOWING)
            if (
                isinstance(where, tuple)
                and not self._tracking_url(project)
                and not _older(project, created_after)
            ):
                # Its tracking issue first, so the deliverable's issue can go under it.
                async with (
                    self._project_locks[(base_id, project["id"])],
                    self.reconciler.locks.hold(f"opener-project:{base_id}:{project['id']}"),
                ):
                    # Read again under the lock: a follow_project may have just opened it.
                    project = (
                        await self._read_now(lane, self.config.tables.projects, project["id"])
                        or project
                    )
                    if not self._tracking_url(project):
                        _, project = await self._keep_tracking(
                            lane, project, place_deliverables=False
                        )
            if url:
                ref = parse_issue_url(url)
                if ref is None:
                    return self._said(
                        "skipped", record, f"its GitHub Issue {url!r} is no issue URL"
                    )
                return await self._keep_deliverable(lane, record, project, ref)
            if not isinstance(where, tuple):
                return self._said("skipped", record, self._no_repository(project, where))
            return await self._open_deliverable(lane, record, project, where)

    async def _open_deliverable(
        self, lane: AirtableLane, record: Record, project: Record, where: tuple[str, str]
    ) -> Followed:
        """Find the record's issue by its marker, or open it; write its URL; place it."""
        owner, repo = where
        facts = await self._deliverable_facts(lane, record, project)
        title = drafts.deliverable_title(facts)
        body = drafts.deliverable_body(self.config.airtable_to_github.issue_body, facts)
        if not self.github.can_read:
            return await self._without_credentials(record, owner, repo, title, body)
        installation = await self.github.repository_installation(owner, repo)
        if installation is None:
            return self._said("skipped", record, NOT_INSTALLED.format(repository=f"{owner}/{repo}"))
        issue, opened = await self._find_or_open(
            drafts.DELIVERABLE, record, owner, repo, title, body, installation
        )
        ref = self._ref_of(issue)
        names = self.config.fields.deliverables
        await lane.update(
            self.config.tables.deliverables,
            record["id"],
            {names.issue: ref.url, names.last_synced: airtable_now()},
        )
        placed = await self._place(project, issue, ref, installation)
        await self._reconcile(lane, ref, installation)
        await self._refresh_after(lane, project["id"])
        verb = "opened" if opened else "found (opened before; its URL written back)"
        return self._said("opened" if opened else "found", record, f"{verb} {ref}{placed}")

    async def _keep_deliverable(
        self, lane: AirtableLane, record: Record, project: Record, ref: IssueRef
    ) -> Followed:
        """A deliverable with an issue: under its Project's tracking issue, and reconciled."""
        if not self.github.can_read:
            return self._said(
                "skipped", record, f"has {ref}; GitHub cannot be read without App credentials"
            )
        installation = await self.github.repository_installation(ref.owner, ref.repo)
        if installation is None:
            return self._said(
                "skipped",
                record,
                f"has {ref}, but the App is not installed on {ref.owner}/{ref.repo}",
            )
        placed = ""
        try:
            issue = await self.github.get_issue(ref, installation)
        except IssueNotVisible:
            issue = None
        now_at = ref
        if issue is not None:
            now_at = self._ref_of(issue, ref)  # a transferred issue, at its new place
            placed = await self._place(project, issue, now_at, installation)
        # Reconciled under the URL the record has: the reconcile finds the record by it and
        # writes a transferred issue's new URL itself.
        await self._reconcile(lane, ref, installation)
        await self._refresh_after(lane, project["id"])
        return self._said("linked", record, f"has {now_at}{placed}; reconciled")

    async def _reconcile(self, lane: AirtableLane, ref: IssueRef, installation: int) -> None:
        """Let the usual sync write the record from the issue (Status, Assignees, ...)."""
        if self.lanes.for_owner(ref.owner) is not lane:
            log.warning(
                "%s: its owner is served by another Airtable base than %s; not reconciled",
                ref,
                lane.base_id,
            )
            return
        await self.reconciler.reconcile(ref, installation_id=installation)

    async def _place(
        self, project: Record, issue: dict[str, Any], ref: IssueRef, installation: int
    ) -> str:
        """Make the issue a sub-issue of the Project's tracking issue (moving it from another
        parent); what was done, as a tail for the outcome ("" when nothing was to do)."""
        tracking = parse_issue_url(str(self._tracking_url(project)))
        if tracking is None or tracking.key == ref.key:
            return ""
        if tracking.owner.lower() != ref.owner.lower():
            # GitHub: "The sub-issue must belong to the same repository owner as the parent".
            return f"; not made a sub-issue of {tracking} (another owner)"
        if "parent_issue_url" in issue:
            parent = drafts.parent_issue(issue)
            if parent is not None and parent.key == tracking.key:
                return ""
            replace = parent is not None
        else:  # a GitHub that does not say: ask the tracking issue
            subs = await self.github.list_sub_issues(tracking, installation)
            if any(s.get("id") == issue.get("id") for s in subs):
                return ""
            replace = True
        try:
            await self.github.add_sub_issue(
                tracking, int(issue["id"]), installation, replace_parent=replace
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code != 422:
                raise
            return f"; GitHub would not make it a sub-issue of {tracking} (422: {exc})"
        return f"; moved under {tracking}" if replace else f"; sub-issue of {tracking}"

    async def _refresh_after(self, lane: AirtableLane, project_id: str) -> None:
        """Keep the tracking issue's list current after a deliverable changed, unless the
        reconcile's listener (:meth:`on_project_update`) has just done it."""
        if self.on_project_update in self.reconciler.project_listeners:
            return
        async with (
            self._project_locks[(lane.base_id, project_id)],
            self.reconciler.locks.hold(f"opener-project:{lane.base_id}:{project_id}"),
        ):
            project = await lane.get_project(project_id)
            tracking = parse_issue_url(str(self._tracking_url(project))) if project else None
            if project is None or tracking is None:
                return
            deliverables = await lane.project_deliverables(project_id)
            await self._refresh_tracking(lane, project, tracking, deliverables)

    # -- tracking issues -----------------------------------------------------------------

    async def _keep_tracking(
        self, lane: AirtableLane, project: Record, *, place_deliverables: bool
    ) -> tuple[Followed, Record]:
        """Open the Project's tracking issue (found by its marker first) or keep the body of
        the one the bot opened current; the outcome and the Project as it is after. The
        caller holds the Project's lock."""
        tracking_url = str(self._tracking_url(project) or "").strip()
        deliverables = await lane.project_deliverables(project["id"])
        if tracking_url:
            ref = parse_issue_url(tracking_url)
            if ref is None:
                text = f"its Tracking Issue {tracking_url!r} is no issue URL; left alone"
                return self._said("skipped", project, text, kind="Project"), project
            return await self._refresh_tracking(lane, project, ref, deliverables), project
        where = self._repository(lane.base_id, project)
        if not isinstance(where, tuple):
            text = self._no_repository(project, where).replace("its Project ", "", 1)
            return self._said("skipped", project, text, kind="Project"), project
        owner, repo = where
        facts = await self._project_facts(lane, project)
        title = drafts.tracking_title(self.config.airtable_to_github.tracking_title, facts)
        body = drafts.tracking_body(facts, self._entries(deliverables), **self._done_names())
        if not self.github.can_read:
            followed = await self._without_credentials(project, owner, repo, title, body, "Project")
            return followed, project
        installation = await self.github.repository_installation(owner, repo)
        if installation is None:
            text = NOT_INSTALLED.format(repository=f"{owner}/{repo}")
            return self._said("skipped", project, text, kind="Project"), project
        issue, opened = await self._find_or_open(
            drafts.TRACKING, project, owner, repo, title, body, installation
        )
        ref = self._ref_of(issue)
        project = await lane.update(
            self.config.tables.projects,
            project["id"],
            {self.config.fields.projects.tracking_issue: ref.url},
        )
        tail = ""
        if not opened and not drafts.same_body(issue.get("body"), body):
            await self.github.edit_issue(ref, installation, body=body)
            tail = "; its body brought up to date"
        if place_deliverables:
            tail += await self._place_all(project, deliverables, installation)
        verb = "opened tracking issue" if opened else "found its tracking issue (URL written back)"
        return self._said(
            "opened" if opened else "found", project, f"{verb} {ref}{tail}", kind="Project"
        ), project

    async def _place_all(
        self, project: Record, deliverables: list[Record], installation: int
    ) -> str:
        """Make the Project's deliverables' issues sub-issues of its new tracking issue."""
        field_name = self.config.fields.deliverables.issue
        placed = 0
        for record in deliverables:
            ref = parse_issue_url(str(record["fields"].get(field_name) or ""))
            if ref is None:
                continue
            try:
                issue = await self.github.get_issue(ref, installation)
            except IssueNotVisible:
                continue
            if issue is not None and (
                await self._place(project, issue, ref, installation)
            ).startswith(("; sub-issue", "; moved")):
                placed += 1
        return f"; {placed} deliverable issue(s) made its sub-issues" if placed else ""

    async def _refresh_tracking(
        self,
        lane: AirtableLane,
        project: Record,
        ref: IssueRef,
        deliverables: list[Record],
    ) -> Followed:
        """Edit the body of a tracking issue the bot opened when its list is out of date."""
        if not self.github.can_read:
            text = f"has tracking issue {ref}; GitHub cannot be read without App credentials"
            return self._said("skipped", project, text, kind="Project")
        installation = await self.github.repository_installation(ref.owner, ref.repo)
        if installation is None:
            text = f"has tracking issue {ref}; the App is not installed on {ref.owner}/{ref.repo}"
            return self._said("skipped", project, text, kind="Project")
        try:
            issue = await self.github.get_issue(ref, installation)
        except IssueNotVisible:
            issue = None
        if issue is None:
            text = f"its tracking issue {ref} is deleted or not visible; left alone"
            return self._said("skipped", project, text, kind="Project")
        if not drafts.has_marker(issue.get("body"), drafts.TRACKING, project["id"]):
            text = f"its tracking issue {ref} was not opened by the bot; its body is left alone"
            return self._said("current", project, text, kind="Project")
        facts = await self._project_facts(lane, project)
        body = drafts.tracking_body(facts, self._entries(deliverables), **self._done_names())
        if drafts.same_body(issue.get("body"), body):
            return self._said(
                "current", project, f"tracking issue {ref} is current", kind="Project"
            )
        await self.github.edit_issue(ref, installation, body=body)
        log.info("%s: tracking issue of Project %s brought up to date", ref, project["id"])
        return self._said("updated", project, f"tracking issue {ref} updated", kind="Project")

    # -- shared steps --------------------------------------------------------------------

    async def _find_or_open(
        self,
        kind: str,
        record: Record,
        owner: str,
        repo: str,
        title: str,
        body: str,
        installation: int,
    ) -> tuple[dict[str, Any], bool]:
        """The issue carrying the record's marker, or a new one; and whether it is new."""
        found = await self._marked_issue(kind, record, owner, repo, installation)
        if found is not None:
            log.info(
                "%s %s: found its issue %s by its marker", kind, record["id"], found.get("html_url")
            )
            return found, False
        issue = await self.github.create_issue(owner, repo, title, body, installation)
        log.info("%s %s: opened %s", kind, record["id"], issue.get("html_url"))
        return await self._keep_the_first(kind, record, owner, repo, issue, installation)

    async def _marked_issue(
        self, kind: str, record: Record, owner: str, repo: str, installation: int
    ) -> dict[str, Any] | None:
        """The oldest issue the bot opened in the repository with the record's marker."""
        return await self.github.find_issue_with_marker(
            owner,
            repo,
            drafts.marker(kind, record["id"]),
            since=drafts.lookup_since(record.get("createdTime")),
            creator=await self.github.bot_login(),
            installation_id=installation,
        )

    async def _keep_the_first(
        self,
        kind: str,
        record: Record,
        owner: str,
        repo: str,
        issue: dict[str, Any],
        installation: int,
    ) -> tuple[dict[str, Any], bool]:
        """Two processes (``serve`` and an operator's ``sync``, two replicas) can each look,
        find nothing and open. After opening, look again: the oldest issue with the marker
        is the record's, and every process that opened a later one closes its own as a
        duplicate (markers taken out), so one issue stays, whichever process wins."""
        oldest = await self._marked_issue(kind, record, owner, repo, installation)
        if oldest is None or oldest.get("id") == issue.get("id"):
            return issue, True
        mine, kept = self._ref_of(issue), self._ref_of(oldest)
        log.warning(
            "%s %s: %s was opened at the same moment as %s; closing it as a duplicate",
            kind,
            record["id"],
            mine,
            kept,
        )
        await self.github.edit_issue(
            mine,
            installation,
            body=drafts.duplicate_body(issue.get("body"), kept),
            state="closed",
            state_reason="duplicate",
        )
        return oldest, False

    async def _without_credentials(
        self,
        record: Record,
        owner: str,
        repo: str,
        title: str,
        body: str,
        kind: str = "deliverable",
    ) -> Followed:
        """Without App credentials the gateway logs the issue it would open and refuses."""
        try:
            await self.github.create_issue(owner, repo, title, body, None)
        except GitHubUnavailable as exc:
            return self._said("skipped", record, f"not opened: {exc}", kind=kind)
        raise RuntimeError("a gateway that cannot read GitHub opened an issue")  # pragma: no cover

    async def _read_now(self, lane: AirtableLane, table: str, record_id: str) -> Record | None:
        """The record as Airtable has it now (not a stale snapshot); None when gone. The
        lane's snapshot takes it too, so the reconcile that follows finds the record under
        a URL a person just typed or changed, and in the Project it was just moved to."""
        return await lane.read_record(table, record_id)

    def _repository(self, base_id: str, project: Record) -> tuple[str, str] | str | None:
        """Where the Project's issues go: ``(owner, name)``; the text when its Repository
        field is not ``owner/name``; None when neither it nor the configuration names one."""
        value = str(project["fields"].get(self.config.fields.projects.repository) or "").strip()
        if value:
            return drafts.parse_repository(value) or value
        default = self.config.default_repository(base_id)
        return drafts.parse_repository(default) if default else None

    def _no_repository(self, project: Record, where: tuple[str, str] | str | None) -> str:
        name = repr(self._name(project))
        if isinstance(where, str):
            return BAD_REPOSITORY.format(project=name, value=where)
        return NO_REPOSITORY.format(project=name, field=self.config.fields.projects.repository)

    def _tracking_url(self, project: Record | None) -> str:
        if project is None:
            return ""
        return str(project["fields"].get(self.config.fields.projects.tracking_issue) or "")

    def _name(self, record: Record) -> str:
        value = record["fields"].get(self.config.fields.deliverables.name) or record["fields"].get(
            self.config.fields.projects.name
        )
        return str(value or record["id"])

    async def _engagement_name(self, lane: AirtableLane, project: Record) -> str | None:
        ids = project["fields"].get(self.config.fields.projects.engagement) or []
        if not ids:
            return None
        engagements = await lane.table_records(self.config.tables.engagements)
        engagement = engagements.get(ids[0])
        if engagement is None:
            return None
        return engagement["fields"].get(self.config.fields.engagements.name)

    async def _deliverable_facts(
        self, lane: AirtableLane, record: Record, project: Record
    ) -> drafts.DeliverableFacts:
        names = self.config.fields.projects
        return drafts.DeliverableFacts(
            record_id=record["id"],
            name=record["fields"].get(self.config.fields.deliverables.name),
            project=project["fields"].get(names.name),
            engagement=await self._engagement_name(lane, project),
            statement_of_work=project["fields"].get(names.statement_of_work),
        )

    async def _project_facts(self, lane: AirtableLane, project: Record) -> drafts.ProjectFacts:
        names = self.config.fields.projects
        return drafts.ProjectFacts(
            record_id=project["id"],
            name=project["fields"].get(names.name),
            engagement=await self._engagement_name(lane, project),
            statement_of_work=project["fields"].get(names.statement_of_work),
        )

    def _entries(self, deliverables: list[Record]) -> list[drafts.TrackedDeliverable]:
        names = self.config.fields.deliverables
        return drafts.tracked_deliverables(
            deliverables, name=names.name, issue=names.issue, status=names.status
        )

    def _done_names(self) -> dict[str, str]:
        options = self.config.statuses.deliverable
        return {"done": options.done, "cancelled": options.cancelled}

    @staticmethod
    def _ref_of(issue: dict[str, Any], fallback: IssueRef | None = None) -> IssueRef:
        ref = parse_issue_url(str(issue.get("html_url") or ""))
        if ref is None:
            if fallback is not None:
                return fallback
            raise ValueError(f"GitHub's issue has no issue URL: {issue.get('html_url')!r}")
        return ref

    def _say(self, kind: str, record: Record, text: str) -> str:
        return f"{kind} {record['id']} {self._name(record)!r}: {text}"

    def _said(
        self, status: str, record: Record, text: str, *, kind: str = "deliverable"
    ) -> Followed:
        line = self._say(kind, record, text)
        log.info("%s", line)
        return Followed(status, line)

    async def _follow_project_for_item(self, base_id: str, project_id: str) -> Followed:
        lane = self.lanes.for_base(base_id)
        async with (
            self._project_locks[(base_id, project_id)],
            self.reconciler.locks.hold(f"opener-project:{base_id}:{project_id}"),
        ):
            project = await self._read_now(lane, self.config.tables.projects, project_id)
            if project is None:
                return Followed("gone", f"Project {project_id}: gone from Airtable")
            followed, _ = await self._keep_tracking(lane, project, place_deliverables=True)
            return followed

    async def _item(
        self,
        kind: str,
        record: Record,
        repository: str,
        dry_run: bool,
        would: str,
        act: Callable[[], Awaitable[Followed]],
    ) -> OpenItem:
        """One item of :meth:`open_missing`: what would be done, or what ``act`` did."""
        label = "Project" if kind == "tracking" else "deliverable"
        name = self._name(record)
        if dry_run:
            outcome = self._say(label, record, would)
            return OpenItem(kind, record["id"], name, repository, "would-open", outcome, True)
        try:
            followed = await act()
        except AirtableError as exc:
            problem = airtable_problem_for(self.config, exc)
            followed = Followed("failed", self._say(label, record, f"failed: {problem}"))
        except GITHUB_FAILURES as exc:
            problem = github_problem_for(self.config, exc)
            followed = Followed("failed", self._say(label, record, f"failed: {problem}"))
        return OpenItem(kind, record["id"], name, repository, followed.status, followed.text, False)


def _older(record: Record, created_after: float | None) -> bool:
    """Whether a record was created before ``created_after`` (Unix time; None: never)."""
    if created_after is None:
        return False
    created = str(record.get("createdTime") or "")
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return moment < created_after
