"""The ``airtable`` deliveries' handlers while Airtable → GitHub is off: left alone, logged."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.bot_fixtures import StartBot


@pytest.mark.parametrize("action", ["payload", "sweep"])
async def test_a_leftover_airtable_delivery_is_left_alone_while_the_direction_is_off(
    start_bot: StartBot, action: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    journal = bot.services.journal
    body = {"action": action, "base": {"id": str(bot.airtable.base_id)}, "since": 0.0}
    delivery_id = f"airtable-leftover-{action}"
    requests_before = bot.airtable.stats().requests
    with caplog.at_level(logging.INFO, logger="bot.handlers.airtable"):
        assert journal.record(delivery_id, "airtable", action, json.dumps(body).encode())
        bot.services.worker.notify()
        for _ in range(200):
            [row] = [d for d in journal.list(limit=10) if d.id == delivery_id]
            if row.state == "done":
                break
            await asyncio.sleep(0.02)
    assert row.state == "done"
    assert f"delivery {delivery_id}: Airtable → GitHub is off; {action} left alone" in caplog.text
    assert bot.airtable.stats().requests == requests_before
