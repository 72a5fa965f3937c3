"""Large deliveries over real HTTP: a shared byte budget, 503 with Retry-After, exact 413.

The budget is shrunk for these tests (large above 64 KiB, 300 KiB in flight) so that bodies of
a few hundred KiB show what 24 MiB deliveries meet at full size; the 413 limit is exercised
at its real size.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

import bot.intake.server as bot_server
from bot.intake.server import MAX_BODY_BYTES
from tests.bot_fixtures import RunningBot, StartBot
from tests.intake.support import closing_payload, outcomes, raw_post, scrape
from tests.webhooks import encode_payload, prepare_delivery

LARGE = 200 * 1024


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large above 64 KiB, 300 KiB of large bodies in flight, a short wait for room."""
    monkeypatch.setattr(bot_server, "LARGE_BODY_BYTES", 64 * 1024)
    monkeypatch.setattr(bot_server, "LARGE_BODY_BUDGET_BYTES", 300 * 1024)
    monkeypatch.setattr(bot_server, "LARGE_BODY_WAIT_SECONDS", 0.5)


def large_delivery(secret: str, number: int = 1, size: int = LARGE) -> tuple[bytes, bytes]:
    """The request head and body of a signed ``issues.closed`` of about ``size`` bytes."""
    body, headers = prepare_delivery(
        "issues", closing_payload(number, body="x" * size), secret=secret
    )
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
    return head.encode(), body


class HeldRequest:
    """A request whose head and part of whose body are sent; the rest on :meth:`finish`."""

    def __init__(self, bot: RunningBot, head: bytes, body: bytes) -> None:
        self.bot, self.head, self.body = bot, head, body

    async def start(self) -> None:
        """Open the connection and send the head and the first half of the body."""
        self.reader, self.writer = await asyncio.open_connection(
            self.bot.server.host, self.bot.server.port
        )
        self.writer.write(self.head + self.body[: len(self.body) // 2])
        await self.writer.drain()

    async def finish(self) -> tuple[int, dict[str, str], Any]:
        """Send the rest; the status, headers and JSON body of the answer."""
        self.writer.write(self.body[len(self.body) // 2 :])
        await self.writer.drain()
        return await read_response(self.reader, self.writer)


async def read_response(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[int, dict[str, str], Any]:
    """Read one HTTP response; close the connection."""
    try:
        status = int((await reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        data = await reader.readexactly(int(headers.get("content-length", "0")))
    finally:
        writer.close()
    return status, headers, json.loads(data) if data else None


async def send(bot: RunningBot, head: bytes, body: bytes) -> tuple[int, dict[str, str], Any]:
    """Send a whole request on its own connection."""
    reader, writer = await asyncio.open_connection(bot.server.host, bot.server.port)
    writer.write(head + body)
    return await read_response(reader, writer)


async def test_large_deliveries_beyond_the_budget_get_503_while_small_ones_pass(
    small_budget: None, start_bot: StartBot
) -> None:
    bot = await start_bot()
    first = HeldRequest(bot, *large_delivery(bot.secret, 1))
    await first.start()  # its 200 KiB are taken from the 300 KiB budget; its body half-sent
    await asyncio.sleep(0.1)

    # A second large one finds no room within the wait: refused before its body is read.
    head, body = large_delivery(bot.secret, 2)
    began = time.monotonic()
    status, headers, answer = await send(bot, head, body)
    assert status == 503
    assert headers["retry-after"] == str(bot_server.RETRY_AFTER_SECONDS)
    assert answer == {"error": "too many large deliveries at once; try again later"}
    assert 0.4 < time.monotonic() - began < 5

    # Small deliveries are not held up by the large one in flight.
    began = time.monotonic()
    small = await bot.deliver("issues", closing_payload(3, "Load workshop materials"))
    assert small.status == 202
    assert time.monotonic() - began < 0.5

    status, _, answer = await first.finish()
    assert (status, answer["status"]) == (202, "accepted")
    # Room again: the refused delivery, sent again (as a redelivery would be), is taken.
    status, _, answer = await send(bot, head, body)
    assert (status, answer["status"]) == (202, "accepted")

    await bot.drain()
    for number in (1, 2, 3):
        assert bot.deliverable(number)["Status"] == "Done"
    counts = outcomes(await scrape(bot))
    assert counts["busy"] == 1
    assert counts["accepted"] == 3
    assert bot.services.journal.counts()["done"] == 3  # the refused try was not journaled


async def test_a_large_delivery_waits_for_room_and_is_accepted(
    small_budget: None, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot_server, "LARGE_BODY_WAIT_SECONDS", 5.0)
    bot = await start_bot()
    first = HeldRequest(bot, *large_delivery(bot.secret, 1))
    await first.start()
    await asyncio.sleep(0.1)
    second = asyncio.create_task(send(bot, *large_delivery(bot.secret, 2)))
    await asyncio.sleep(0.3)
    assert not second.done()  # waiting for room, its body unread
    status, _, _ = await first.finish()
    assert status == 202
    status, _, answer = await asyncio.wait_for(second, 5)
    assert (status, answer["status"]) == (202, "accepted")


async def test_a_large_delivery_with_a_bad_signature_gives_its_bytes_back(
    small_budget: None, start_bot: StartBot
) -> None:
    bot = await start_bot()
    head, body = large_delivery("not-the-secret", 1)
    status, _, answer = await send(bot, head, body)
    assert status == 401
    assert answer == {"error": "invalid or missing X-Hub-Signature-256 signature"}
    # Were its bytes still taken, these two would not fit the 300 KiB budget together.
    held = HeldRequest(bot, *large_delivery(bot.secret, 1, size=140 * 1024))
    await held.start()
    await asyncio.sleep(0.1)
    status, _, _ = await send(bot, *large_delivery(bot.secret, 2, size=140 * 1024))
    assert status == 202
    assert (await held.finish())[0] == 202
    assert bot.services.journal.counts()["pending"] + bot.services.journal.counts()["done"] == 2


def chunked(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body of a request sent with ``Transfer-Encoding: chunked``."""
    step = 1024 * 1024
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
        for i in range(0, len(body), step)
    )
    return {**headers, "Transfer-Encoding": "chunked"}, chunks + b"0\r\n\r\n"


def body_of_size(size: int) -> bytes:
    """A valid ``issues.closed`` payload of exactly ``size`` bytes."""
    empty = len(encode_payload(closing_payload(body="")))
    body = encode_payload(closing_payload(body="x" * (size - empty)))
    assert len(body) == size
    return body


@pytest.mark.parametrize(
    ("size", "status"),
    [
        pytest.param(MAX_BODY_BYTES, 202, id="exactly-25-MiB"),
        pytest.param(MAX_BODY_BYTES + 1, 413, id="one-byte-more"),
    ],
)
async def test_the_25_mib_limit_is_exact_without_content_length(
    start_bot: StartBot, size: int, status: int
) -> None:
    bot = await start_bot()
    body, headers = prepare_delivery("issues", body_of_size(size), secret=bot.secret)
    headers, wire = chunked(headers, body)
    answer_status, answer = await raw_post(bot, headers, wire)
    assert answer_status == status
    if status == 413:
        assert answer == {"error": f"payload larger than {MAX_BODY_BYTES} bytes"}
        assert bot.services.journal.counts()["pending"] == 0
    else:
        assert answer["status"] == "accepted"
