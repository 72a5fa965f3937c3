"""What the worker does with an ``airtable`` delivery: follow the records a payload names.

A journaled payload (:mod:`bot.sync.airtable_hook`) is narrowed to the deliverables and
Projects worth reading (:func:`bot.core.airtable_changes.changes_of`); each is then followed
from its current state by the issue opener: a deliverable with no issue gets one, a moved
one's sub-issue moves, a Project with a repository gets its tracking issue. Deliverables go
first, so a Project's tracking issue lists the issues just opened. A payload of the bot's
own writes is recognised and left alone. Records created before the bot began following
the base get no issue this way (the journaled payload says since when it follows): an
operator opens those with ``sync --open-missing-issues``.

A ``sweep`` delivery covers the gap a replaced hook left: every deliverable created since
the gap began that still has no issue, and every Project created since then, are followed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.clients.airtable import Lanes
from bot.config import Config
from bot.core.airtable_changes import WatchedTables, changes_of

log = logging.getLogger(__name__)


class Opener(Protocol):
    """The effects on GitHub (:class:`bot.sync.issue_opener.IssueOpener`)."""

    async def follow_deliverable(
        self, base_id: str, record_id: str, *, created_after: float | None = None
    ) -> str:
        """Open, move or sync the issue of one deliverable; a one-line outcome."""

    async def follow_project(
        self, base_id: str, project_id: str, *, created_after: float | None = None
    ) -> str:
        """Open or update one Project's tracking issue; a one-line outcome."""


def created_since_formula(since: float) -> str:
    """The ``filterByFormula`` of records created after ``since`` (Unix time)."""
    moment = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return f"IS_AFTER(CREATED_TIME(), DATETIME_PARSE('{moment}'))"


class BaseFacts:
    """What the bot reads once per followed base: the ids of the tables and fields it
    follows (from the base's schema) and the Airtable user its token writes as."""

    def __init__(self, config: Config, *, lanes: Lanes) -> None:
        self.config = config
        self.lanes = lanes
        self._watched: dict[str, WatchedTables] = {}
        self._users: dict[str, str | None] = {}

    async def watched(self, base_id: str) -> WatchedTables:
        """The ids of the tables and fields followed on a base (read once, from its schema)."""
        if base_id not in self._watched:
            lane = self.lanes.for_base(base_id)
            schema = await lane.call("read the schema", lambda api: api.base(base_id).schema())
            self._watched[base_id] = watched_tables(self.config, schema.model_dump())
        return self._watched[base_id]

    async def bot_user(self, base_id: str) -> str | None:
        """The id of the Airtable user the bot's token writes as (its own writes' author)."""
        if base_id not in self._users:
            lane = self.lanes.for_base(base_id)
            whoami = await lane.call("read the token's user", lambda api: api.whoami())
            self._users[base_id] = str(whoami.get("id")) if whoami.get("id") else None
        return self._users[base_id]


def watched_tables(config: Config, schema: dict[str, Any]) -> WatchedTables:
    """The followed tables' and fields' ids, found by the configured names in a base schema
    (pyairtable's ``BaseSchema`` as a dict). Raises ``LookupError`` naming what is missing."""
    tables = {t["name"]: t for t in schema.get("tables") or []}

    def table(name: str) -> dict[str, Any]:
        if name not in tables:
            raise LookupError(f"the base has no table {name!r}")
        return tables[name]

    def field_ids(found: dict[str, Any], *names: str) -> dict[str, str]:
        by_name = {f["name"]: f["id"] for f in found.get("fields") or []}
        return {name: by_name[name] for name in names if name in by_name}

    d_names, p_names = config.fields.deliverables, config.fields.projects
    deliverables = table(config.tables.deliverables)
    projects = table(config.tables.projects)
    d_fields = field_ids(deliverables, d_names.project, d_names.issue, d_names.name)
    if d_names.issue not in d_fields:
        raise LookupError(f"{config.tables.deliverables} has no field {d_names.issue!r}")
    p_fields = field_ids(
        projects,
        p_names.name,
        p_names.repository,
        p_names.tracking_issue,
        p_names.deliverables,
        p_names.engagement,
        p_names.statement_of_work,
    )
    return WatchedTables(
        deliverables=deliverables["id"],
        projects=projects["id"],
        deliverable_issue=d_fields[d_names.issue],
        deliverable_fields=frozenset(
            d_fields[n] for n in (d_names.project, d_names.issue) if n in d_fields
        ),
        project_fields=frozenset(p_fields.values()),
    )


class AirtableFollower:
    """Follows the changes Airtable's webhook payloads report; see the module docstring."""

    def __init__(self, config: Config, *, facts: BaseFacts, lanes: Lanes, opener: Opener) -> None:
        self.config = config
        self.facts = facts
        self.lanes = lanes
        self.opener = opener

    async def follow_payload(self, data: dict[str, Any]) -> list[str]:
        """Follow the records of one journaled payload; the outcomes, one line each."""
        base_id = str(data["base"]["id"])
        payload = data.get("payload") or {}
        tables = await self.facts.watched(base_id)
        user = await self.facts.bot_user(base_id)
        changes = changes_of(payload, tables, bot_user_id=user)
        number = payload.get("baseTransactionNumber")
        if changes.own_write:
            log.debug("Airtable base %s: transaction %s is the bot's own write", base_id, number)
            return []
        since = data.get("following_since")
        outcomes = await self._follow(
            base_id,
            changes.deliverables,
            changes.projects,
            created_after=float(since) if since is not None else None,
        )
        for line in outcomes:
            log.info("Airtable base %s, transaction %s: %s", base_id, number, line)
        return outcomes

    async def sweep(self, data: dict[str, Any]) -> list[str]:
        """Follow what a replaced hook may have missed: records created since ``since``."""
        base_id = str(data["base"]["id"])
        formula = created_since_formula(float(data["since"]) - 1)
        lane = self.lanes.for_base(base_id)
        names = self.config.fields
        deliverables_table = self.config.tables.deliverables
        projects_table = self.config.tables.projects
        deliverables = await lane.call(
            "sweep new deliverables",
            lambda api: api.table(base_id, deliverables_table).all(formula=formula),
        )
        projects = await lane.call(
            "sweep new projects",
            lambda api: api.table(base_id, projects_table).all(formula=formula),
        )
        missing = [r["id"] for r in deliverables if not r["fields"].get(names.deliverables.issue)]
        outcomes = await self._follow(base_id, missing, [p["id"] for p in projects])
        log.info(
            "Airtable base %s: swept the gap since %s: %d deliverables without an issue,"
            " %d Projects",
            base_id, data["since"], len(missing), len(projects),
        )  # fmt: skip
        return outcomes

    async def _follow(
        self,
        base_id: str,
        deliverables: Iterable[str],
        projects: Iterable[str],
        *,
        created_after: float | None = None,
    ) -> list[str]:
        opener = self.opener
        outcomes = []
        for record_id in deliverables:
            outcome = await opener.follow_deliverable(
                base_id, record_id, created_after=created_after
            )
            outcomes.append(outcome)
        for project_id in projects:
            outcome = await opener.follow_project(base_id, project_id, created_after=created_after)
            outcomes.append(outcome)
        return outcomes
