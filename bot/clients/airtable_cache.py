"""The Airtable lane's read cache: whole-table snapshots, kept true by the lane's own writes.

A table is read whole, page after page, at most once per ``ttl`` seconds (cachetools TTL);
concurrent readers of a table that is loading wait for the one load. The lane tells the
cache of each record it wrote (:meth:`TableCache.remember`), so a snapshot never shows less
than the lane itself wrote, even a write that landed while the snapshot was loading. The
deliverables table is also indexed by GitHub issue (case-insensitive issue URL).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import cachetools

from bot.core.issue import issue_url_key
from bot.core.records import Record

# Reads one page of a table after an offset (None: the first page), as Airtable answers it.
PageReader = Callable[[str, str | None], Awaitable[dict[str, Any]]]


@dataclass
class Snapshot:
    """A whole table read at one moment, indexed by record id (and, for the deliverables
    table, record ids by issue URL key)."""

    records: dict[str, Record]
    by_issue: dict[str, str] = field(default_factory=dict)


class TableCache:
    """Snapshots of the tables of one base; ``issue_field`` of ``issue_table`` is indexed."""

    def __init__(
        self, read_page: PageReader, *, ttl: float, issue_table: str, issue_field: str
    ) -> None:
        self._snapshots: cachetools.TTLCache[str, Snapshot] = cachetools.TTLCache(
            maxsize=16, ttl=ttl
        )
        self._read_page = read_page
        self._issue_table, self._issue_field = issue_table, issue_field
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        # Records written while a snapshot was loading, re-applied to it once it lands.
        self._writes_during_load: dict[str, list[Record]] = {}

    async def snapshot(self, table: str) -> Snapshot:
        """The snapshot of ``table``, read now when there is none younger than ``ttl``."""
        snapshot = self._snapshots.get(table)
        if snapshot is not None:
            return snapshot
        async with self._locks[table]:
            snapshot = self._snapshots.get(table)
            if snapshot is not None:
                return snapshot
            self._writes_during_load[table] = []
            try:
                snapshot = Snapshot(records=await self._read_all(table))
                for record in self._writes_during_load[table]:
                    snapshot.records[record["id"]] = record
            finally:
                del self._writes_during_load[table]
            if table == self._issue_table:
                for record in snapshot.records.values():
                    self._index(snapshot, record)
            self._snapshots[table] = snapshot
            return snapshot

    async def _read_all(self, table: str) -> dict[str, Record]:
        """Every record of ``table`` by id, one page per request."""
        records: dict[str, Record] = {}
        offset: str | None = None
        while True:
            page = await self._read_page(table, offset)
            records.update((r["id"], r) for r in page.get("records", ()))
            offset = page.get("offset")
            if not offset:
                return records

    def remember(self, table: str, record: Record) -> None:
        """Keep the cache true after the lane's own write of ``record``."""
        if table in self._writes_during_load:
            self._writes_during_load[table].append(record)
        snapshot = self._snapshots.get(table)
        if snapshot is None:
            return
        old = snapshot.records.get(record["id"])
        snapshot.records[record["id"]] = record
        if table == self._issue_table:
            old_url = old["fields"].get(self._issue_field) if old else None
            if old_url and snapshot.by_issue.get(issue_url_key(old_url)) == record["id"]:
                del snapshot.by_issue[issue_url_key(old_url)]
            self._index(snapshot, record)

    def _index(self, snapshot: Snapshot, record: Record) -> None:
        """Index ``record`` by its issue URL, when it has one."""
        url = record["fields"].get(self._issue_field)
        if url:
            snapshot.by_issue[issue_url_key(url)] = record["id"]
