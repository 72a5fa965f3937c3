"""Routes of the App's webhook delivery log (see :mod:`tests.standins.github.hooks`)."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from tests.standins.github.answers import ApiError, int_param, json_response, per_page
from tests.standins.github.routes.route import Route

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn


async def list_deliveries(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /app/hook/deliveries``: newest first, paged by ``cursor`` (``redelivery``: only
    redeliveries, or only first attempts)."""
    query = dict(request.query)
    size = per_page(query)
    entries = gh.hook_deliveries()  # newest first, in the list form
    if "redelivery" in query:
        wanted = query["redelivery"].lower() == "true"
        entries = [entry for entry in entries if entry["redelivery"] is wanted]
    start = 0
    if "cursor" in query:
        # The cursor names the delivery a page starts at; GitHub's own are opaque too.
        match = re.fullmatch(r"v1_(\d+)", query["cursor"])
        ids = [entry["id"] for entry in entries]
        if match is None or int(match[1]) not in ids:
            raise ApiError(400, "Invalid cursor")
        start = ids.index(int(match[1]))
    page = entries[start : start + size]

    def link(index: int, rel: str) -> str:
        params = {**query, "per_page": str(size), "cursor": f"v1_{entries[index]['id']}"}
        return f'<{gh.url}{request.path}?{urlencode(params)}>; rel="{rel}"'

    links = []
    if start + size < len(entries):
        links.append(link(start + size, "next"))
    if start > 0:
        links.append(link(max(0, start - size), "prev"))
    headers = {"Link": ", ".join(links)} if links else None
    return json_response(page, headers=headers)


async def get_delivery(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /app/hook/deliveries/{delivery_id}``: with url, request and response."""
    return json_response(copy.deepcopy(gh.hook_entry(int_param(request, "delivery_id"))))


async def redeliver(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST /app/hook/deliveries/{delivery_id}/attempts``: 202, sent in the background."""
    gh.redeliver(gh.hook_entry(int_param(request, "delivery_id")))
    return json_response({}, status=202)


ROUTES = [
    Route("GET", "/app/hook/deliveries", list_deliveries, "jwt"),
    Route("GET", "/app/hook/deliveries/{delivery_id}", get_delivery, "jwt"),
    Route("POST", "/app/hook/deliveries/{delivery_id}/attempts", redeliver, "jwt"),
]
