"""The renewal decisions (process rule 7), pure: when an Engagement is Delivered or Needs renewal.

When every Project of an Engagement is Complete, the Engagement becomes Delivered; when an
Active Engagement's End is within ``renewal.days_before_end`` days, it becomes Needs
renewal. Either transition goes with a Renewal Opportunity (Type Renewal, Stage Prospect)
named after the Engagement. A Delivered Engagement one of whose Projects is no longer
Complete (a deliverable reopened) is Active again; its Renewal Opportunity, a sales record
by then, is kept. :class:`bot.sync.renewal.RenewalSignal` applies these decisions
to a base.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.config import Config
from bot.core.records import Record

RENEWAL_NAME = "{engagement} renewal"
RENEWAL_TYPE = "Renewal"
RENEWAL_STAGE = "Prospect"


def renewal_name(engagement_name: str) -> str:
    """The name of the Renewal Opportunity of an Engagement."""
    return RENEWAL_NAME.format(engagement=engagement_name)


def renewal_opportunity_fields(opportunity_name: str, config: Config) -> dict[str, str]:
    """The fields of a new Renewal Opportunity: its name, Type Renewal, Stage Prospect."""
    names = config.fields.opportunities
    return {names.name: opportunity_name, names.type: RENEWAL_TYPE, names.stage: RENEWAL_STAGE}


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


def reopened_status(
    engagement: Mapping[str, Any], project_statuses: Iterable[str | None], config: Config
) -> str | None:
    """Active when the Engagement is Delivered but one of its Projects is not Complete."""
    statuses = config.statuses
    if engagement.get(config.fields.engagements.status) != statuses.engagement.delivered:
        return None
    if any(s != statuses.project.complete for s in project_statuses):
        return statuses.engagement.active
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
    reopened: bool = False  # Delivered → Active: a Project is no longer Complete
