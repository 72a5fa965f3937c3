"""The renewal signal (process rule 7): Engagements delivered or near their end.

When every Project of an Engagement is Complete, the Engagement becomes Delivered; when an
Active Engagement's End is within ``renewal.days_before_end`` days, it becomes Needs
renewal. Either transition creates, once, a Renewal Opportunity (Type Renewal, Stage
Prospect) named after the Engagement, so Business Development sees it in their pipeline.
A Delivered Engagement whose Project reopens is set back to Active (the Renewal Opportunity
stays: it is a sales record by then).
The decisions are the pure functions of :mod:`bot.core.renewal_rules`;
:class:`RenewalSignal` applies them through a lane. The completion check runs as a Project
listener of the reconciler; the date check runs on ``serve``'s schedule and in ``sync``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from datetime import date

from bot.clients.airtable import AirtableLane
from bot.config import Config
from bot.core.completion import Transition
from bot.core.projects import find_by_name
from bot.core.records import Record
from bot.core.renewal_rules import (
    RenewalAction,
    completion_status,
    date_status,
    projects_of,
    renewal_name,
    renewal_opportunity_fields,
    reopened_status,
    today_utc,
)
from bot.storage.locks import SharedLocks
from bot.sync.reconcile import ProjectUpdate

log = logging.getLogger(__name__)


class RenewalSignal:
    """Applies the renewal decisions to a base, creating each Renewal Opportunity once."""

    def __init__(self, config: Config, *, locks: SharedLocks | None = None) -> None:
        self.config = config
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        # Across replicas (PostgreSQL): one Renewal Opportunity per Engagement.
        self.shared_locks = locks or SharedLocks(None)

    async def on_project_update(self, update: ProjectUpdate) -> None:
        """Project listener: when a Project completes or reopens, check its Engagements."""
        changed = update.transition in (Transition.COMPLETED, Transition.REOPENED)
        if not self.config.renewal.enabled or not changed:
            return
        link = self.config.fields.projects.engagement
        for engagement_id in update.project["fields"].get(link) or ():
            await self.check_completion(update.lane, engagement_id)

    async def check_completion(
        self, lane: AirtableLane, engagement_id: str, *, dry_run: bool = False
    ) -> RenewalAction | None:
        """Mark the Engagement Delivered when all its Projects are Complete, and Active
        again when it is Delivered and one of them is not."""
        async with (
            self._locks[engagement_id],
            self.shared_locks.hold(f"engagement:{lane.base_id}:{engagement_id}") as held,
        ):
            read_after = time.monotonic() if held.others_wrote else None
            engagements = await lane.table_records(
                self.config.tables.engagements, read_after=read_after
            )
            engagement = engagements.get(engagement_id)
            if engagement is None:
                return None
            projects = (
                await lane.table_records(self.config.tables.projects, read_after=read_after)
            ).values()
            status_field = self.config.fields.projects.status
            statuses = [
                p["fields"].get(status_field)
                for p in projects_of(engagement_id, projects, self.config)
            ]
            reopened = reopened_status(engagement["fields"], statuses, self.config)
            if reopened is not None:
                return await self._reopen(
                    lane, engagement, reopened, dry_run=dry_run, read_after=read_after
                )
            new = completion_status(engagement["fields"], statuses, self.config)
            if new is None:
                return None
            return await self._signal(lane, engagement, new, dry_run=dry_run, read_after=read_after)

    async def _reopen(
        self,
        lane: AirtableLane,
        engagement: Record,
        status: str,
        *,
        dry_run: bool,
        read_after: float | None = None,
    ) -> RenewalAction:
        """Set a Delivered Engagement back to ``status`` (Active); its Renewal Opportunity,
        if any, is left as it is."""
        names = self.config.fields
        name = str(engagement["fields"].get(names.engagements.name) or engagement["id"])
        opportunity_name = renewal_name(name)
        opportunities = (
            await lane.table_records(self.config.tables.opportunities, read_after=read_after)
        ).values()
        existing = find_by_name(opportunities, names.opportunities.name, opportunity_name)
        if not dry_run:
            await lane.update(
                self.config.tables.engagements,
                engagement["id"],
                {names.engagements.status: status},
            )
            log.info(
                "Engagement %s (%s) is %s again: one of its Projects is no longer Complete",
                name,
                engagement["id"],
                status,
            )
        return RenewalAction(
            engagement["id"],
            name,
            status,
            opportunity_name,
            existing["id"] if existing else None,
            created=False,
            reopened=True,
        )

    async def check_all(
        self, lane: AirtableLane, *, today: date | None = None, dry_run: bool = False
    ) -> list[RenewalAction]:
        """Run the completion and the date check over every Engagement of the base."""
        if not self.config.renewal.enabled:
            return []
        today = today or today_utc()
        actions = []
        for engagement_id in list(await lane.table_records(self.config.tables.engagements)):
            action = await self.check_completion(lane, engagement_id, dry_run=dry_run)
            if action is None:
                action = await self._check_date(lane, engagement_id, today, dry_run=dry_run)
            if action is not None:
                actions.append(action)
        return actions

    async def _check_date(
        self, lane: AirtableLane, engagement_id: str, today: date, *, dry_run: bool
    ) -> RenewalAction | None:
        async with (
            self._locks[engagement_id],
            self.shared_locks.hold(f"engagement:{lane.base_id}:{engagement_id}") as held,
        ):
            read_after = time.monotonic() if held.others_wrote else None
            engagement = (
                await lane.table_records(self.config.tables.engagements, read_after=read_after)
            ).get(engagement_id)
            if engagement is None:
                return None
            new = date_status(engagement["fields"], today, self.config)
            if new is None:
                return None
            return await self._signal(lane, engagement, new, dry_run=dry_run, read_after=read_after)

    async def _signal(
        self,
        lane: AirtableLane,
        engagement: Record,
        status: str,
        *,
        dry_run: bool,
        read_after: float | None = None,
    ) -> RenewalAction:
        """Set the Engagement's Status and make sure its Renewal Opportunity exists."""
        names = self.config.fields
        name = str(engagement["fields"].get(names.engagements.name) or engagement["id"])
        opportunity_name = renewal_name(name)
        opportunities = (
            await lane.table_records(self.config.tables.opportunities, read_after=read_after)
        ).values()
        existing = find_by_name(opportunities, names.opportunities.name, opportunity_name)
        if dry_run:
            return RenewalAction(
                engagement["id"],
                name,
                status,
                opportunity_name,
                existing["id"] if existing else None,
                existing is None,
            )
        await lane.update(
            self.config.tables.engagements, engagement["id"], {names.engagements.status: status}
        )
        created = existing is None
        if existing is None:
            existing = await lane.create(
                self.config.tables.opportunities,
                renewal_opportunity_fields(opportunity_name, self.config),
            )
        log.info(
            "Engagement %s (%s) is now %s; Renewal Opportunity %s (%s)%s",
            name,
            engagement["id"],
            status,
            opportunity_name,
            existing["id"],
            " created" if created else " already there",
        )
        return RenewalAction(
            engagement["id"], name, status, opportunity_name, existing["id"], created
        )
