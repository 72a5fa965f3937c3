"""The renewal signal (process rule 7): Engagements delivered or near their end.

When every Project of an Engagement is Complete, the Engagement becomes Delivered; when an
Active Engagement's End is within ``renewal.days_before_end`` days, it becomes Needs
renewal. Either transition creates, once, a Renewal Opportunity (Type Renewal, Stage
Prospect) named after the Engagement, so Business Development sees it in their pipeline.
The decisions are pure functions; :class:`RenewalSignal` applies them through a lane. The
completion check runs as a Project listener of the reconciler; the date check runs on
``serve``'s schedule and in ``sync``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.clients.airtable import AirtableLane
from bot.config import Config
from bot.core.completion import Transition
from bot.core.projects import find_by_name
from bot.core.records import Record
from bot.sync.reconcile import ProjectUpdate

log = logging.getLogger(__name__)

RENEWAL_NAME = "{engagement} renewal"
RENEWAL_TYPE = "Renewal"
RENEWAL_STAGE = "Prospect"


def renewal_name(engagement_name: str) -> str:
    """The name of the Renewal Opportunity of an Engagement."""
    return RENEWAL_NAME.format(engagement=engagement_name)


def parse_date(value: Any) -> date | None:
    """An Airtable date (``YYYY-MM-DD``, or a dateTime) as a date; None when empty or bad."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def today_utc() -> date:
    """Today's date in UTC (the dates of the base carry no time zone)."""
    return datetime.now(UTC).date()


def completion_status(
    engagement: Mapping[str, Any], project_statuses: Iterable[str | None], config: Config
) -> str | None:
    """Delivered when the Engagement (Active or Needs renewal) has Projects, all Complete."""
    statuses = config.statuses
    current = engagement.get(config.fields.engagements.status)
    if current not in (statuses.engagement.active, statuses.engagement.needs_renewal):
        return None
    seen = list(project_statuses)
    if seen and all(s == statuses.project.complete for s in seen):
        return statuses.engagement.delivered
    return None


def date_status(engagement: Mapping[str, Any], today: date, config: Config) -> str | None:
    """Needs renewal when the Engagement is Active and its End is at most N days away."""
    names = config.fields.engagements
    if engagement.get(names.status) != config.statuses.engagement.active:
        return None
    end = parse_date(engagement.get(names.end))
    if end is None or (end - today).days > config.renewal.days_before_end:
        return None
    return config.statuses.engagement.needs_renewal


def projects_of(engagement_id: str, projects: Iterable[Record], config: Config) -> list[Record]:
    """The Projects linked to an Engagement (read from the Projects side of the link)."""
    link = config.fields.projects.engagement
    return [p for p in projects if engagement_id in (p["fields"].get(link) or ())]


@dataclass(frozen=True)
class RenewalAction:
    """One Engagement signalled: its new Status and its Renewal Opportunity."""

    engagement_id: str
    engagement: str
    status: str
    opportunity: str
    opportunity_id: str | None  # None in a dry run, when it would be created
    created: bool


class RenewalSignal:
    """Applies the renewal decisions to a base, creating each Renewal Opportunity once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)

    async def on_project_update(self, update: ProjectUpdate) -> None:
        """Project listener: when a Project completes, check its Engagements."""
        if not self.config.renewal.enabled or update.transition is not Transition.COMPLETED:
            return
        link = self.config.fields.projects.engagement
        for engagement_id in update.project["fields"].get(link) or ():
            await self.check_completion(update.lane, engagement_id)

    async def check_completion(
        self, lane: AirtableLane, engagement_id: str, *, dry_run: bool = False
    ) -> RenewalAction | None:
        """Mark the Engagement Delivered when all its Projects are Complete."""
        async with self._locks[engagement_id]:
            engagements = await lane.table_records(self.config.tables.engagements)
            engagement = engagements.get(engagement_id)
            if engagement is None:
                return None
            projects = (await lane.table_records(self.config.tables.projects)).values()
            status_field = self.config.fields.projects.status
            new = completion_status(
                engagement["fields"],
                (
                    p["fields"].get(status_field)
                    for p in projects_of(engagement_id, projects, self.config)
                ),
                self.config,
            )
            if new is None:
                return None
            return await self._signal(lane, engagement, new, dry_run=dry_run)

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
        async with self._locks[engagement_id]:
            engagement = (await lane.table_records(self.config.tables.engagements)).get(
                engagement_id
            )
            if engagement is None:
                return None
            new = date_status(engagement["fields"], today, self.config)
            if new is None:
                return None
            return await self._signal(lane, engagement, new, dry_run=dry_run)

    async def _signal(
        self, lane: AirtableLane, engagement: Record, status: str, *, dry_run: bool
    ) -> RenewalAction:
        """Set the Engagement's Status and make sure its Renewal Opportunity exists."""
        names = self.config.fields
        name = str(engagement["fields"].get(names.engagements.name) or engagement["id"])
        opportunity_name = renewal_name(name)
        opportunities = (await lane.table_records(self.config.tables.opportunities)).values()
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
                {
                    names.opportunities.name: opportunity_name,
                    names.opportunities.type: RENEWAL_TYPE,
                    names.opportunities.stage: RENEWAL_STAGE,
                },
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
