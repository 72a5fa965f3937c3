"""``POST /airtable/webhook``: Airtable's notification pings, checked and answered at once.

Airtable pings a hook's ``notificationUrl`` with ``{"base": {"id"}, "webhook": {"id"},
"timestamp"}`` and ``X-Airtable-Content-MAC: hmac-sha256=<hex>``, the HMAC-SHA256 of the raw
body keyed by the hook's base64-decoded MAC secret
(https://airtable.com/developers/web/api/webhooks-overview#webhook-notification-delivery).
A ping carries no change: it says "there are payloads to list". So the route:

- checks the MAC against the secrets of the hooks the bot follows, in constant time, before
  reading anything of the body: 401 ``{"error"}`` when none matches;
- answers 204 and wakes the base's poll (:meth:`bot.intake.airtable_hook.HookKeeper.poke`),
  which journals the payloads; the ping itself is not journaled — a lost ping costs
  nothing, as the timer lists the payloads anyway;
- answers 404 ``{"error"}`` when Airtable → GitHub is off, 413 for a body over 64 KiB, and
  400 for a signed body that is not a ping.
"""

from __future__ import annotations

import json

from aiohttp import web

from bot.intake.airtable_hook import HookKeeper
from bot.metrics import Metrics

KEEPER_KEY: web.AppKey[HookKeeper | None] = web.AppKey("airtable_hook_keeper")
PING_METRICS_KEY = web.AppKey("airtable_ping_metrics", Metrics)
MAX_PING_BYTES = 64 * 1024
MAC_HEADER = "X-Airtable-Content-MAC"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def airtable_ping(request: web.Request) -> web.Response:
    """Check a ping's MAC, answer 204 and poll the base's payloads; see the module docstring."""
    keeper = request.app[KEEPER_KEY]
    metrics = request.app[PING_METRICS_KEY]
    if keeper is None:
        metrics.airtable_hook_pings.labels(outcome="off").inc()
        return _error(404, "Airtable → GitHub is off ([airtable_to_github] enabled = false)")
    if request.content_length is not None and request.content_length > MAX_PING_BYTES:
        metrics.airtable_hook_pings.labels(outcome="malformed").inc()
        return _error(413, f"a ping is at most {MAX_PING_BYTES} bytes")
    body = await request.content.read(MAX_PING_BYTES + 1)
    if len(body) > MAX_PING_BYTES:
        metrics.airtable_hook_pings.labels(outcome="malformed").inc()
        return _error(413, f"a ping is at most {MAX_PING_BYTES} bytes")
    base_id = keeper.verify(body, request.headers.get(MAC_HEADER, ""))
    if base_id is None:
        metrics.airtable_hook_pings.labels(outcome="bad_mac").inc()
        return _error(401, f"missing or wrong {MAC_HEADER} for the webhooks this bot follows")
    try:
        ping = json.loads(body)
        named = ping["base"]["id"]
    except (ValueError, TypeError, KeyError):
        metrics.airtable_hook_pings.labels(outcome="malformed").inc()
        return _error(400, 'expected {"base": {"id": ...}, "webhook": {"id": ...}, ...}')
    if named != base_id:
        metrics.airtable_hook_pings.labels(outcome="malformed").inc()
        return _error(400, f"the ping names base {named!r}, its MAC is {base_id!r}'s hook's")
    keeper.poke(base_id)
    metrics.airtable_hook_pings.labels(outcome="accepted").inc()
    return web.Response(status=204)


def add_airtable_route(app: web.Application, keeper: HookKeeper | None, metrics: Metrics) -> None:
    """Mount ``POST /airtable/webhook``; ``keeper`` is None when the direction is off."""
    app[KEEPER_KEY] = keeper
    app[PING_METRICS_KEY] = metrics
    app.router.add_post("/airtable/webhook", airtable_ping)
