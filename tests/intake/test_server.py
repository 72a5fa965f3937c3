"""End to end over HTTP: what ``bot/server.py`` answers to deliveries and probes.

Every test runs the real aiohttp app on 127.0.0.1 (``start_bot``) and talks to it with a
real client (aiohttp, or a raw socket for requests a well-behaved client would not send).
Deliveries are signed with the real HMAC. For every refused delivery the tests check what
an operator and GitHub would see: the status, the JSON ``{"error": ...}`` body, an empty
journal, no request to Airtable and the deliverable record unchanged, and the refusal's
outcome in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import sqlite3
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

import pytest

from bot.intake.journal import Journal
from bot.intake.journal_rows import Delivery
from bot.intake.server import MAX_BODY_BYTES
from tests.bot_fixtures import RunningBot, StartBot
from tests.constants import OWNER, REPO, WEBHOOK_SECRET
from tests.intake.support import (
    ISSUE,
    closing_payload,
    outcomes,
    raw_post,
    scrape,
    value,
)
from tests.standins.github import GitHubStandIn
from tests.webhooks import (
    encode_payload,
    issues_event,
    make_issue,
    ping_event,
    post_delivery,
    prepare_delivery,
    sign,
)

SEEDED_STATUS = "Todo"
FORM = "application/x-www-form-urlencoded"


def form_body(payload: Mapping[str, Any]) -> bytes:
    """The body GitHub sends with content type ``application/x-www-form-urlencoded``."""
    return urllib.parse.urlencode({"payload": encode_payload(payload).decode()}).encode()


async def post(
    bot: RunningBot, body: Any, headers: Mapping[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST to /webhook as given (no header added, not even a Content-Type); status and JSON."""
    async with bot.session.post(
        bot.webhook_url, data=body, headers=dict(headers), skip_auto_headers=("Content-Type",)
    ) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()


# -- what a refused delivery must leave behind: nothing ----------------------------------------


async def assert_refused(
    bot: RunningBot,
    answer: tuple[int, dict[str, Any]],
    status: int,
    error: str,
    outcome: str,
) -> None:
    """The delivery was answered ``status`` with a JSON error, and changed nothing."""
    code, body = answer
    assert (code, list(body)) == (status, ["error"]), body
    assert error in body["error"]
    await assert_nothing_happened(bot)
    assert outcomes(await scrape(bot)) == {outcome: 1}


async def assert_nothing_happened(bot: RunningBot) -> None:
    """Nothing journaled, no request to Airtable, the deliverable as seeded."""
    journal = bot.services.journal
    await bot.drain()  # had anything been journaled, the worker would have run it by now
    assert set(journal.counts().values()) == {0}
    assert journal.list() == []
    assert bot.airtable.stats().requests == 0
    # Reading the record is itself a request, so it comes after the count.
    assert bot.deliverable(ISSUE)["Status"] == SEEDED_STATUS


# -- 401, 400, 415: refused deliveries ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A delivery the server must refuse: how it differs from a good one, and the answer."""

    status: int
    error: str
    outcome: str
    body: bytes | None = None  # default: the closing payload as JSON
    signed_body: bytes | None = None  # what the signature is computed over; default: body
    secret: str | None = WEBHOOK_SECRET  # None: unsigned
    headers: Mapping[str, str | None] = dataclasses.field(default_factory=dict)


BAD_SIGNATURE = "invalid or missing X-Hub-Signature-256 signature"
NOT_AN_OBJECT = "body is not a JSON object"
MISSING_HEADER = "missing X-GitHub-Event or X-GitHub-Delivery header"
BAD_TYPE = "expected Content-Type: application/json"
ANOTHER_BODY = encode_payload(issues_event("reopened", make_issue(OWNER, REPO, ISSUE)))
NO_SHA256 = {"X-Hub-Signature-256": None, "X-Hub-Signature": None}


def unauthorized(**changes: Any) -> Refusal:
    return Refusal(401, BAD_SIGNATURE, "bad_signature", **changes)


