"""The delivery a log line is about: a context variable and the logging filter that shows it.

The worker sets the variable around each delivery it handles, and recovery around each
delivery it journals from GitHub's log. asyncio tasks and ``asyncio.to_thread`` copy the
context they start in, so a line logged anywhere below (a handler, the reconcile, the
journal in its thread) carries that delivery's id without being handed it;
``loop.run_in_executor`` does not copy it.

:class:`DeliveryIdFilter` puts the id on every record it sees as ``record.delivery_id``
(:data:`NO_DELIVERY`, ``"-"``, when no delivery is being handled), so a format may say
``%(delivery_id)s``. Install it on the handler (a logger's filters do not see records
propagated from its children)::

    handler.addFilter(DeliveryIdFilter())

A task started for one delivery gets its context from :func:`context_of`; a task that serves
many deliveries at once (a batch writer) gets ``context_of(None)``, so that it does not keep
the id of the delivery that happened to start it.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

NO_DELIVERY: Final = "-"

_DELIVERY_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "delivery_id", default=None
)


def current_delivery_id() -> str | None:
    """The id (``X-GitHub-Delivery``) of the delivery being handled here; None outside one."""
    return _DELIVERY_ID.get()


@contextmanager
def handling(delivery_id: str) -> Iterator[None]:
    """Within the block (and the tasks and threads it starts), the delivery is *delivery_id*."""
    token = _DELIVERY_ID.set(delivery_id)
    try:
        yield
    finally:
        _DELIVERY_ID.reset(token)


def context_of(delivery_id: str | None) -> contextvars.Context:
    """A copy of the current context in which the delivery is *delivery_id* (None: no
    delivery), for ``asyncio.create_task(..., context=...)``."""
    context = contextvars.copy_context()
    context.run(_DELIVERY_ID.set, delivery_id)
    return context


class DeliveryIdFilter(logging.Filter):
    """Adds ``delivery_id`` to every record: the delivery being handled, or ``"-"``.

    A record that already has one (``extra={"delivery_id": ...}``) keeps it. Never drops a
    record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set ``record.delivery_id``; always True."""
        if getattr(record, "delivery_id", None) is None:
            record.delivery_id = _DELIVERY_ID.get() or NO_DELIVERY
        return True
