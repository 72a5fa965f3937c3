"""The ``airtable`` deliveries: Airtable webhook payloads, and the sweep of a replaced hook.

They are journaled by :class:`bot.sync.airtable_hook.HookKeeper`, not sent by GitHub, and
run by the worker like any delivery (retried, dead-lettered, listed by ``deliveries``).
They are only journaled when ``[airtable_to_github] enabled``; a leftover one found with
the direction turned off is ignored with a log line.
"""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from bot.sync.airtable_follow import AirtableFollower

log = logging.getLogger(__name__)

router = Router()


@router.register("airtable", action="payload")
async def airtable_payload(
    event: sansio.Event, *, airtable_follower: AirtableFollower | None = None, **_: Any
) -> None:
    """Follow the deliverables and Projects one payload names."""
    if airtable_follower is None:
        log.info("delivery %s: Airtable → GitHub is off; payload left alone", event.delivery_id)
        return
    await airtable_follower.follow_payload(event.data)


@router.register("airtable", action="sweep")
async def airtable_sweep(
    event: sansio.Event, *, airtable_follower: AirtableFollower | None = None, **_: Any
) -> None:
    """Follow what a replaced hook may have missed."""
    if airtable_follower is None:
        log.info("delivery %s: Airtable → GitHub is off; sweep left alone", event.delivery_id)
        return
    await airtable_follower.sweep(event.data)
