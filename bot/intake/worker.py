"""The worker: takes journaled deliveries, runs their handlers, retries what fails.

Deliveries are claimed from the journal in batches. Pending ``issues`` events that only say
"this issue changed" are coalesced: one reconcile per issue settles all of them. Work for
one issue runs one at a time; different issues run concurrently up to ``concurrency``.
A failed delivery is retried with exponential backoff and ends as ``failed`` (kept, with its
last error) after ``max_attempts``; an operator can list and retry it.

On a shared journal (PostgreSQL) the worker is one replica of several: it renews its
heartbeat every third of the lease (taking over the claims of replicas that stopped), until
its last running delivery is recorded, and it is woken by the database's notifications as
well as by its own server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from gidgethub import sansio
from gidgethub.routing import Router

from bot.clients.errors import describe, retry_at, seconds_from_now
from bot.config import Config
from bot.core.issue import STATE_ACTIONS
from bot.intake import delivery_context
from bot.intake.group_commit import GroupCommit
from bot.intake.journal import Journal
from bot.intake.journal_rows import Delivery
from bot.metrics import Metrics, event_label
from bot.storage.database import STORE_ERRORS, PostgresDatabase
from bot.storage.notifications import listen

log = logging.getLogger(__name__)

T = TypeVar("T")

# A failed delivery that will be tried again: the error, the attempt, the next one's time.
RETRY_LINE = "%s failed (%s); attempt %d of %d, next attempt at %s (in %.0f s)"

# How long the worker sleeps when it has nothing to do and no retry is due.
IDLE_WAIT_SECONDS = 5.0
# Pause between claims while deliveries keep coming.
CLAIM_PAUSE_SECONDS = 0.05
# The worker waits for this long a lull in arriving deliveries, but never longer than the
# second figure, before it claims work.
INTAKE_QUIET_SECONDS = 0.02
INTAKE_MAX_DEFER_SECONDS = 0.25
# Pause after the journal could not be read, so a broken journal does not spin the loop.
JOURNAL_ERROR_PAUSE_SECONDS = 0.5
# A journal write that ends a delivery is tried again after these pauses (then every last
# one) until it succeeds or the worker stops: a full disk must not strand the delivery.
FINISH_RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
# Delivery ids are kept this long to recognise GitHub's redeliveries; pruned hourly.
DEDUPE_DAYS = 7
PRUNE_INTERVAL_SECONDS = 3600.0


def _coalescable(delivery: Delivery, project_prefix: str) -> bool:
    if delivery.event != "issues" or delivery.action not in STATE_ACTIONS:
        return False
    # A project label's event links or unlinks: it is news in itself, not only state.
    label = str((delivery.payload.get("label") or {}).get("name") or "")
    return not (project_prefix and label.lower().startswith(project_prefix.lower()))


def _sort_key(delivery: Delivery) -> tuple[str, float]:
    issue = delivery.payload.get("issue") or {}
    return (str(issue.get("updated_at") or ""), delivery.received_at)


class Worker:
    """Runs journaled deliveries through the router, with per-issue ordering and retries."""

    def __init__(
        self,
        config: Config,
        *,
        journal: Journal,
        router: Router,
        dependencies: Mapping[str, Any],
        metrics: Metrics,
        bot_login: str | None = None,
    ) -> None:
        self.config = config
        self.journal = journal
        self.router = router
        self.dependencies = dict(dependencies)
        self.metrics = metrics
        self.bot_login = bot_login
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._slots = asyncio.Semaphore(config.worker.concurrency)
        self._issue_locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._running: set[asyncio.Task[None]] = set()
        self._finished = GroupCommit(self._mark_finished)
        self._last_prune = time.monotonic()
        self._last_intake = 0.0
        self._companions: list[asyncio.Task[None]] = []  # heartbeat and LISTEN (replicas)

    @property
    def running(self) -> bool:
        """Whether the worker loop is alive."""
        return self._task is not None and not self._task.done()

    def notify(self) -> None:
        """Tell the worker that a delivery was journaled."""
        self._last_intake = time.monotonic()
        self._wake.set()

    async def _wait_for_quiet(self) -> None:
        """While deliveries are pouring in, answering them comes first: wait for a short lull
        (at most ``INTAKE_MAX_DEFER_SECONDS``) before taking work onto the event loop."""
        deadline = time.monotonic() + INTAKE_MAX_DEFER_SECONDS
        while (quiet := time.monotonic() - self._last_intake) < INTAKE_QUIET_SECONDS:
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(INTAKE_QUIET_SECONDS - quiet)

    async def start(self) -> None:
        """Resume deliveries a crash left in flight, then start the loop."""
        resumed = await asyncio.to_thread(self.journal.resume)
        if resumed:
            log.info("resumed %d deliveries left in flight by a previous run", resumed)
        await self._prune()
        self._task = asyncio.create_task(self._loop(), name="worker")
        database = self.journal.database
        if isinstance(database, PostgresDatabase):
            self._companions = [
                asyncio.create_task(self._keep_heartbeat(), name="worker-heartbeat"),
                asyncio.create_task(
                    listen(database.url, database.channel, self._wake.set), name="worker-listen"
                ),
            ]

    async def _keep_heartbeat(self) -> None:
        """Renew this replica's heartbeat (and take over dead replicas' claims) every third
        of the lease; a failure is logged and tried again at the next beat."""
        every = self.journal.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                taken = await asyncio.to_thread(self.journal.heartbeat)
            except STORE_ERRORS as exc:
                log.warning("could not renew this replica's heartbeat: %s", exc)
                continue
            if taken:
                self.notify()

    async def _prune(self) -> None:
        """Forget finished deliveries older than the de-duplication window (7 days)."""
        self._last_prune = time.monotonic()
        self._last_intake = 0.0
        try:
            pruned = await asyncio.to_thread(self.journal.prune, older_than_days=DEDUPE_DAYS)
        except Exception:
            log.exception("could not prune the journal")
            return
        if pruned:
            log.info("pruned %d finished deliveries older than %d days", pruned, DEDUPE_DAYS)

    async def stop(self) -> None:
        """Stop taking work; let running work finish."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        # The heartbeat goes on until here: a replica's claims are its own while it works.
        for task in self._companions:
            task.cancel()
        await asyncio.gather(*self._companions, return_exceptions=True)
        if self.journal.is_shared:
            try:
                await asyncio.to_thread(self.journal.leave)
            except STORE_ERRORS as exc:
                log.warning("could not sign this replica off (its lease will expire): %s", exc)

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait until nothing is pending or running (for tests, benchmarks and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = await asyncio.to_thread(self.journal.counts)
            busy = counts.get("pending", 0) + counts.get("processing", 0)
            if not busy and not self._running:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"deliveries still pending after {timeout:.0f}s")

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self._wait_for_quiet()
            try:
                batch = await asyncio.to_thread(
                    self.journal.claim_due, limit=self.config.worker.concurrency * 4
                )
                next_due = None if batch else await asyncio.to_thread(self.journal.next_due_at)
            except Exception:
                log.exception("could not read the journal; trying again shortly")
                await asyncio.sleep(JOURNAL_ERROR_PAUSE_SECONDS)
                continue
            if time.monotonic() - self._last_prune > PRUNE_INTERVAL_SECONDS:
                await self._prune()
            if batch:
                self._schedule(batch)
                # Let the deliveries still arriving be answered (and join the next batch)
                # before taking more work onto the event loop.
                await asyncio.sleep(CLAIM_PAUSE_SECONDS)
                continue
            wait = IDLE_WAIT_SECONDS if next_due is None else next_due - time.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(wait, IDLE_WAIT_SECONDS))

    def _schedule(self, batch: list[Delivery]) -> None:
        """Start work for a claimed batch, coalescing state-only events per issue."""
        groups: dict[str, list[Delivery]] = collections.defaultdict(list)
        singles: list[Delivery] = []
        for delivery in batch:
            if delivery.issue_key and _coalescable(delivery, self.config.labels.project_prefix):
                groups[delivery.issue_key].append(delivery)
            else:
                singles.append(delivery)
        for key, group in groups.items():
            group.sort(key=_sort_key)
            self._spawn(group[-1], key, coalesced=group[:-1])
        for delivery in singles:
            self._spawn(delivery, delivery.issue_key, coalesced=[])

    def _spawn(self, delivery: Delivery, key: str | None, *, coalesced: list[Delivery]) -> None:
        context = delivery_context.context_of(
            delivery.id, event=delivery.event, issue=delivery.issue_key
        )
        task = asyncio.create_task(self._run(delivery, key, coalesced), context=context)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, delivery: Delivery, key: str | None, coalesced: list[Delivery]) -> None:
        lock = self._issue_locks[key] if key else asyncio.Lock()
        async with lock:
            async with self._slots:
                state = await self._process(delivery)
            if state is None:
                return  # the worker stopped before the end could be recorded
        if coalesced:
            # The newest event's reconcile read the issue as it is now; the older ones are
            # settled by it whatever it found.
            ids = [d.id for d in coalesced]
            if not await self._finish(f"{len(ids)} coalesced deliveries", ids, "done"):
                return
            for other in coalesced:
                self.metrics.deliveries.labels(
                    event=event_label(other.event), outcome="coalesced"
                ).inc()
        self.metrics.deliveries.labels(event=event_label(delivery.event), outcome=state).inc()

    def _mark_finished(self, items: list[tuple[str, str]]) -> list[None]:
        """Record finished deliveries, one transaction per state."""
        for state in ("done", "ignored"):
            ids = [delivery_id for delivery_id, s in items if s == state]
            if ids:
                self.journal.mark_done(ids, state=state)
        return [None] * len(items)

    async def _finish(self, context: str, ids: list[str], state: str) -> bool:
        """Record deliveries as ``done`` or ``ignored``, retrying while the journal fails."""

        async def write() -> bool:
            await asyncio.gather(*(self._finished.submit((i, state)) for i in ids))
            return True

        return await self._retry_write(context, f"mark {state}", write) is not None

    async def _retry_write(
        self, context: str, what: str, write: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run a journal write, again and again while the database refuses it (a full disk,
        a read-only file, a lock held too long, a server down), until it succeeds; None if the
        worker stops first (the delivery stays ``processing`` and is resumed at the next
        start, or taken over by another replica)."""
        failures = 0
        while True:
            try:
                result = await write()
            except STORE_ERRORS as exc:
                self.metrics.journal_write_errors.labels(operation=what).inc()
                if self._stopping:
                    log.error("%s: could not %s before stopping: %s", context, what, exc)
                    return None
                pause = FINISH_RETRY_SECONDS[min(failures, len(FINISH_RETRY_SECONDS) - 1)]
                failures += 1
                log.warning(
                    "%s: could not %s in the journal (%s); trying again in %.1fs",
                    context, what, exc, pause,
                )  # fmt: skip
                await asyncio.sleep(pause)
                continue
            if failures:
                log.info("%s: %s recorded after %d failed tries", context, what, failures)
            return result

    async def _process(self, delivery: Delivery) -> str | None:
        """Run one delivery's handlers and record how it ended; returns that state, or None
        when the worker stopped before the journal could record it."""
        context = f"delivery {delivery.id} ({delivery.event}.{delivery.action})"
        event = sansio.Event(delivery.payload, event=delivery.event, delivery_id=delivery.id)
        sender = (delivery.payload.get("sender") or {}).get("login")
        if self.bot_login and sender == self.bot_login:
            log.info("%s: sent by the bot itself; ignored", context)
            return "ignored" if await self._finish(context, [delivery.id], "ignored") else None
        errors: list[BaseException] = []
        # Router.dispatch stops at the first failing callback; run each on its own so one
        # handler's failure neither hides nor prevents the others, in the order the router
        # gives them (the handlers' router: the order they declare).
        callbacks = list(self.router.fetch(event))
        failed: list[str] = []
        for callback in callbacks:
            try:
                await callback(event, **self.dependencies)
            except Exception as exc:
                # One line per retry (below); the traceback only at debug level.
                log.debug("%s: handler %s failed", context, callback.__name__, exc_info=True)
                errors.append(exc)
                failed.append(f"{callback.__name__}: {describe(exc, self.config)}")
        if not errors:
            return "done" if await self._finish(context, [delivery.id], "done") else None
        settings = self.config.worker
        error = f"{type(errors[0]).__name__}: {errors[0]}"

        async def mark_retry() -> str:
            return await asyncio.to_thread(
                self.journal.mark_retry,
                delivery.id,
                error,
                max_attempts=settings.max_attempts,
                base_delay=settings.base_delay_seconds,
                max_delay=settings.max_delay_seconds,
            )

        state = await self._retry_write(context, "schedule a retry", mark_retry)
        if state is None:
            return None
        if state == "pending":
            schedule = await asyncio.to_thread(self.journal.schedule_of, delivery.id)
            attempts, due = schedule if schedule else (delivery.attempts + 1, time.time())
            log.warning(
                RETRY_LINE,
                context, "; ".join(failed), attempts, settings.max_attempts,
                retry_at(due), seconds_from_now(due),
            )  # fmt: skip
        # A delivery out of attempts is logged by the journal as it becomes a dead letter.
        self.notify()
        return "failed" if state == "failed" else "retry"
