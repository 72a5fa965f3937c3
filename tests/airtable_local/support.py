"""What the tests of the embedded Airtable share: id patterns, paths, error and record lookups,
reading what changed since a moment, and receiving webhook pings (:class:`PingReceiver`)."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from aiohttp import web
from pyairtable import Table
from pyairtable.formulas import match

from bot.airtable_local import DEMO_BASE_ID, values
from bot.airtable_local.thread import LocalAirtable, ServerThread
from tests.constants import DEMO_PROJECT, PROJECTS

RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")
CREATED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MISSING_ID = "recAAAAAAAAAAAAAA"
BASE = DEMO_BASE_ID
PROJECTS_PATH = f"/v0/{BASE}/{PROJECTS}"


def error_of(exc: pytest.ExceptionInfo[requests.HTTPError]) -> tuple[int, Any]:
    """The status and JSON body behind a pyairtable HTTPError."""
    response = exc.value.response
    assert response is not None
    return response.status_code, response.json()


def project_id(at: LocalAirtable, name: str = DEMO_PROJECT) -> str:
    """The id of a demo project, found by name."""
    record = at.table(PROJECTS).first(formula=match({"Name": name}))
    assert record is not None
    return str(record["id"])


def moment() -> str:
    """Now, as Airtable writes times: writes made before the call are stamped earlier, writes
    made after it returns later (times have milliseconds: the clock is let move on around it)."""
    time.sleep(0.003)
    now = values.format_datetime(datetime.now(UTC))
    time.sleep(0.003)
    return now


def changed_since(table: Table, since: str) -> set[str]:
    """The ids of the records created or modified after ``since``, read as the bot reads them."""
    after = f"DATETIME_PARSE('{since}')"
    formula = f"OR(IS_AFTER(LAST_MODIFIED_TIME(), {after}), IS_AFTER(CREATED_TIME(), {after}))"
    return {record["id"] for record in table.all(formula=formula)}


def holds(table: Table, record_id: str, formula: str) -> bool:
    """Whether ``formula`` is true for the record (filtering the table by it finds it)."""
    return record_id in {record["id"] for record in table.all(formula=formula)}


@dataclass(frozen=True)
class Ping:
    """One notification ping the receiver got: the raw body and its headers."""

    body: bytes
    headers: dict[str, str]


class PingReceiver:
    """A tiny HTTP server on 127.0.0.1 that records the webhook pings POSTed to it.

    It answers ``statuses`` in turn (then ``default_status``), after ``delay`` seconds.
    """

    def __init__(self, *, default_status: int = 200, delay: float = 0.0) -> None:
        """Prepare a receiver; :meth:`start` (or ``with``) serves it."""
        self.pings: list[Ping] = []
        self.statuses: deque[int] = deque()
        self.default_status = default_status
        self.delay = delay
        self.url = ""
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._thread: ServerThread | None = None

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            self.pings.append(Ping(body, dict(request.headers)))
            status = self.statuses.popleft() if self.statuses else self.default_status
        return web.Response(status=status)

    def start(self) -> PingReceiver:
        """Serve on a free port; ``url`` is where to send pings."""
        app = web.Application()
        app.router.add_post("/ping", self._receive)
        runner = self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.2)
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/ping"

        async def setup() -> None:
            await runner.setup()
            await web.SockSite(runner, sock).start()

        self._thread = ServerThread("ping-receiver", setup, runner.cleanup)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def __enter__(self) -> PingReceiver:
        """Start for the ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop."""
        self.stop()

    def received(self) -> list[Ping]:
        """A copy of the pings received so far."""
        with self._lock:
            return list(self.pings)


def unreachable_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ping"


def table_id(at: LocalAirtable, name: str) -> str:
    """The id of a table of the seeded base."""
    assert at.base_id is not None
    for table in at.store.schema(at.base_id)["tables"]:
        if table["name"] == name:
            return str(table["id"])
    raise KeyError(name)


def field_id(at: LocalAirtable, table: str, field: str) -> str:
    """The id of a field of a table of the seeded base."""
    assert at.base_id is not None
    for found in at.store.schema(at.base_id)["tables"]:
        if found["name"] == table:
            for candidate in found["fields"]:
                if candidate["name"] == field:
                    return str(candidate["id"])
    raise KeyError(f"{table}.{field}")
