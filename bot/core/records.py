"""Airtable records as the bot handles them: plain ``{"id", "fields"}`` dicts, and a whole base.

Nothing here talks to Airtable; the lane (``bot.clients.airtable``) reads and writes these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]


def airtable_now() -> str:
    """Now, as an Airtable dateTime value (UTC, milliseconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class BaseData:
    """A whole base as plain data: each table's records (``{"id", "fields"}`` dicts)."""

    opportunities: list[Record] = field(default_factory=list)
    contracts: list[Record] = field(default_factory=list)
    engagements: list[Record] = field(default_factory=list)
    projects: list[Record] = field(default_factory=list)
    deliverables: list[Record] = field(default_factory=list)

    @classmethod
    def combined(cls, parts: Iterable[BaseData]) -> BaseData:
        """Several bases read as one (record ids are unique across bases)."""
        merged = cls()
        for part in parts:
            for name in ("opportunities", "contracts", "engagements", "projects", "deliverables"):
                getattr(merged, name).extend(getattr(part, name))
        return merged
