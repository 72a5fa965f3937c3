"""Reading a request's JSON body as Airtable does, for every route of the embedded server."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.airtable_local import errors


async def json_body(request: web.Request, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when empty); 422 for one that is not JSON, not an
    object, or (with ``allowed``) has a key Airtable does not take."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise errors.invalid_body() from None
    if not isinstance(body, dict):
        raise errors.invalid_request("The request body must be a JSON object")
    if allowed is not None and set(body) - allowed:
        raise errors.invalid_request(f"Unknown parameter: {sorted(set(body) - allowed)[0]}")
    return body