def malformed(error: str = NOT_AN_OBJECT, **changes: Any) -> Refusal:
    return Refusal(400, error, "malformed", **changes)


def unsupported(content_type: str | None) -> Refusal:
    return Refusal(415, BAD_TYPE, "bad_content_type", headers={"Content-Type": content_type})


REFUSALS = [
    # 401: the signature is checked before anything in the body is trusted.
    pytest.param(unauthorized(secret=None), id="401-unsigned"),
    pytest.param(
        unauthorized(headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}), id="401-wrong"
    ),
    pytest.param(unauthorized(secret="another-secret"), id="401-another-secret"),
    pytest.param(unauthorized(signed_body=ANOTHER_BODY), id="401-over-another-body"),
    pytest.param(unauthorized(headers={"X-Hub-Signature-256": "sha256=zz"}), id="401-sha256-zz"),
    pytest.param(
        unauthorized(headers={"X-Hub-Signature-256": "md5=" + hashlib.md5(b"x").hexdigest()}),
        id="401-md5",
    ),
    pytest.param(
        unauthorized(headers={"X-Hub-Signature-256": sign(b"", WEBHOOK_SECRET)[7:]}),
        id="401-no-prefix",
    ),
    pytest.param(unauthorized(headers={"X-Hub-Signature-256": ""}), id="401-empty"),
    pytest.param(
        unauthorized(
            secret=None, body=form_body(closing_payload()), headers={"Content-Type": FORM}
        ),
        id="401-form-unsigned",
    ),
    pytest.param(
        unauthorized(headers={"X-Hub-Signature-256": "sha256=\u00e9" + "0" * 63}),
        id="401-non-ascii",
    ),
    pytest.param(
        # server.py says it refuses a delivery without X-Hub-Signature-256; gidgethub falls
        # back to the legacy SHA-1 X-Hub-Signature.
        unauthorized(headers={"X-Hub-Signature-256": None}),
        id="401-only-legacy-sha1",
    ),
    pytest.param(
        unauthorized(headers={**NO_SHA256, "X-Hub-Signature": sign(b"x", WEBHOOK_SECRET)}),
        id="401-legacy-header-wrong",
    ),
    # 400: signed, but not a delivery the bot can read.
    pytest.param(malformed(body=b"{not json"), id="400-garbage"),
    pytest.param(malformed(body=b"[]"), id="400-array"),
    pytest.param(malformed(body=b'"x"'), id="400-string"),
    pytest.param(malformed(body=b"null"), id="400-null"),
    pytest.param(malformed(body=b"42"), id="400-number"),
    pytest.param(malformed(body=b""), id="400-empty"),
    pytest.param(malformed(body=b'{"action": "\xff"}'), id="400-not-utf8"),
    pytest.param(
        malformed(body=b"foo=bar", headers={"Content-Type": FORM}), id="400-form-without-payload"
    ),
    pytest.param(
        malformed(headers={"Content-Type": "application/json; charset=x-no-such-codec"}),
        id="400-unknown-charset",
    ),
    pytest.param(malformed(MISSING_HEADER, headers={"X-GitHub-Event": None}), id="400-no-event"),
    pytest.param(
        malformed(MISSING_HEADER, headers={"X-GitHub-Delivery": None}), id="400-no-delivery-id"
    ),
    pytest.param(malformed(MISSING_HEADER, headers={"X-GitHub-Event": ""}), id="400-empty-event"),
    pytest.param(
        malformed("too long", headers={"X-GitHub-Delivery": "d" * 101}), id="400-long-delivery-id"
    ),
    # 415: only the two content types GitHub sends.
    pytest.param(unsupported("text/plain"), id="415-text-plain"),
    pytest.param(unsupported("application/xml"), id="415-xml"),
    pytest.param(unsupported("application/octet-stream"), id="415-octet-stream"),
    pytest.param(unsupported(None), id="415-missing"),
]


