"""The Airtable lane: the only code that talks to Airtable.

One :class:`AirtableLane` per base. Every pyairtable call runs in a worker thread (pyairtable
is synchronous) with a timeout, at a slot booked from the base's request budget
(:mod:`bot.clients.request_budget`): requests spaced evenly at ``requests_per_second``,
shared by every process of the bot that uses the same data folder, and a pause of
``penalty_seconds`` for all of them after a 429 (Airtable asks for 30 s of quiet:
https://airtable.com/developers/web/api/rate-limits). The worker thread waits for the slot
itself and sends at once, so the event loop's scheduling adds no jitter to the spacing; a
thread that wakes too late books another slot; and no request leaves less than a second
after the answer to the one ``ceil(requests_per_second)`` before it (:class:`AnswerWindow`),
so a request held up on its way cannot arrive bunched with those behind it.
Writes are queued and sent in batches of up to ten records. Reads are served from table
snapshots kept true by reading only what changed (:mod:`bot.clients.airtable_cache`) and by
the lane's own writes, so a burst of events costs a few page reads plus one write per ten
records, and one event in a large base costs a request or two, not the table.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import requests
from pyairtable import Api

from bot.clients.airtable_cache import ChangeReadRefused, TableCache
from bot.clients.request_budget import LocalBudget, RequestBudget
from bot.config import Config
from bot.core.issue import issue_url_key
from bot.core.records import Record
from bot.metrics import Metrics, status_label
from bot.storage.database import STORE_ERRORS

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_429_RETRIES = 3
# How much earlier than its slot a call leaves the event loop for its worker thread, which
# then waits out the rest itself.
_SLOT_LEAD_SECONDS = 0.02
# A worker thread that wakes later than this after its slot (a busy interpreter) gives the
# slot up and books another rather than send close behind the slots booked after it; after
# _MAX_LATE_REBOOKINGS such turns it sends anyway.
_LATE_SECONDS = 0.03
_MAX_LATE_REBOOKINGS = 3


class _SlotLost(Exception):
    """Book again: a pause (another call's 429, maybe in another process) began after the
    slot was booked, or (``late``) the worker thread woke too long after it."""

    def __init__(self, *, late: bool = False) -> None:
        super().__init__()
        self.late = late


# A request budget for a base, given its id.
BudgetFactory = Callable[[str], RequestBudget]


def budget_horizon(config: Config) -> float:
    """How far ahead a stored budget instant may lie and still be believed: the longest
    pause the lane sets (after a 429), and a minute to spare."""
    return config.airtable.penalty_seconds + 60.0


class AirtableError(Exception):
    """An Airtable call failed; ``retriable`` says whether trying again later may succeed.

    ``status`` is Airtable's HTTP status when it answered one; ``kind`` says what went wrong
    otherwise: ``"network"`` (no connection), ``"timeout"`` (no answer in time),
    ``"not_json"`` (an answer that is not Airtable's JSON: a proxy's or portal's page) or
    ``"budget"`` (the request budget in the data folder could not be booked).
    :func:`bot.clients.errors.airtable_problem` words it for an operator.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retriable: bool = True,
        kind: str = "http",
        detail: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.retriable = retriable
        self.kind = kind
        self.detail = detail


def _error_detail(response: requests.Response | None) -> str | None:
    """Airtable's own words for an error answer (``{"error": {"type", "message"}}`` or
    ``{"error": "NOT_FOUND"}``), or None when the answer is not in that form."""
    if response is None:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        parts = [str(error.get(k)) for k in ("type", "message") if error.get(k)]
        return ": ".join(parts) or None
    if isinstance(error, str):
        return error
    return None


@dataclass(frozen=True)
class _Failure:
    """A failed call: the error to raise, and how it is counted (metric label, health)."""

    error: AirtableError
    metric: str
    health: str
    kind: str

    @classmethod
    def of(cls, operation: str, exc: requests.RequestException | TimeoutError) -> _Failure:
        """What ``exc``, raised by the call named ``operation``, means."""
        failed = f"Airtable {operation} failed"
        if isinstance(exc, requests.HTTPError):
            status = exc.response.status_code if exc.response is not None else None
            retriable = status is None or status == 429 or status >= 500
            error = AirtableError(
                f"{failed}: {exc}",
                status=status,
                retriable=retriable,
                detail=_error_detail(exc.response),
            )
            metric = "network" if status is None else status_label(status)
            return cls(error, metric, f"{operation}: {exc}", str(status or "network"))
        if isinstance(exc, requests.Timeout | TimeoutError):
            error = AirtableError(f"{failed}: no answer in time", kind="timeout")
            return cls(error, "network", f"{operation}: {exc!r}", "network")
        if isinstance(exc, requests.ConnectionError):
            error = AirtableError(f"{failed}: {exc!r}", kind="network")
            return cls(error, "network", f"{operation}: {exc!r}", "network")
        # A 2xx answer that is not JSON (requests.JSONDecodeError): a proxy's page, a captive
        # portal, a wrong AIRTABLE_ENDPOINT_URL. Any other requests failure (a malformed URL,
        # too many redirects) is as final.
        not_json = isinstance(exc, requests.JSONDecodeError)
        error = AirtableError(
            f"{failed}: {exc!r}", kind="not_json" if not_json else "network", retriable=not_json
        )
        return cls(error, "network", f"{operation}: {exc!r}", "not_json")


class AnswerWindow:
    """The last ``size`` requests this lane sent, with when each was answered: a request
    waits until one second has passed since the answer to the request ``size`` before it.

    Airtable counts a request when it arrives, which is after it was sent and before it is
    answered. Evenly spaced slots keep ``size`` requests a second as they leave, but one
    request held up on the way (a busy machine, a slow connection) can arrive so close to
    those sent after it that Airtable sees one too many in a second. Going by answers
    instead of slots, a held-up request moves the ones behind it, so no second as Airtable
    counts it holds more than ``size`` of this lane's requests, however the delays fall.
    A request still unanswered is waited for at most ``MAX_WAIT_SECONDS``.
    """

    MAX_WAIT_SECONDS = 2.0

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._answered_at: collections.deque[float | None] = collections.deque()
        self._tickets = 0
        self._first = 0  # the ticket of _answered_at[0]
        self._changed = threading.Condition()

    def enter(self) -> int:
        """Block until one second has passed since the answer ``size`` requests back, then
        note a request leaving now; returns its ticket."""
        deadline = time.monotonic() + self.MAX_WAIT_SECONDS
        with self._changed:
            while len(self._answered_at) >= self._size:
                answered = self._answered_at[-self._size]
                now = time.monotonic()
                if answered is not None and now >= answered + 1.0:
                    break
                if now >= deadline:
                    break
                until = deadline if answered is None else min(deadline, answered + 1.0)
                self._changed.wait(until - now)
            self._answered_at.append(None)
            ticket = self._tickets
            self._tickets += 1
            while len(self._answered_at) > self._size:
                self._answered_at.popleft()
                self._first += 1
            return ticket

    def answered(self, ticket: int) -> None:
        """Note the answer to the request of ``ticket`` (or its failure)."""
        with self._changed:
            index = ticket - self._first
            if 0 <= index < len(self._answered_at):
                self._answered_at[index] = time.monotonic()
            self._changed.notify_all()


@dataclass
class _PendingWrite:
    """A queued write of one record, resolved when its batch is sent."""

    table: str
    record_id: str | None  # None: create
    fields: dict[str, Any]
    future: asyncio.Future[Record]


class AirtableLane:
    """All traffic to one Airtable base: rate-limited, off the event loop, batched, cached."""

    def __init__(
        self,
        config: Config,
        base_id: str,
        *,
        metrics: Metrics,
        api_factory: Callable[[], Api] | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        self.config = config
        self.base_id = base_id
        self.metrics = metrics
        settings = config.airtable
        self._budget = budget or LocalBudget(
            settings.requests_per_second, max_ahead=budget_horizon(config)
        )
        workers = max(1, min(8, math.ceil(settings.requests_per_second)))
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"airtable-{base_id}"
        )
        # At most one booked slot per worker thread at any moment: that bounds how far
        # ahead this process books, and so its share of a budget other processes draw on.
        self._booked = asyncio.Semaphore(workers)
        self._answers = AnswerWindow(math.ceil(settings.requests_per_second))
        self._booking = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"budget-{base_id}")
        self._local = threading.local()
        self._api_factory = api_factory or self._default_api
        self._queue: list[_PendingWrite] = []
        self._flusher: asyncio.Task[None] | None = None
        # Lower bounds of Airtable's clock minus this machine's, one per recent answer (its
        # Date header): change reads ask for what changed since a moment on Airtable's clock.
        self._clock_offsets: collections.deque[float] = collections.deque(maxlen=64)
        self._cache = TableCache(
            self._read_page,
            on_airtable_clock=self.on_airtable_clock,
            ttl=settings.cache_ttl_seconds,
            overlap=settings.change_overlap_seconds,
            full_read_seconds=settings.full_read_seconds,
            issue_table=config.tables.deliverables,
            issue_field=config.fields.deliverables.issue,
        )
        self._closed = False

    def _default_api(self) -> Api:
        token = self.config.airtable_token or "local"
        return Api(
            token,
            endpoint_url=self.config.airtable_endpoint_url,
            timeout=(
                math.ceil(self.config.airtable.connect_timeout_seconds),
                math.ceil(self.config.airtable.timeout_seconds),
            ),
            retry_strategy=None,
        )

    def _api(self) -> Api:
        """One pyairtable Api (a requests Session) per worker thread."""
        api: Api | None = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self._api_factory()
            api.session.hooks["response"].append(self._note_airtable_time)
        return api

    def _note_airtable_time(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Keep a lower bound of Airtable's clock offset from an answer's Date header: the
        answer was dated at or after that whole second, and is here now."""
        try:
            stamp = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return
        self._clock_offsets.append(stamp - time.time())

    def on_airtable_clock(self, moment: float) -> float:
        """``moment`` (this machine's wall clock) on Airtable's clock, at the earliest it can
        be as far as recent answers tell (unchanged before any answer)."""
        return moment + max(self._clock_offsets, default=0.0)

    # -- calls ---------------------------------------------------------------------------

    async def call(self, operation: str, fn: Callable[[Api], T]) -> T:
        """Run ``fn(api)`` in a worker thread at a slot of the base's budget; a 429 pauses
        the budget (every process on it) and the call is sent again, up to three times."""
        loop = asyncio.get_running_loop()
        attempt = late = 0
        while True:
            try:
                async with self._booked:
                    slot = await self._book_slot()
                    strict = late < _MAX_LATE_REBOOKINGS
                    result = await asyncio.wait_for(
                        loop.run_in_executor(self._executor, self._send_at, slot, fn, strict),
                        timeout=self.config.airtable.timeout_seconds + 5 + _SLOT_LEAD_SECONDS,
                    )
            except _SlotLost as lost:
                late += lost.late
                continue
            except (requests.RequestException, TimeoutError) as exc:
                self.metrics.airtable_calls.labels(operation=operation).inc()
                failure = _Failure.of(operation, exc)
                self.metrics.airtable_errors.labels(status=failure.metric).inc()
                self.metrics.health.failure("airtable", failure.health, kind=failure.kind)
                if failure.error.status == 429:
                    penalty = self.config.airtable.penalty_seconds
                    log.warning(
                        "Airtable base %s answered 429; pausing its requests for %.1fs",
                        self.base_id,
                        penalty,
                    )
                    await loop.run_in_executor(self._booking, self._budget.pause, penalty)
                    if attempt < _MAX_429_RETRIES:
                        attempt += 1
                        continue
                raise failure.error from exc
            self.metrics.airtable_calls.labels(operation=operation).inc()
            self.metrics.health.success("airtable")
            return result

    async def _book_slot(self) -> float:
        """Book the next slot of the budget and wait until just before it (wall clock)."""
        try:
            slot = await asyncio.get_running_loop().run_in_executor(
                self._booking, self._budget.reserve
            )
        except STORE_ERRORS as exc:  # a locked or full data folder, a database down
            raise AirtableError(
                f"the Airtable request budget could not be booked: {exc}",
                kind="budget",
                detail=str(exc),
            ) from exc
        delay = slot - time.time() - _SLOT_LEAD_SECONDS
        if delay > 0:
            await asyncio.sleep(delay)
        return slot

    def _send_at(self, slot: float, fn: Callable[[Api], T], strict: bool) -> T:
        """In a worker thread: wait for ``slot`` and make the call, unless a pause began or
        (``strict``) the thread woke too late to keep the spacing."""
        delay = slot - time.time()
        if delay > 0:
            time.sleep(delay)
        if strict and time.time() - slot > _LATE_SECONDS:
            log.debug("Airtable slot missed by %.3fs; booking another", time.time() - slot)
            raise _SlotLost(late=True)
        if self._budget.paused_until() > slot:
            raise _SlotLost
        ticket = self._answers.enter()
        try:
            return fn(self._api())
        finally:
            self._answers.answered(ticket)

    # -- snapshots -----------------------------------------------------------------------

    async def table_records(
        self, table: str, *, read_after: float | None = None
    ) -> dict[str, Record]:
        """Every record of ``table`` by id, from a snapshot brought up to date when it is
        older than ``cache_ttl_seconds`` (or, with *read_after*, read before that instant)."""
        return (await self._cache.snapshot(table, read_after=read_after)).records

    async def _read_page(
        self, table: str, offset: str | None, formula: str | None
    ) -> dict[str, Any]:
        """One page (up to 100 records) of ``table`` after ``offset``, of the records
        matching ``formula`` (None: all), through the budget."""
        try:
            return await self.call("list", partial(self._page, table, offset, formula))
        except AirtableError as exc:
            if formula is not None and exc.status == 422:
                raise ChangeReadRefused(exc.detail or str(exc)) from exc
            raise

    def _page(
        self, table: str, offset: str | None, formula: str | None, api: Api
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"pageSize": 100}
        if offset:
            params["offset"] = offset
        if formula:
            params["filterByFormula"] = formula
        page: dict[str, Any] = api.get(api.table(self.base_id, table).urls.records, params=params)
        return page

    async def find_deliverable(self, issue_url: str) -> Record | None:
        """The deliverable whose GitHub Issue is ``issue_url`` (case-insensitive), or None."""
        snapshot = await self._cache.snapshot(self.config.tables.deliverables)
        record_id = snapshot.by_issue.get(issue_url_key(issue_url))
        return snapshot.records.get(record_id) if record_id else None

    async def project_deliverables(
        self, project_id: str, *, read_after: float | None = None
    ) -> list[Record]:
        """The deliverables linked to a Project, from the snapshot (read after
        *read_after* when given, as for :meth:`get_project`)."""
        snapshot = await self._cache.snapshot(
            self.config.tables.deliverables, read_after=read_after
        )
        link = self.config.fields.deliverables.project
        return [r for r in snapshot.records.values() if project_id in r["fields"].get(link, ())]

    async def read_record(self, table: str, record_id: str) -> Record | None:
        """One record as Airtable has it now (one request), also put in the table's snapshot
        so the reads that follow see it; None when Airtable has no such record."""
        try:
            record = await self.call(
                "read a record", lambda api: api.table(self.base_id, table).get(record_id)
            )
        except AirtableError as exc:
            if exc.status == 404:
                return None
            raise
        fresh = dict(record)
        self._cache.remember(table, fresh)
        return fresh

    def read_since(self, table: str) -> float | None:
        """When the last read of ``table``'s snapshot began (``time.time()``): it holds every
        change made before then; None before the first read."""
        return self._cache.read_since(table)

    async def get_project(
        self, project_id: str, *, read_after: float | None = None
    ) -> Record | None:
        """A Project record by id, from the snapshot (read after *read_after*, a
        ``time.monotonic()`` instant, when given: what other replicas wrote is seen)."""
        snapshot = await self._cache.snapshot(self.config.tables.projects, read_after=read_after)
        return snapshot.records.get(project_id)

    # -- writes --------------------------------------------------------------------------

    async def update(self, table: str, record_id: str, fields: Mapping[str, Any]) -> Record:
        """Update one record's fields; sent in a batch of up to ten. Returns the record."""
        return await self._enqueue(table, record_id, dict(fields))

    async def create(self, table: str, fields: Mapping[str, Any]) -> Record:
        """Create one record; sent in a batch of up to ten. Returns the created record."""
        return await self._enqueue(table, None, dict(fields))

    async def _enqueue(self, table: str, record_id: str | None, fields: dict[str, Any]) -> Record:
        if self._closed:
            raise AirtableError("the Airtable lane is closed", retriable=True)
        future: asyncio.Future[Record] = asyncio.get_running_loop().create_future()
        self._queue.append(_PendingWrite(table, record_id, fields, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name=f"flush-{self.base_id}")
        return await future

    def _take_batch(self) -> list[_PendingWrite]:
        """The next batch: same table and kind, up to ``batch_size`` distinct records."""
        first = self._queue[0]
        batch: list[_PendingWrite] = []
        seen: set[str] = set()
        remaining: list[_PendingWrite] = []
        limit = self.config.airtable.batch_size
        for item in self._queue:
            same_kind = item.table == first.table and (item.record_id is None) == (
                first.record_id is None
            )
            # Two updates of one record cannot share a request: the later waits its turn.
            key = item.record_id or ""
            if same_kind and len(batch) < limit and (not key or key not in seen):
                batch.append(item)
                seen.add(key)
            else:
                remaining.append(item)
        self._queue = remaining
        return batch

    async def _flush_loop(self) -> None:
        """Send queued writes in batches until the queue is empty."""
        while self._queue:
            # A short wait lets writes from concurrent reconciles join this batch.
            if len(self._queue) < self.config.airtable.batch_size:
                await asyncio.sleep(self.config.airtable.batch_wait_seconds)
            batch = self._take_batch()
            await self._send(batch)

    async def _send(self, batch: list[_PendingWrite]) -> None:
        table = batch[0].table
        creating = batch[0].record_id is None
        try:
            if creating:
                payload = [item.fields for item in batch]
                records = await self.call(
                    "create",
                    lambda api: api.table(self.base_id, table).batch_create(payload),
                )
            else:
                updates: list[Any] = [{"id": i.record_id, "fields": i.fields} for i in batch]
                records = await self.call(
                    "update",
                    lambda api: api.table(self.base_id, table).batch_update(updates),
                )
        except AirtableError as exc:
            if exc.status == 422 and len(batch) > 1:
                # Airtable refuses a whole batch for one bad record; send them one by one so
                # the others are not held hostage by it.
                for item in batch:
                    await self._send([item])
                return
            self._fail(batch, exc)
            return
        except Exception as exc:
            self._fail(batch, exc)
            return
        for item, record in zip(batch, records, strict=True):
            self._cache.remember(table, dict(record))
            if not item.future.done():
                item.future.set_result(dict(record))

    @staticmethod
    def _fail(batch: list[_PendingWrite], exc: Exception) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(exc)

    async def close(self) -> None:
        """Send what is queued, then stop the worker threads."""
        self._closed = True
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._cache.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._booking.shutdown(wait=True)
        self._budget.close()


@dataclass
class Lanes:
    """The lane of each base, created on first use."""

    config: Config
    metrics: Metrics = field(kw_only=True)
    api_factory: Callable[[], Api] | None = field(default=None, kw_only=True)
    budgets: BudgetFactory | None = field(default=None, kw_only=True)
    _lanes: dict[str, AirtableLane] = field(default_factory=dict, init=False, repr=False)

    def for_base(self, base_id: str) -> AirtableLane:
        """The lane of ``base_id``."""
        lane = self._lanes.get(base_id)
        if lane is None:
            lane = self._lanes[base_id] = AirtableLane(
                self.config,
                base_id,
                metrics=self.metrics,
                api_factory=self.api_factory,
                budget=self.budgets(base_id) if self.budgets else None,
            )
        return lane

    def for_owner(self, owner: str) -> AirtableLane | None:
        """The lane of the base serving a GitHub owner, or None when no base serves it."""
        base_id = self.config.base_for_owner(owner)
        return self.for_base(base_id) if base_id else None

    async def close(self) -> None:
        """Close every lane."""
        await asyncio.gather(*(lane.close() for lane in self._lanes.values()))
