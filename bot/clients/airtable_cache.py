"""The Airtable lane's read cache: table snapshots kept true by reading only what changed.

A table is read whole once, page after page; after that a snapshot older than ``ttl`` is
brought up to date by one filtered list of the records created or modified since its last
read (``filterByFormula`` on ``LAST_MODIFIED_TIME()`` and ``CREATED_TIME()``: one request
when little changed), so a read costs what changed, not what the table holds. The "since"
of a change read reaches back ``overlap`` seconds before the previous read began, on
Airtable's clock as the lane estimates it from the Date header of Airtable's answers (a
lower bound, so the estimate errs towards reading more), for what that estimate cannot see
and for writes that become visible late; records read twice are simply replaced.

A change read cannot see deletions, so every ``full_read_seconds`` the table is read whole
again in the background while the snapshot keeps serving (and keeps being brought up to
date); the new snapshot replaces it once read, followed by a change read from the moment
the whole read began. When the change read is refused (a base or proxy that does not
understand the formula), the cache falls back to whole reads for that table.

Concurrent readers of a table wait for the one read. The lane tells the cache of each
record it wrote (:meth:`TableCache.remember`), so a snapshot never shows less than the lane
itself wrote, even a write that landed while a read was under way. The deliverables table
is also indexed by GitHub issue (case-insensitive issue URL).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.issue import issue_url_key
from bot.core.records import Record

log = logging.getLogger(__name__)

# Reads one page of a table after an offset (None: the first page), filtered by a formula
# (None: every record), as Airtable answers it.
PageReader = Callable[[str, str | None, str | None], Awaitable[dict[str, Any]]]


class ChangeReadRefused(Exception):
    """Airtable would not answer a change read (its formula): read the table whole instead."""


@dataclass
class Snapshot:
    """A table as last read, indexed by record id (and, for the deliverables table, record
    ids by issue URL key), with when it was read."""

    records: dict[str, Record]
    by_issue: dict[str, str] = field(default_factory=dict)
    since: float = 0.0  # when the last read began (time.time)
    read_at: float = 0.0  # when the last read began (time.monotonic)
    whole_read_at: float = 0.0  # when the last whole read began (time.monotonic)


def changed_since_formula(since: float) -> str:
    """The ``filterByFormula`` selecting records created or modified after ``since``."""
    moment = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(since * 1000) % 1000:03d}Z"
    )
    after = f"DATETIME_PARSE('{moment}')"
    return f"OR(IS_AFTER(LAST_MODIFIED_TIME(), {after}), IS_AFTER(CREATED_TIME(), {after}))"


class TableCache:
    """Snapshots of the tables of one base; ``issue_field`` of ``issue_table`` is indexed."""

    def __init__(
        self,
        read_page: PageReader,
        *,
        ttl: float,
        issue_table: str,
        issue_field: str,
        overlap: float = 30.0,
        full_read_seconds: float = 1800.0,
        on_airtable_clock: Callable[[float], float] = lambda moment: moment,
    ) -> None:
        """``on_airtable_clock`` turns a moment of this machine's wall clock into Airtable's
        (asked when a change read is sent, so it knows the latest answers); ages (``ttl``,
        ``full_read_seconds``) are measured on a monotonic clock."""
        self._snapshots: dict[str, Snapshot] = {}
        self._read_page = read_page
        self._ttl, self._overlap, self._full_read_seconds = ttl, overlap, full_read_seconds
        self._on_airtable_clock = on_airtable_clock
        self._issue_table, self._issue_field = issue_table, issue_field
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        # Records the lane wrote while a read of their table was under way, by table, kept
        # for each read in progress and applied over what it read.
        self._writes_during_read: dict[str, list[list[Record]]] = collections.defaultdict(list)
        self._whole_reads: dict[str, asyncio.Task[None]] = {}
        self._whole_only: set[str] = set()  # tables whose change reads were refused

    async def snapshot(self, table: str, *, read_after: float | None = None) -> Snapshot:
        """The snapshot of ``table``: read whole the first time, brought up to date with
        what changed when it is older than ``ttl`` or, with *read_after* (a
        ``time.monotonic()`` instant), when its last read began before then. Callers asking
        for the same table at once share one read."""

        def fresh(snapshot: Snapshot | None, now: float) -> bool:
            if snapshot is None:
                return False
            if read_after is not None:
                return snapshot.read_at >= read_after
            return now - snapshot.read_at < self._ttl

        snapshot = self._snapshots.get(table)
        if fresh(snapshot, time.monotonic()):
            assert snapshot is not None
            return snapshot
        async with self._locks[table]:
            snapshot = self._snapshots.get(table)
            now = time.monotonic()
            if fresh(snapshot, now):
                assert snapshot is not None
                return snapshot
            if snapshot is None or table in self._whole_only:
                snapshot = await self._read_whole(table)
            else:
                snapshot = await self._read_changes(table, snapshot)
                if now - snapshot.whole_read_at >= self._full_read_seconds:
                    self._start_whole_read(table)
            return snapshot

    def read_since(self, table: str) -> float | None:
        """When the last read of ``table`` began (``time.time()``); None before any."""
        snapshot = self._snapshots.get(table)
        return None if snapshot is None else snapshot.since

    async def close(self) -> None:
        """Stop any whole read running in the background."""
        for task in self._whole_reads.values():
            task.cancel()
        await asyncio.gather(*self._whole_reads.values(), return_exceptions=True)

    # -- reads ---------------------------------------------------------------------------

    async def _read_whole(self, table: str) -> Snapshot:
        """Read ``table`` whole into a new snapshot and keep it."""
        snapshot = await self._read_whole_into_new(table)
        self._snapshots[table] = snapshot
        return snapshot

    async def _read_whole_into_new(self, table: str) -> Snapshot:
        """``table`` read whole, as a new snapshot (not kept)."""
        since, began = time.time(), time.monotonic()
        records = await self._read(table, None)
        snapshot = Snapshot(records={}, since=since, read_at=began, whole_read_at=began)
        for record in records:
            self._put(table, snapshot, record)
        return snapshot

    async def _read_changes(self, table: str, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` brought up to date with the records changed since its last read (or,
        when Airtable refuses the change read, the table read whole into a new one)."""
        since, began = time.time(), time.monotonic()
        formula = changed_since_formula(self._on_airtable_clock(snapshot.since) - self._overlap)
        try:
            records = await self._read(table, formula)
        except ChangeReadRefused as exc:
            log.warning("Airtable refused a change read of %s (%s); reading it whole", table, exc)
            self._whole_only.add(table)
            return await self._read_whole(table)
        for record in records:
            self._put(table, snapshot, record)
        snapshot.since, snapshot.read_at = since, began
        return snapshot

    def _start_whole_read(self, table: str) -> None:
        """Read ``table`` whole in the background (to drop deleted records), unless running."""
        running = self._whole_reads.get(table)
        if running is None or running.done():
            self._whole_reads[table] = asyncio.create_task(
                self._refresh_whole(table), name=f"whole-read-{table}"
            )

    async def _refresh_whole(self, table: str) -> None:
        """Read ``table`` whole, then what changed meanwhile, and replace its snapshot."""
        try:
            fresh = await self._read_whole_into_new(table)
            async with self._locks[table]:
                self._snapshots[table] = await self._read_changes(table, fresh)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the snapshot keeps serving; the next use tries again
            log.warning("the background whole read of %s failed: %s", table, exc)
            old = self._snapshots.get(table)
            if old is not None:
                old.whole_read_at = time.monotonic() - self._full_read_seconds + self._ttl

    async def _read(self, table: str, formula: str | None) -> list[Record]:
        """Every record of ``table`` matching ``formula``, one page per request, with the
        lane's own writes that landed meanwhile applied over them."""
        written: list[Record] = []
        self._writes_during_read[table].append(written)
        try:
            records: dict[str, Record] = {}
            offset: str | None = None
            while True:
                page = await self._read_page(table, offset, formula)
                records.update((r["id"], r) for r in page.get("records", ()))
                offset = page.get("offset")
                if not offset:
                    break
        finally:
            self._writes_during_read[table].remove(written)
        for record in written:
            records[record["id"]] = record
        return list(records.values())

    # -- the lane's own writes -----------------------------------------------------------

    def remember(self, table: str, record: Record) -> None:
        """Keep the cache true after the lane's own write of ``record``."""
        for written in self._writes_during_read.get(table, ()):
            written.append(record)
        snapshot = self._snapshots.get(table)
        if snapshot is not None:
            self._put(table, snapshot, record)

    def _put(self, table: str, snapshot: Snapshot, record: Record) -> None:
        """Put ``record`` in ``snapshot``, keeping the issue index true."""
        old = snapshot.records.get(record["id"])
        snapshot.records[record["id"]] = record
        if table != self._issue_table:
            return
        old_url = old["fields"].get(self._issue_field) if old else None
        if old_url and snapshot.by_issue.get(issue_url_key(old_url)) == record["id"]:
            del snapshot.by_issue[issue_url_key(old_url)]
        url = record["fields"].get(self._issue_field)
        if url:
            snapshot.by_issue[issue_url_key(url)] = record["id"]