@pytest.mark.parametrize("case", REFUSALS)
async def test_refused_delivery_changes_nothing(start_bot: StartBot, case: Refusal) -> None:
    bot = await start_bot()
    assert bot.secret == WEBHOOK_SECRET
    body = case.body if case.body is not None else encode_payload(closing_payload())
    signed = case.signed_body if case.signed_body is not None else body
    _, headers = prepare_delivery("issues", signed, secret=case.secret, headers=case.headers)
    if any(ord(c) > 127 for v in headers.values() for c in v):
        answer = await raw_post(bot, {**headers, "Content-Length": str(len(body))}, body)
    else:
        answer = await post(bot, body, headers)
    await assert_refused(bot, answer, case.status, case.error, case.outcome)


async def test_unsigned_delivery_changes_nothing_and_does_not_use_up_its_id(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    payload = closing_payload()
    delivery_id = str(uuid.uuid4())
    for _ in range(2):  # GitHub would not retry, but an attacker might
        response = await post_delivery(
            bot.session, bot.webhook_url, "issues", payload, secret=None, delivery_id=delivery_id
        )
        assert response.status == 401
        assert await response.json() == {"error": BAD_SIGNATURE}
    await assert_nothing_happened(bot)
    # The genuine delivery with that id still goes through.
    response = await bot.deliver("issues", payload, delivery_id=delivery_id)
    assert response.status == 202
    await bot.drain()
    assert bot.deliverable(ISSUE)["Status"] == "Done"


async def test_unverified_event_names_do_not_become_metric_labels(start_bot: StartBot) -> None:
    bot = await start_bot()
    invented = {f"invented-{uuid.uuid4().hex}" for _ in range(20)}
    for event in invented:
        response = await post_delivery(
            bot.session, bot.webhook_url, event, closing_payload(), secret=None
        )
        assert response.status == 401
    await assert_nothing_happened(bot)
    samples = await scrape(bot)
    assert outcomes(samples) == {"bad_signature": len(invented)}
    # Anyone can reach /webhook: a series per invented event name grows the process and
    # every scrape without bound.
    assert not {s.labels.get("event") for s in samples} & invented


# -- 413 ---------------------------------------------------------------------------------------


def oversized_delivery() -> tuple[bytes, dict[str, str]]:
    """A genuine, signed ``issues.closed`` delivery just over the limit (25 MiB + ~1 KiB)."""
    payload = closing_payload(body="x" * (MAX_BODY_BYTES + 1024))
    body, headers = prepare_delivery("issues", payload, secret=WEBHOOK_SECRET)
    assert MAX_BODY_BYTES + 1024 < len(body) < MAX_BODY_BYTES + 64 * 1024
    return body, headers


async def _with_content_length(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    body, headers = oversized_delivery()
    return await post(bot, body, headers)


async def _chunked(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    # No Content-Length: the server only learns the size by reading.
    body, headers = oversized_delivery()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    return await post(bot, chunks(), headers)


async def _announced(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    # The header alone announces too much; the body never comes.
    _, headers = prepare_delivery("issues", closing_payload(), secret=WEBHOOK_SECRET)
    return await raw_post(bot, {**headers, "Content-Length": str(MAX_BODY_BYTES + 1)}, b"")


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(_with_content_length, id="content-length"),
        pytest.param(_chunked, id="chunked"),
        pytest.param(_announced, id="announced-only"),
    ],
)
async def test_delivery_over_25_mib_is_refused(
    start_bot: StartBot, send: Callable[[RunningBot], Awaitable[tuple[int, dict[str, Any]]]]
) -> None:
    bot = await start_bot()
    started = time.monotonic()
    answer = await send(bot)
    assert time.monotonic() - started < 5
    await assert_refused(bot, answer, 413, f"larger than {MAX_BODY_BYTES} bytes", "too_large")


# -- 200, 202: deliveries that are answered ----------------------------------------------------


async def test_ping_is_answered_and_not_journaled(start_bot: StartBot) -> None:
    bot = await start_bot()
    response = await bot.deliver("ping", ping_event())
    assert response.status == 200
    assert await response.json() == {"status": "pong"}
    await assert_nothing_happened(bot)


def latin1_body(payload: Mapping[str, Any]) -> bytes:
    """The payload as JSON in ISO-8859-1 (what ``charset=latin-1`` announces)."""
    return encode_payload(payload).decode().encode("latin-1")


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        pytest.param("application/json", encode_payload, id="json"),
        pytest.param("application/json; charset=utf-8", encode_payload, id="json-charset"),
        pytest.param(FORM, form_body, id="form-encoded"),
        pytest.param(
            "application/json; charset=latin-1",
            latin1_body,
            id="json-latin-1",
        ),
    ],
)
async def test_good_delivery_is_journaled_then_processed(
    start_bot: StartBot,
    content_type: str,
    encode: Callable[[Mapping[str, Any]], bytes],
) -> None:
    bot = await start_bot()
    delivery_id = str(uuid.uuid4())
    body, headers = prepare_delivery(
        "issues",
        encode(closing_payload(body="Café, non-ASCII on purpose")),
        secret=bot.secret,
        delivery_id=delivery_id,
        headers={"Content-Type": content_type},
    )
    assert await post(bot, body, headers) == (
        202,
        {"status": "accepted", "delivery": delivery_id},
    )
    # Journaled before the answer.
    [journaled] = bot.services.journal.list()
    assert (journaled.id, journaled.event, journaled.action) == (delivery_id, "issues", "closed")
    assert journaled.issue_key == f"{OWNER}/{REPO}#{ISSUE}"
    assert journaled.payload["issue"]["number"] == ISSUE
    assert journaled.payload["issue"]["body"] == "Café, non-ASCII on purpose"
    await bot.drain()
    [done] = bot.services.journal.list()
    assert (done.state, done.attempts, done.last_error) == ("done", 0, None)
    fields = bot.deliverable(ISSUE)
    assert fields["Status"] == "Done"
    assert "Completed" in fields


