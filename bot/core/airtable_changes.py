"""What an Airtable webhook payload asks of the bot: which deliverables and Projects to follow.

Pure functions over the payloads Airtable's ``GET /v0/bases/{base}/webhooks/{id}/payloads``
returns (https://airtable.com/developers/web/api/model/webhooks-payload). A payload is a
hint, as a GitHub delivery is: the bot reads each record it names as it is now and decides
from that. This module only narrows the hint to the records worth reading:

- a deliverable created, or changed in its Project or GitHub Issue, or changed while it has
  no issue (the payload carries the GitHub Issue cell because the hook asks Airtable to
  include it);
- a Project created, or changed in a field that decides where its issues go or what its
  tracking issue lists (its name, Repository, Tracking Issue, Deliverables).

The bot's own writes (source ``publicApi`` by the token's own user) are not followed again:
they are what the bot decided from the truth already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The sources of a payload that are the bot's own API token.
API_SOURCE = "publicApi"


@dataclass(frozen=True)
class WatchedTables:
    """The ids, in one base, of the tables and fields whose changes the bot follows."""

    deliverables: str  # table id
    projects: str  # table id
    deliverable_issue: str  # field id of a deliverable's GitHub Issue
    deliverable_fields: frozenset[str]  # field ids whose change is followed
    project_fields: frozenset[str]  # field ids whose change is followed

    @property
    def included_field_ids(self) -> list[str]:
        """The field ids the hook asks Airtable to include in every payload."""
        return [self.deliverable_issue]


@dataclass(frozen=True)
class Changes:
    """The records of one payload worth following, in the order they appear."""

    deliverables: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    own_write: bool = False

    @property
    def empty(self) -> bool:
        """Whether nothing is to be followed."""
        return not self.deliverables and not self.projects


def payload_delivery_id(webhook_id: str, payload: Mapping[str, Any]) -> str:
    """The journal id of a payload: its hook and base transaction, which Airtable numbers
    once per change to the base, so a payload read twice is journaled once."""
    return f"airtable-{webhook_id}-{payload.get('baseTransactionNumber')}"


def is_own_write(payload: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Whether the payload records a write made through the API by the bot's own user."""
    if bot_user_id is None:
        return False
    action = payload.get("actionMetadata") or {}
    user = ((action.get("sourceMetadata") or {}).get("user") or {}).get("id")
    return action.get("source") == API_SOURCE and user == bot_user_id


def changes_of(
    payload: Mapping[str, Any], tables: WatchedTables, *, bot_user_id: str | None
) -> Changes:
    """The deliverables and Projects a payload names that the bot should read again."""
    if is_own_write(payload, bot_user_id):
        return Changes(own_write=True)
    by_table = payload.get("changedTablesById") or {}
    deliverables = _followed(
        by_table.get(tables.deliverables) or {},
        tables.deliverable_fields,
        missing=tables.deliverable_issue,
    )
    projects = _followed(by_table.get(tables.projects) or {}, tables.project_fields)
    return Changes(tuple(deliverables), tuple(projects))


def _followed(
    table: Mapping[str, Any], watched: frozenset[str], *, missing: str | None = None
) -> list[str]:
    """Record ids of one table's changes to follow: every record created; a record changed
    in a watched field, or (``missing``) one whose cell ``missing`` is empty."""
    followed = dict.fromkeys(table.get("createdRecordsById") or {})
    for record_id, change in (table.get("changedRecordsById") or {}).items():
        current = _cells(change, "current")
        if watched & current.keys() or (
            missing is not None and not (current | _cells(change, "unchanged")).get(missing)
        ):
            followed[record_id] = None
    return list(followed)


def _cells(change: Mapping[str, Any], part: str) -> dict[str, Any]:
    return dict(((change.get(part) or {}).get("cellValuesByFieldId")) or {})


def hook_specification(tables: WatchedTables) -> dict[str, Any]:
    """The webhook specification the bot creates: record data of the whole base (the
    deliverables and the Projects live in two tables, and a hook scopes to one at most),
    with each deliverable's GitHub Issue cell included."""
    return {
        "options": {
            "filters": {"dataTypes": ["tableData"]},
            "includes": {"includeCellValuesInFieldIds": tables.included_field_ids},
        }
    }
