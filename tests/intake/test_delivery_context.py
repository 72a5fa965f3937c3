"""The delivery id on log records: the context variable and the filter, on their own.

That the worker sets it around each delivery it handles is tested in ``test_worker.py``,
and that recovery does for each delivery it journals, in ``test_recovery.py``.
"""

from __future__ import annotations

import asyncio
import logging

from bot.intake.delivery_context import (
    NO_DELIVERY,
    DeliveryIdFilter,
    context_of,
    current_delivery_id,
    handling,
)


def record(**extra: object) -> logging.LogRecord:
    """A record as a logger makes it, with ``extra`` attributes."""
    made = logging.LogRecord("tests", logging.INFO, __file__, 1, "a line", None, None)
    made.__dict__.update(extra)
    return made


def test_the_filter_adds_the_delivery_being_handled_or_a_dash() -> None:
    outside = record()
    assert DeliveryIdFilter().filter(outside) is True
    assert outside.delivery_id == NO_DELIVERY  # type: ignore[attr-defined]
    with handling("d-1"):
        inside = record()
        DeliveryIdFilter().filter(inside)
        with handling("d-2"):
            assert current_delivery_id() == "d-2"
        assert current_delivery_id() == "d-1"
    assert inside.delivery_id == "d-1"  # type: ignore[attr-defined]
    assert current_delivery_id() is None


def test_an_id_given_with_extra_is_kept() -> None:
    given = record(delivery_id="from-extra")
    with handling("d-1"):
        DeliveryIdFilter().filter(given)
    assert given.delivery_id == "from-extra"  # type: ignore[attr-defined]


async def test_a_task_started_with_context_of_runs_as_that_delivery() -> None:
    async def seen() -> str | None:
        await asyncio.sleep(0)
        return current_delivery_id()

    with handling("d-1"):
        assert await asyncio.create_task(seen(), context=context_of("d-2")) == "d-2"
        assert await asyncio.create_task(seen(), context=context_of(None)) is None
        assert await asyncio.create_task(seen()) == "d-1"
        assert await asyncio.to_thread(current_delivery_id) == "d-1"
