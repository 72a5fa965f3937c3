"""The delivery a log line is about: context variables and the logging filter that shows them.

The worker sets them around each delivery it handles (its id, its event and the issue it is
about), and recovery around each delivery it journals from GitHub's log. asyncio tasks and
``asyncio.to_thread`` copy the context they start in, so a line logged anywhere below (a
handler, the reconcile, the journal in its thread) carries that delivery without being
handed it; ``loop.run_in_executor`` does not copy it.

:class:`DeliveryIdFilter` puts the id on every record it sees as ``record.delivery_id``
(:data:`NO_DELIVERY`, ``"-"``, when no delivery is being handled), so a format may say
``%(delivery_id)s``; and, when they are known, the delivery's ``record.event``
(``X-GitHub-Event``) and ``record.issue`` (``owner/repo#N``). Install it on the handler (a
logger's filters do not see records propagated from its children)::

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
from typing import Final, NamedTuple

NO_DELIVERY: Final = "-"


class Delivering(NamedTuple):
    """The delivery being handled: its id, its event and the issue it is about (if known)."""

    delivery_id: str
    event: str | None = None
    issue: str | None = None


_DELIVERY: contextvars.ContextVar[Delivering | None] = contextvars.ContextVar(
    "delivery", default=None
)


def current_delivery() -> Delivering | None:
    """The delivery being handled here (id, event, issue); None outside one."""
    return _DELIVERY.get()


def current_delivery_id() -> str | None:
    """The id (``X-GitHub-Delivery``) of the delivery being handled here; None outside one."""
    delivering = _DELIVERY.get()
    return None if delivering is None else delivering.delivery_id


def _of(delivery_id: str | None, event: str | None, issue: str | None) -> Delivering | None:
    return None if delivery_id is None else Delivering(delivery_id, event, issue)


@contextmanager
def handling(
    delivery_id: str, *, event: str | None = None, issue: str | None = None
) -> Iterator[None]:
    """Within the block (and the tasks and threads it starts), the delivery is *delivery_id*
    (of *event*, about *issue*, when given)."""
    token = _DELIVERY.set(_of(delivery_id, event, issue))
    try:
        yield
    finally:
        _DELIVERY.reset(token)


def context_of(
    delivery_id: str | None, *, event: str | None = None, issue: str | None = None
) -> contextvars.Context:
    """A copy of the current context in which the delivery is *delivery_id* (None: no
    delivery), of *event* and about *issue* when given, for
    ``asyncio.create_task(..., context=...)``."""
    context = contextvars.copy_context()
    context.run(_DELIVERY.set, _of(delivery_id, event, issue))
    return context


class DeliveryIdFilter(logging.Filter):
    """Adds ``delivery_id`` to every record: the delivery being handled, or ``"-"``; and its
    ``event`` and ``issue`` when they are known.

    A record that already has one (``extra={"delivery_id": ...}``) keeps it. Never drops a
    record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set ``record.delivery_id`` (and ``event``, ``issue`` when known); always True."""
        delivering = _DELIVERY.get()
        delivery_id = getattr(record, "delivery_id", None)
        if delivery_id is None:
            delivery_id = NO_DELIVERY if delivering is None else delivering.delivery_id
            record.delivery_id = delivery_id
        if delivering is not None and delivery_id == delivering.delivery_id:
            if delivering.event and getattr(record, "event", None) is None:
                record.event = delivering.event
            if delivering.issue and getattr(record, "issue", None) is None:
                record.issue = delivering.issue
        return True