async def test_delivery_id_already_seen_is_a_duplicate(start_bot: StartBot) -> None:
    bot = await start_bot()
    delivery_id = str(uuid.uuid4())
    payload = closing_payload()
    first = await bot.deliver("issues", payload, delivery_id=delivery_id)
    assert first.status == 202
    # Redelivered while pending, then after it was processed (GitHub keeps the id).
    again = await bot.deliver("issues", payload, delivery_id=delivery_id)
    await bot.drain()
    requests_after_processing = bot.airtable.stats().requests
    later = await bot.deliver("issues", payload, delivery_id=delivery_id)
    for response in (again, later):
        assert response.status == 200
        assert await response.json() == {"status": "duplicate", "delivery": delivery_id}
    await bot.drain()
    assert bot.airtable.stats().requests == requests_after_processing
    assert [(d.id, d.state) for d in bot.services.journal.list()] == [(delivery_id, "done")]
    assert outcomes(await scrape(bot)) == {"accepted": 1, "duplicate": 2, "done": 1}


async def test_concurrent_redeliveries_are_journaled_once(start_bot: StartBot) -> None:
    bot = await start_bot()
    await bot.services.worker.stop()  # keep them pending: only the intake is under test
    ids = [str(uuid.uuid4()) for _ in range(10)]
    payload = closing_payload()
    responses = await asyncio.gather(
        *(bot.deliver("issues", payload, delivery_id=i) for i in ids * 3)
    )
    answers = Counter([((await r.json())["delivery"], r.status) for r in responses])
    assert answers == {**{(i, 202): 1 for i in ids}, **{(i, 200): 2 for i in ids}}
    assert sorted(d.id for d in bot.services.journal.list()) == sorted(ids)
    assert bot.services.journal.counts()["pending"] == len(ids)


# -- the journal cannot be written -------------------------------------------------------------


