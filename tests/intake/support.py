"""What the intake tests share: the demo delivery they send, a raw POST, and /metrics reads.

``closing_payload`` is the ``issues.closed`` delivery of the demo issue ``ISSUE`` (its
deliverable is seeded ``Todo``); ``raw_post`` sends a request a well-behaved client would not;
``scrape`` reads ``/metrics`` as Prometheus does, ``value`` and ``outcomes`` sum its samples;
``wait_until`` polls a condition on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.bot_fixtures import RunningBot
from tests.constants import OWNER, REPO
from tests.webhooks import issues_event, make_issue

# The demo deliverable the refused deliveries would close if they got through.
ISSUE, ISSUE_TITLE = 3, "Load workshop materials"


def closing_payload(number: int = ISSUE, title: str = ISSUE_TITLE, **fields: Any) -> dict[str, Any]:
    """The ``issues.closed`` delivery for a demo issue: it would mark its deliverable Done."""
    return issues_event("closed", make_issue(OWNER, REPO, number, title=title, **fields))


async def raw_post(bot: RunningBot, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
    """POST over a bare socket, with the headers exactly as given; status and JSON body."""
    reader, writer = await asyncio.open_connection(bot.server.host, bot.server.port)
    try:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n"
        writer.write(request.encode("utf-8") + body)
        await writer.drain()
        status_line, _, response_head = (
            (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10))
            .decode("latin-1")
            .partition("\r\n")
        )
        response_headers = dict(
            line.split(": ", 1) for line in response_head.strip().split("\r\n") if line
        )
        length = int(response_headers["Content-Length"])
        data = await asyncio.wait_for(reader.readexactly(length), 10)
        assert response_headers["Content-Type"].startswith("application/json"), data
        return int(status_line.split()[1]), json.loads(data)
    finally:
        writer.close()


async def scrape(bot: RunningBot) -> list[Sample]:
    """GET /metrics and parse it as Prometheus does; every sample."""
    async with bot.session.get(bot.url("/metrics")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def outcomes(samples: list[Sample]) -> Counter[str]:
    """Deliveries counted per outcome, whatever the event label."""
    counts: Counter[str] = Counter()
    for s in samples:
        if s.name == "deliverables_bot_deliveries_total" and s.value:
            counts[s.labels["outcome"]] += int(s.value)
    return counts


async def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``condition()`` until it is true; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
