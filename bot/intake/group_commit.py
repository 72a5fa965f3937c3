"""Group commit: many callers on the event loop, one blocking batch call at a time in a thread.

The journal's SQLite writes take a lock that the worker's threads also take, and compressing
a payload costs about as much as decoding it; on the event loop they would stall every
request. Instead each caller submits its item and awaits the result, and a thread of the
group commit's own runs the batch function on everything submitted so far, then at once on
everything submitted meanwhile, until nothing waits. The thread never waits for the event
loop: while the loop is busy checking a burst of deliveries, the first ones are already
being committed (SQLite and zlib let go of the GIL while they work), so a delivery's answer
waits for its own batch, not for the checks of every delivery that arrived with it. An idle
system pays one thread hop; a busy one commits many deliveries per transaction. The thread
is its own so that no other work queued on the default executor delays a commit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Batches ``submit``\\ ted items into calls of ``batch_fn`` run in a thread of its own.

    Items keep their order: each batch holds the oldest items waiting, at most ``max_batch``.
    The batch function runs outside any delivery's context (:mod:`bot.intake.delivery_context`):
    a batch serves many callers.
    """

    def __init__(self, batch_fn: Callable[[list[T]], Sequence[R]], *, max_batch: int = 500):
        self._batch_fn = batch_fn
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: collections.deque[tuple[T, asyncio.Future[R]]] = collections.deque()
        self._writing = False
        self._writer: asyncio.Future[None] | None = None
        # Its one thread starts with the first batch and ends with the group commit.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")

    async def submit(self, item: T) -> R:
        """Add ``item`` to the next batch and wait for its result (or its batch's error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._lock:
            self._pending.append((item, future))
            start = not self._writing
            self._writing = True
        if start:
            # run_in_executor copies no context: the thread runs as no delivery.
            self._writer = loop.run_in_executor(self._executor, self._drain)
        return await future

    def _drain(self) -> None:
        """In the thread: write batches until nothing is waiting."""
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._writing = False
                        return
                    count = min(len(self._pending), self._max_batch)
                    batch = [self._pending.popleft() for _ in range(count)]
                self._write(batch)
        except BaseException:
            with self._lock:
                self._writing = False
            raise

    def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        """In the thread: one call of the batch function; its results or error go back to the
        waiters' event loops."""
        try:
            results = self._batch_fn([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(
                    f"the batch function returned {len(results)} results for {len(batch)}"
                )
        except Exception as exc:
            self._answer(batch, None, exc)
        else:
            self._answer(batch, results, None)

    @staticmethod
    def _answer(
        batch: list[tuple[T, asyncio.Future[R]]],
        results: Sequence[R] | None,
        error: Exception | None,
    ) -> None:
        """Hand a batch's outcome to the event loop(s) its waiters await on."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], R | None]]] = {}
        for n, (_, future) in enumerate(batch):
            outcome = None if results is None else results[n]
            by_loop.setdefault(future.get_loop(), []).append((future, outcome))
        for loop, answers in by_loop.items():
            # A closed loop (RuntimeError) has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, answers, error)

    async def flush(self) -> None:
        """Wait until everything submitted so far has been committed."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)


def _settle(answers: list[tuple[asyncio.Future[R], R | None]], error: Exception | None) -> None:
    """On the loop: give each waiter still waiting its result, or the batch's error."""
    for future, result in answers:
        if future.done():
            continue  # its caller was cancelled (the client went away)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(cast(R, result))
