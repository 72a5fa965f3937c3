"""``POST /airtable/webhook``: Airtable's pings checked by their MAC and answered at once.

The real bot app on 127.0.0.1, following the embedded Airtable's demo base through a real
hook. A ping signed with the hook's secret is answered 204 and makes the bot list the
payloads; anything else is refused with a JSON reason, and nothing is read from Airtable.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

import aiohttp

from bot.config import AirtableToGitHubSettings
from bot.intake.airtable_ping import MAC_HEADER, MAX_PING_BYTES
from tests.bot_fixtures import RunningBot, StartBot
from tests.standins.github import GitHubStandIn

# A poll interval the tests never reach: only a ping makes the bot list payloads.
NEVER = 3600.0


async def following_bot(start_bot: StartBot, github: GitHubStandIn) -> RunningBot:
    """A bot following the base, its hook created and its first listing done."""
    bot = await start_bot(
        github=github,
        airtable_to_github=AirtableToGitHubSettings(enabled=True, poll_seconds=NEVER),
    )
    journal = bot.services.journal
    for _ in range(500):
        row = journal.hook(str(bot.airtable.base_id))
        if row is not None and row.last_listed_at is not None:
            return bot
        await asyncio.sleep(0.01)
    raise AssertionError("the bot did not create its hook")


def signed_ping(bot: RunningBot, *, secret: bytes | None = None) -> tuple[bytes, str]:
    row = bot.services.journal.hook(str(bot.airtable.base_id))
    assert row is not None and row.mac_secret is not None
    body = json.dumps(
        {
            "base": {"id": row.base_id},
            "webhook": {"id": row.webhook_id},
            "timestamp": "2026-12-02T10:00:00.000Z",
        }
    ).encode()
    key = secret if secret is not None else base64.b64decode(row.mac_secret)
    return body, "hmac-sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


async def post_ping(bot: RunningBot, body: bytes, mac: str | None) -> aiohttp.ClientResponse:
    headers = {"Content-Type": "application/json"}
    if mac is not None:
        headers[MAC_HEADER] = mac
    return await bot.session.post(bot.url("/airtable/webhook"), data=body, headers=headers)


def listings(bot: RunningBot) -> Any:
    row = bot.services.journal.hook(str(bot.airtable.base_id))
    assert row is not None
    return row.last_listed_at


async def test_a_signed_ping_is_answered_204_and_lists_the_payloads(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await following_bot(start_bot, github)
    before = listings(bot)
    body, mac = signed_ping(bot)
    response = await post_ping(bot, body, mac)
    assert response.status == 204
    assert await response.read() == b""
    for _ in range(500):
        if listings(bot) != before:
            break
        await asyncio.sleep(0.01)
    assert listings(bot) != before


async def test_a_bad_mac_is_refused_and_nothing_is_read(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await following_bot(start_bot, github)
    before = listings(bot)
    requests_before = bot.airtable.stats().requests
    body, mac = signed_ping(bot, secret=b"not the hook's secret")
    for header in (mac, None, mac.removeprefix("hmac-sha256="), "hmac-sha256=zz"):
        response = await post_ping(bot, body, header)
        assert response.status == 401
        assert "X-Airtable-Content-MAC" in (await response.json())["error"]
    good_body, good_mac = signed_ping(bot)
    tampered = await post_ping(bot, good_body.replace(b"2026", b"2027"), good_mac)
    assert tampered.status == 401
    await asyncio.sleep(0.3)
    assert listings(bot) == before
    assert bot.airtable.stats().requests == requests_before


async def test_a_signed_body_that_is_no_ping_is_refused(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await following_bot(start_bot, github)
    row = bot.services.journal.hook(str(bot.airtable.base_id))
    assert row is not None and row.mac_secret is not None
    key = base64.b64decode(row.mac_secret)
    for body in (b"not json", b'{"base": "appX"}', b'{"base": {"id": "appOther"}}'):
        mac = "hmac-sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        response = await post_ping(bot, body, mac)
        assert response.status == 400, body
        assert "error" in await response.json()


async def test_an_oversized_ping_is_refused(start_bot: StartBot, github: GitHubStandIn) -> None:
    bot = await following_bot(start_bot, github)
    response = await post_ping(bot, b"x" * (MAX_PING_BYTES + 1), "hmac-sha256=00")
    assert response.status == 413
    assert "error" in await response.json()


async def test_pings_are_refused_while_the_direction_is_off(start_bot: StartBot) -> None:
    bot = await start_bot()
    response = await post_ping(bot, b"{}", "hmac-sha256=00")
    assert response.status == 404
    assert "[airtable_to_github] enabled" in (await response.json())["error"]
    assert bot.services.hook_keeper is None


async def test_readyz_and_metrics_show_the_hook(start_bot: StartBot, github: GitHubStandIn) -> None:
    bot = await following_bot(start_bot, github)
    base = str(bot.airtable.base_id)
    row = bot.services.journal.hook(base)
    assert row is not None
    ready = await bot.session.get(bot.url("/readyz"))
    assert ready.status == 200
    shown = (await ready.json())["airtable_webhooks"][base]
    assert shown["webhook"] == row.webhook_id
    assert shown["expires_at"] == row.expires_at
    assert shown["last_listed_at"] is not None and shown["last_error"] is None
    body, mac = signed_ping(bot)
    assert (await post_ping(bot, body, mac)).status == 204
    assert (await post_ping(bot, body, "hmac-sha256=00")).status == 401
    text = await (await bot.session.get(bot.url("/metrics"))).text()
    expiry = next(
        line
        for line in text.splitlines()
        if line.startswith(f'deliverables_bot_airtable_webhook_expiry_seconds{{base="{base}"}}')
    )
    assert float(expiry.rsplit(" ", 1)[1]) > 0
    assert 'deliverables_bot_airtable_webhook_pings_total{outcome="accepted"} 1.0' in text
    assert 'deliverables_bot_airtable_webhook_pings_total{outcome="bad_mac"} 1.0' in text
    assert f'deliverables_bot_airtable_webhook_last_listing_seconds{{base="{base}"}}' in text