async def test_journal_write_failure_answers_503_and_journals_nothing(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.services.journal.close()
    response = await bot.deliver("issues", closing_payload())
    assert response.status == 503
    assert await response.json() == {
        "error": "the journal cannot be written; GitHub may redeliver later"
    }
    with Journal(bot.services.config.journal_path) as journal:
        assert set(journal.counts().values()) == {0}
    assert bot.airtable.stats().requests == 0
    assert bot.deliverable(ISSUE)["Status"] == SEEDED_STATUS


async def test_metrics_still_scrape_when_the_journal_is_broken(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.services.journal.close()
    assert (await bot.deliver("issues", closing_payload())).status == 503
    assert outcomes(await scrape(bot)) == {"journal_error": 1}


# -- /healthz and /readyz ----------------------------------------------------------------------


async def _stop_worker(bot: RunningBot) -> None:
    await bot.services.worker.stop()


async def _close_journal(bot: RunningBot) -> None:
    bot.services.journal.close()


async def _nothing(bot: RunningBot) -> None:
    pass


@pytest.mark.parametrize(
    ("breaking", "status", "error"),
    [
        pytest.param(_nothing, 200, None, id="ready"),
        pytest.param(_stop_worker, 503, "the worker is not running", id="worker-stopped"),
        pytest.param(_close_journal, 503, "is not writable", id="journal-closed"),
    ],
)
async def test_probes(
    start_bot: StartBot,
    breaking: Callable[[RunningBot], Awaitable[None]],
    status: int,
    error: str | None,
) -> None:
    bot = await start_bot()
    await breaking(bot)
    async with bot.session.get(bot.url("/healthz")) as response:
        assert (response.status, await response.json()) == (200, {"status": "ok"})
    async with bot.session.get(bot.url("/readyz")) as response:
        assert response.status == status
        body = await response.json()
    if error is None:
        assert body["status"] == "ready"
        assert "error" not in body
    else:
        assert body["status"] == "not ready"
        assert error in body["error"]


async def test_worker_survives_a_transient_journal_error(start_bot: StartBot) -> None:
    bot = await start_bot()
    journal = bot.services.journal
    failed = asyncio.Event()
    next_due_at = journal.next_due_at

    def flaky() -> float | None:
        # One transient SQLite error (an I/O hiccup, a busy file), then the real thing.
        if not failed.is_set():
            failed.set()
            raise sqlite3.OperationalError("disk I/O error")
        return next_due_at()

    journal.next_due_at = flaky  # type: ignore[method-assign]
    bot.services.worker.notify()
    await asyncio.wait_for(failed.wait(), 5)
    await asyncio.sleep(0.1)
    async with bot.session.get(bot.url("/readyz")) as response:
        assert response.status == 200, await response.text()
    assert (await bot.deliver("issues", closing_payload())).status == 202
    await bot.drain(timeout=5)
    assert bot.deliverable(ISSUE)["Status"] == "Done"


# -- /metrics ----------------------------------------------------------------------------------


async def test_metrics_count_deliveries_queue_airtable_and_reconciles(start_bot: StartBot) -> None:
    bot = await start_bot()
    seen = await bot.deliver("issues", closing_payload(2, "Configure login"))
    await bot.deliver("issues", closing_payload())
    assert (await bot.deliver("ping", ping_event())).status == 200
    duplicate_id = (await seen.json())["delivery"]
    duplicate = await bot.deliver(
        "issues", closing_payload(2, "Configure login"), delivery_id=duplicate_id
    )
    assert duplicate.status == 200
    body, headers = prepare_delivery("issues", closing_payload(), secret="another-secret")
    assert (await post(bot, body, headers))[0] == 401
    body, headers = prepare_delivery(
        "issues", closing_payload(), secret=bot.secret, headers={"Content-Type": "text/plain"}
    )
    assert (await post(bot, body, headers))[0] == 415
    await bot.drain()
    # One more, left pending for the queue depth.
    await bot.services.worker.stop()
    assert (await bot.deliver("issues", closing_payload(1, "Deploy the hub"))).status == 202

    samples = await scrape(bot)
    deliveries = "deliverables_bot_deliveries_total"
    assert value(samples, deliveries, event="issues", outcome="accepted") == 3
    assert value(samples, deliveries, event="issues", outcome="duplicate") == 1
    assert value(samples, deliveries, event="issues", outcome="done") == 2
    assert value(samples, deliveries, event="ping", outcome="pong") == 1
    assert outcomes(samples) == {
        "accepted": 3,
        "duplicate": 1,
        "done": 2,
        "pong": 1,
        "bad_signature": 1,
        "bad_content_type": 1,
    }
    depth = "deliverables_bot_queue_depth"
    assert value(samples, depth, state="pending") == 1
    assert value(samples, depth, state="processing") == 0
    assert value(samples, depth, state="failed") == 0
    assert value(samples, "deliverables_bot_airtable_requests_total") > 0
    assert value(samples, "deliverables_bot_airtable_requests_total", operation="update") >= 1
    assert bot.airtable.stats().requests >= value(
        samples, "deliverables_bot_airtable_requests_total"
    )
    assert value(samples, "deliverables_bot_reconcile_seconds_count") == 2
    assert value(samples, "deliverables_bot_reconcile_seconds_sum") > 0
    # No App credentials: nothing was sent to GitHub.
    assert value(samples, "deliverables_bot_github_requests_total") == 0


# -- retries -----------------------------------------------------------------------------------


async def wait_for_state(bot: RunningBot, delivery_id: str, state: str) -> Delivery:
    """Poll the journal (at most 10 s) until the delivery is in ``state``."""
    deadline = time.monotonic() + 10
    while True:
        [delivery] = [d for d in bot.services.journal.list() if d.id == delivery_id]
        if delivery.state == state:
            return delivery
        assert time.monotonic() < deadline, f"still {delivery.state}: {delivery}"
        await asyncio.sleep(0.02)


async def test_failing_delivery_is_retried_with_backoff_then_failed_then_retried(
    start_bot: StartBot, github: GitHubStandIn
) -> None:
    bot = await start_bot(github=github)
    settings = bot.services.config.worker
    assert (settings.max_attempts, settings.base_delay_seconds) == (4, 0.05)
    github.inject(r"/issues/1$", status=503, times=None)
    issue = github.close_issue(OWNER, REPO, 1)
    started = time.monotonic()
    response = await bot.deliver("issues", issues_event("closed", issue))
    assert response.status == 202
    delivery_id = (await response.json())["delivery"]

    failed = await wait_for_state(bot, delivery_id, "failed")
    elapsed = time.monotonic() - started
    assert failed.attempts == 4
    # gidgethub's GitHubBroken says the reason phrase of the 503, not the number.
    assert failed.last_error is not None
    assert HTTPStatus.SERVICE_UNAVAILABLE.phrase in failed.last_error
    assert len(github.calls_matching("GET", r"/issues/1$")) == 4
    # Backoff: 0.05, 0.1, 0.2 s between the attempts, each within 10% jitter.
    assert elapsed >= 0.9 * (0.05 + 0.1 + 0.2)
    assert bot.deliverable(1)["Status"] == "In progress"
    samples = await scrape(bot)
    assert outcomes(samples) == {"accepted": 1, "retry": 3, "failed": 1}
    assert value(samples, "deliverables_bot_github_errors_total", status="503") == 4
    assert value(samples, "deliverables_bot_queue_depth", state="failed") == 1
    async with bot.session.get(bot.url("/readyz")) as ready:
        assert ready.status == 200  # a dead letter does not make the bot unready

    github.clear_faults()
    bot.services.journal.retry(delivery_id)
    bot.services.worker.notify()
    await bot.drain()
    await wait_for_state(bot, delivery_id, "done")
    fields = bot.deliverable(1)
    assert fields["Status"] == "Done"
    assert fields["Completed"].startswith(issue["closed_at"][:19])
    assert len(github.calls_matching("GET", r"/issues/1$")) == 5
