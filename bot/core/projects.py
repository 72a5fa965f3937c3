"""Projects as people name them: the one name matcher, the Engagement warning, new links.

Names that people typed (in a command, a label or a sub-issue's parent) are matched in
Python against the Projects table, by exact comparison (case and surrounding space
ignored) or by record id, never through a formula, so ``x' OR TRUE() OR '`` can only match a
Project of exactly that name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.config import Config
from bot.core.issue import IssueRef, IssueState
from bot.core.markdown import plain
from bot.core.records import Record
from bot.core.status import deliverable_state

RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")
# How many close names an unknown project's answer offers.
MAX_SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.5

ENGAGEMENT_MISSING = "it belongs to no Engagement"
ENGAGEMENT_UNKNOWN = "its Engagement could not be found"
ENGAGEMENT_ENDED = "its Engagement {engagement} ended on {end}"


def find_by_name(records: Iterable[Record], name_field: str, name: str) -> Record | None:
    """The first record whose name is ``name`` (case and surrounding space ignored)."""
    wanted = name.strip().casefold()
    for record in records:
        if str(record["fields"].get(name_field) or "").strip().casefold() == wanted:
            return record
    return None


@dataclass(frozen=True)
class ProjectMatch:
    """The answer to "which Project is this name?"."""

    project: Record | None
    candidates: list[Record] = field(default_factory=list)  # when ambiguous
    suggestions: list[str] = field(default_factory=list)  # close names when unknown


def _unquoted(query: str) -> str:
    if len(query) >= 2 and query[0] == query[-1] and query[0] in "\"'`":
        return query[1:-1].strip()
    return query


def find_project(
    projects: Mapping[str, Record],
    query: str,
    name_field: str,
    *,
    suggest_among: Collection[str] | None = None,
) -> ProjectMatch:
    """The Project named ``query`` (exact, case-insensitive) or with record id ``query``.

    A name wrapped in one pair of quotes or backticks is also tried without them.
    Unknown: the closest names (difflib), only among the Projects whose ids are in
    ``suggest_among`` when it is given. Several of the same name: the candidates.
    """
    query = query.strip()
    if RECORD_ID.match(query) and query in projects:
        return ProjectMatch(projects[query])
    wanted = {query.casefold(), _unquoted(query).casefold()}
    matches = [
        record
        for record in projects.values()
        if str(record["fields"].get(name_field) or "").strip().casefold() in wanted
    ]
    if len(matches) == 1:
        return ProjectMatch(matches[0])
    if matches:
        return ProjectMatch(None, candidates=sorted(matches, key=lambda r: r["id"]))
    offered = [r for r in projects.values() if suggest_among is None or r["id"] in suggest_among]
    names = sorted({str(r["fields"].get(name_field) or "") for r in offered} - {""})
    folded = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(
        _unquoted(query).casefold(), list(folded), n=MAX_SUGGESTIONS, cutoff=SUGGESTION_CUTOFF
    )
    return ProjectMatch(None, suggestions=[folded[name] for name in close])


def engagement_warning(
    project: Record, engagements: Mapping[str, Record], config: Config, today: date
) -> str | None:
    """Why linking to ``project`` deserves a warning (process rule 4), or None."""
    linked = project["fields"].get(config.fields.projects.engagement) or []
    if not linked:
        return ENGAGEMENT_MISSING
    engagement = engagements.get(linked[0])
    if engagement is None:
        return ENGAGEMENT_UNKNOWN
    names = config.fields.engagements
    end = engagement["fields"].get(names.end)
    if not end:
        return None
    try:
        end_date = date.fromisoformat(str(end)[:10])
    except ValueError:
        return None
    if end_date < today:
        name = str(engagement["fields"].get(names.name) or engagement["id"])
        return ENGAGEMENT_ENDED.format(engagement=plain(name), end=end_date.isoformat())
    return None


def new_deliverable_fields(
    config: Config, ref: IssueRef, project_id: str, issue: IssueState | None, now: str
) -> dict[str, Any]:
    """The fields of a new deliverable record linking ``ref`` to a Project: Name, Status,
    Completed and Assignees as the issue says (the URL and Todo when it is unknown), synced
    at ``now``; empty fields left out, as Airtable leaves them out."""
    names = config.fields.deliverables
    fields: dict[str, Any] = {
        names.name: ref.url,
        names.project: [project_id],
        names.issue: ref.url,
        names.status: config.statuses.deliverable.todo,
        names.last_synced: now,
    }
    if issue is not None:
        state = deliverable_state(issue, config.statuses, config.labels)
        fields[names.status] = state.status
        fields[names.completed] = state.completed
        fields[names.assignees] = state.assignees or None
        fields[names.name] = state.name or ref.url
    return {k: v for k, v in fields.items() if v is not None}
