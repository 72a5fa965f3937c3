"""Waking replicas: PostgreSQL's LISTEN/NOTIFY, kept alive, with the worker's polling behind it.

A transaction that queues work calls :meth:`bot.storage.database.Transaction.notify`; once it
commits, every replica listening on the schema's channel hears it and claims at once,
instead of at its next poll. A LISTEN connection can die without a word (a database restart,
a failover, a NAT dropping an idle flow), so :func:`listen` reconnects after an error and
asks the server something every ``check_seconds`` to find a silent death; and the worker
polls anyway, so a lost notification delays work, it never loses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

CHECK_SECONDS: Final = 15.0
RECONNECT_SECONDS: Final = (0.5, 1.0, 2.0, 5.0, 10.0)


async def listen(
    url: str,
    channel: str,
    on_notify: Callable[[], None],
    *,
    check_seconds: float = CHECK_SECONDS,
    on_connected: Callable[[], None] | None = None,
) -> None:
    """Call ``on_notify()`` for every notification on *channel*, until cancelled.

    Reconnects after any error, waiting longer each time up to 10 s; after a reconnection
    ``on_notify()`` is called once, since notifications sent meanwhile were missed.
    ``on_connected()`` is called each time the LISTEN is in place (for tests and metrics).
    """
    failures = 0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                if failures:
                    log.info("listening for new deliveries again after %d failures", failures)
                    on_notify()  # what was notified while the connection was down
                failures = 0
                if on_connected is not None:
                    on_connected()
                while True:
                    async for _ in conn.notifies(timeout=check_seconds):
                        on_notify()
                    # No notification for a while: make sure the connection still works.
                    await conn.execute("SELECT 1")
        except asyncio.CancelledError:
            raise
        except (psycopg.Error, OSError) as exc:
            pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
            failures += 1
            log.warning(
                "the LISTEN connection to the database failed (%s); the worker polls meanwhile,"
                " reconnecting in %.1f s",
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                pause,
            )
            await asyncio.sleep(pause)
