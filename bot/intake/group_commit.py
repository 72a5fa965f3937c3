"""Group commit: many callers on the event loop, one blocking batch call in a thread.

The journal's SQLite writes are quick but take a lock that the worker's threads also take;
calling them on the event loop would stall every request behind that lock. Instead each
caller submits its item and awaits the result, and one thread runs the batch function on
everything submitted so far. Items submitted while a batch runs form the next batch, so an
idle system pays no extra latency and a busy one commits many deliveries per transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bot.intake.delivery_context import context_of

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Batches ``submit``\\ ted items into calls of ``batch_fn`` run in a worker thread."""

    def __init__(self, batch_fn: Callable[[list[T]], Sequence[R]], *, max_batch: int = 500):
        self._batch_fn = batch_fn
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Add ``item`` to the next batch and wait for its result (or its batch's error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._runner is None or self._runner.done():
            # A batch serves many callers: its task does not keep the first one's delivery.
            self._runner = asyncio.create_task(self._run(), context=context_of(None))
        return await future

    async def _run(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await asyncio.to_thread(self._batch_fn, [item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"the batch function returned {len(results)} results for {len(batch)}"
                    )
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def flush(self) -> None:
        """Wait until everything submitted so far has been committed."""
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
