"""HTTP routes: ``POST /webhook``, ``/healthz``, ``/readyz`` and ``/metrics``.

A delivery is checked (size, content type, headers, HMAC signature, JSON), written to the
journal, and answered 202 before any work is done; the worker takes it from there. Every
refusal is a JSON ``{"error": ...}`` with its status, and a refused delivery is not
journaled. Work for GitHub's 10-second answer window is kept to one SQLite insert.

Large bodies (above ``LARGE_BODY_BYTES``) share a byte budget: a burst of them is read and
checked a few at a time, off the event loop, so memory stays bounded and small deliveries
keep being answered; one that finds no room in time gets 503 with ``Retry-After``.
``/readyz`` and ``/metrics`` also say how Airtable and GitHub have been answering
(:mod:`bot.health`) and how many deliveries wait or have failed; ``/readyz`` also shows
the Airtable webhooks followed when Airtable → GitHub is on (their pings arrive on
``POST /airtable/webhook``, :mod:`bot.intake.airtable_ping`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import logging
import urllib.parse
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure
from gidgethub.sansio import validate_event

from bot.core.issue import parse_issue_url
from bot.core.payloads import payload_problem
from bot.intake.airtable_hook import HookView
from bot.intake.airtable_ping import KEEPER_KEY
from bot.intake.group_commit import GroupCommit
from bot.intake.journal import Journal
from bot.intake.journal_rows import NewDelivery
from bot.intake.worker import Worker
from bot.metrics import Metrics, event_label

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MiB
# Bodies above this size take their length from a shared byte budget before they are read,
# and are checked off the event loop.
LARGE_BODY_BYTES = 1024 * 1024
# One delivery of the largest size at a time (with room for a few of a few MiB): each costs
# about four times its size while it is checked (the bytes, the text, the objects), and its
# JSON decoding holds the GIL, so reading two at once gains nothing (bench_large_payloads).
LARGE_BODY_BUDGET_BYTES = 32 * 1024 * 1024
# How long a large delivery waits for room before it is refused: GitHub gives up on an
# answer after 10 s (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks).
LARGE_BODY_WAIT_SECONDS = 6.0
RETRY_AFTER_SECONDS = 30
JSON_TYPES = ("application/json", "application/x-www-form-urlencoded")
# A header longer than this (name and value) is refused with a JSON 400. aiohttp's parser
# answers plain text past its own limit, before any handler or middleware runs, so the server
# is run with HANDLER_ARGS: header fields up to MAX_HEADER_FIELD_BYTES reach the handler, and
# only past that does aiohttp answer itself. Fewer headers than aiohttp's default 128 keep a
# connection's headers within the 1 MiB that default allows (GitHub sends about 15).
HEADER_LIMIT_BYTES = 8 * 1024
MAX_HEADER_FIELD_BYTES = 16 * 1024
HANDLER_ARGS: dict[str, Any] = {"max_field_size": MAX_HEADER_FIELD_BYTES, "max_headers": 64}

JOURNAL_KEY = web.AppKey("journal", Journal)
WORKER_KEY = web.AppKey("worker", Worker)
METRICS_KEY = web.AppKey("metrics", Metrics)
SECRET_KEY = web.AppKey("webhook_secret", str)
INTAKE_KEY = web.AppKey("intake", GroupCommit[NewDelivery, bool])


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def issue_key_of(payload: dict[str, Any]) -> str | None:
    """The issue a delivery is about (for per-issue ordering), or None."""
    issue = payload.get("issue") or payload.get("parent_issue")
    if isinstance(issue, dict):
        ref = parse_issue_url(str(issue.get("html_url", "")))
        if ref is not None:
            return ref.key
    return None


class ByteBudget:
    """Bytes of large request bodies allowed in flight at once, shared by the requests.

    A request asks for its declared length before its body is read and gives it back once
    the delivery is journaled or refused. Waiters are served in arrival order, so a burst of
    large deliveries is read a few at a time instead of all at once; one that cannot get its
    bytes within the wait is refused (503) while its body is still unread on the socket.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    async def acquire(self, size: int, *, timeout: float) -> bool:
        """Take ``size`` bytes (at most ``limit``); False when they were not free in time."""
        size = min(size, self.limit)
        if not self._waiters and self.in_use + size <= self.limit:
            self.in_use += size
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (size, future)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._forget(waiter)
            return False
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(size)  # granted, then the request was cancelled
            else:
                self._forget(waiter)
            raise
        return True

    def _forget(self, waiter: tuple[int, asyncio.Future[None]]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
            self._grant()

    def release(self, size: int) -> None:
        """Give back bytes taken with :meth:`acquire`."""
        self.in_use -= min(size, self.limit)
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self.in_use + self._waiters[0][0] <= self.limit:
            size, future = self._waiters.popleft()
            if not future.done():
                self.in_use += size
                future.set_result(None)


BUDGET_KEY = web.AppKey("large_body_budget", ByteBudget)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every delivery: json.loads with an option builds a new one per call.
_STRICT_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def _verify(body: bytes, *, signature: str, secret: str, form: bool, charset: str | None) -> Any:
    """Check the delivery's HMAC over the whole body, then decode its JSON strictly.

    ``form``: the body is ``application/x-www-form-urlencoded`` with the JSON in ``payload``;
    ``charset`` is the Content-Type's (UTF-8 when None). Strictly: ``NaN`` and ``Infinity``
    (which Python's json accepts) are refused, and so is nesting too deep to decode
    (``RecursionError``): both raise ``ValueError``.
    """
    validate_event(body, signature=signature, secret=secret)
    if form:
        text = urllib.parse.parse_qs(body.decode("ascii"), strict_parsing=True)["payload"][0]
    else:
        text = body.decode(charset or "utf-8")
    try:
        return _STRICT_JSON.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


async def _read_large_body(request: web.Request) -> bytes | None:
    """The body read chunk by chunk; None as soon as it passes ``MAX_BODY_BYTES``."""
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


async def webhook(request: web.Request) -> web.Response:
    """Verify, journal and acknowledge one GitHub delivery.

    Bodies up to ``LARGE_BODY_BYTES`` are read and checked on the event loop, as before.
    Larger ones (or of unknown length) first take their length from the app's
    :class:`ByteBudget`, so only a bounded number of bytes is held at once; their HMAC check
    and JSON decoding run in a thread so that small deliveries keep being answered. A large
    delivery that finds no room within ``LARGE_BODY_WAIT_SECONDS`` is answered 503 with
    ``Retry-After``.
    """
    metrics = request.app[METRICS_KEY]
    # Until the signature is checked, nothing from the request names a metric label.
    label = "unknown"
    if any(len(k) + len(v) > HEADER_LIMIT_BYTES for k, v in request.raw_headers):
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        return _error(400, f"a header is longer than {HEADER_LIMIT_BYTES} bytes")
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        metrics.deliveries.labels(event=label, outcome="too_large").inc()
        return _error(413, f"payload larger than {MAX_BODY_BYTES} bytes")
    if request.content_type not in JSON_TYPES:
        metrics.deliveries.labels(event=label, outcome="bad_content_type").inc()
        return _error(415, "expected Content-Type: application/json")
    if declared is not None and declared <= LARGE_BODY_BYTES:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            metrics.deliveries.labels(event=label, outcome="too_large").inc()
            return _error(413, f"payload larger than {MAX_BODY_BYTES} bytes")
        return await _accept(request, body, offload=False)
    # GitHub always sends Content-Length; a body without one may be as large as allowed.
    reserved = MAX_BODY_BYTES if declared is None else declared
    budget = request.app[BUDGET_KEY]
    if not await budget.acquire(reserved, timeout=LARGE_BODY_WAIT_SECONDS):
        metrics.deliveries.labels(event=label, outcome="busy").inc()
        log.warning(
            "delivery %s: refused: %d bytes of large deliveries already in flight",
            request.headers.get("X-GitHub-Delivery", ""),
            budget.in_use,
        )
        return web.json_response(
            {"error": "too many large deliveries at once; try again later"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        large = await _read_large_body(request)
        if large is None:
            metrics.deliveries.labels(event=label, outcome="too_large").inc()
            return _error(413, f"payload larger than {MAX_BODY_BYTES} bytes")
        return await _accept(request, large, offload=True)
    finally:
        budget.release(reserved)


async def _accept(request: web.Request, body: bytes, *, offload: bool) -> web.Response:
    """Check the headers and signature of a read delivery, then journal it."""
    metrics = request.app[METRICS_KEY]
    event_name = request.headers.get("X-GitHub-Event", "")
    label = "unknown"
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event_name or not delivery_id:
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        return _error(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if len(delivery_id) > 100 or len(event_name) > 100:
        metrics.deliveries.labels(event="unknown", outcome="malformed").inc()
        return _error(400, "X-GitHub-Event or X-GitHub-Delivery header too long")
    # Only the SHA-256 signature counts: gidgethub would fall back to the SHA-1 header.
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not signature or not signature.isascii():
        metrics.deliveries.labels(event=label, outcome="bad_signature").inc()
        log.warning("delivery %s: refused: missing or malformed signature", delivery_id)
        return _error(401, "invalid or missing X-Hub-Signature-256 signature")
    # The Content-Type as aiohttp has already parsed it (one of JSON_TYPES, checked above).
    check = functools.partial(
        _verify,
        body,
        signature=signature,
        secret=request.app[SECRET_KEY],
        form=request.content_type == "application/x-www-form-urlencoded",
        charset=request.charset,
    )
    try:
        # Checks the X-Hub-Signature-256 HMAC (and refuses a delivery without one) before
        # anything in the body is trusted.
        data = await asyncio.to_thread(check) if offload else check()
    except ValidationFailure as exc:
        metrics.deliveries.labels(event=label, outcome="bad_signature").inc()
        log.warning("delivery %s: refused: %s", delivery_id, exc)
        return _error(401, "invalid or missing X-Hub-Signature-256 signature")
    except (BadRequest, ValueError, LookupError) as exc:
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        log.info("delivery %s: malformed: %s", delivery_id, exc)
        return _error(400, f"body is not a JSON object ({exc})")
    label = event_label(event_name)
    if not isinstance(data, dict):
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        return _error(400, "body is not a JSON object")
    problem = payload_problem(event_name, data)
    if problem is not None:
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        log.info("delivery %s: %s payload refused: %s", delivery_id, event_name, problem)
        return _error(400, f"{event_name} payload: {problem}")
    if event_name == "ping":
        metrics.deliveries.labels(event="ping", outcome="pong").inc()
        return web.json_response({"status": "pong"}, status=200)
    action = data.get("action") if isinstance(data.get("action"), str) else None
    if request.content_type != "application/json" or request.charset not in (None, "utf-8"):
        # Form-encoded or another charset: journal the decoded JSON as UTF-8.
        body = json.dumps(data, ensure_ascii=False).encode()
    entry = NewDelivery(delivery_id, event_name, action, body, issue_key_of(data))
    del data  # the decoded payload of a large body is not needed any more
    try:
        accepted = await request.app[INTAKE_KEY].submit(entry)
    except Exception:
        log.exception("delivery %s: could not be journaled", delivery_id)
        metrics.deliveries.labels(event=label, outcome="journal_error").inc()
        return _error(503, "the journal cannot be written; GitHub may redeliver later")
    if not accepted:
        metrics.deliveries.labels(event=label, outcome="duplicate").inc()
        return web.json_response({"status": "duplicate", "delivery": delivery_id}, status=200)
    metrics.deliveries.labels(event=label, outcome="accepted").inc()
    log.debug("delivery %s: %s.%s journaled", delivery_id, entry.event, action)
    request.app[WORKER_KEY].notify()
    return web.json_response({"status": "accepted", "delivery": delivery_id}, status=202)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process runs."""
    return web.json_response({"status": "ok"})


def _journal_summary(journal: Journal) -> dict[str, Any]:
    """Deliveries waiting (pending, processing) and failed, and the oldest failed one."""
    counts = journal.counts()
    oldest = journal.oldest_failed()
    summary: dict[str, Any] = {
        "pending": counts["pending"],
        "processing": counts["processing"],
        "failed": counts["failed"],
        "oldest_failed": None,
    }
    if oldest is not None:
        summary["oldest_failed"] = {
            "delivery": oldest["id"],
            "event": oldest["event"],
            "action": oldest["action"],
            "issue": oldest["issue_key"],
            "attempts": oldest["attempts"],
            "last_error": oldest["last_error"],
        }
    return summary


async def readyz(request: web.Request) -> web.Response:
    """200 when the journal is writable and the worker runs; 503 with the reason otherwise.

    Airtable or GitHub failing does not make the bot unready: the journal still takes
    deliveries, and a 503 would make GitHub's deliveries fail (it does not redeliver them).
    The body says instead which dependency is failing, since when and with what error, and
    how many deliveries wait or have failed.
    """
    journal = request.app[JOURNAL_KEY]
    health = request.app[METRICS_KEY].health
    problem = await asyncio.to_thread(journal.check_writable)
    if problem is None and not request.app[WORKER_KEY].running:
        problem = "the worker is not running"
    body: dict[str, Any] = {"status": "ready" if problem is None else "not ready"}
    if problem is not None:
        body["error"] = problem
    body["degraded"] = health.failing()
    body["dependencies"] = {name: s.as_json() for name, s in health.dependencies.items()}
    try:
        body["deliveries"] = await asyncio.to_thread(_journal_summary, journal)
    except Exception as exc:  # a closed or broken journal still gets its answer
        body["deliveries"] = {"error": f"{type(exc).__name__}: {exc}"}
    if request.app.get(KEEPER_KEY) is not None:
        try:
            hooks = await asyncio.to_thread(journal.hooks)
            body["airtable_webhooks"] = {
                row.base_id: HookView(row.base_id, row, None).as_json() for row in hooks
            }
        except Exception as exc:
            body["airtable_webhooks"] = {"error": f"{type(exc).__name__}: {exc}"}
    return web.json_response(body, status=200 if problem is None else 503)


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text, with the journal's queue depth and the dependencies' health read at
    scrape time."""
    metrics = request.app[METRICS_KEY]
    try:
        counts = await asyncio.to_thread(request.app[JOURNAL_KEY].counts)
    except Exception:
        log.exception("could not read the journal's queue depth")
    else:
        for state in ("pending", "processing", "failed"):
            metrics.queue_depth.labels(state=state).set(counts.get(state, 0))
    metrics.observe_health()
    return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})


METRICS_ELSEWHERE = "metrics are served on port {port} (METRICS_PORT), not on this one"


def metrics_app(*, journal: Journal, metrics: Metrics) -> web.Application:
    """An application serving only ``GET /metrics``, for its own site on ``METRICS_PORT``."""
    app = web.Application()
    app[JOURNAL_KEY] = journal
    app[METRICS_KEY] = metrics
    app.router.add_get("/metrics", metrics_view)
    return app


def add_routes(
    app: web.Application,
    *,
    journal: Journal,
    worker: Worker,
    metrics: Metrics,
    secret: str,
    metrics_port: int | None = None,
) -> None:
    """Mount the bot's routes and their dependencies on ``app``; with ``metrics_port``,
    ``/metrics`` answers 404 here (it is served on that port, :func:`metrics_app`)."""
    app[JOURNAL_KEY] = journal
    app[WORKER_KEY] = worker
    app[METRICS_KEY] = metrics
    app[SECRET_KEY] = secret
    app[INTAKE_KEY] = GroupCommit(journal.record_many)
    app[BUDGET_KEY] = ByteBudget(LARGE_BODY_BUDGET_BYTES)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics_port is None:
        app.router.add_get("/metrics", metrics_view)
    else:
        moved = METRICS_ELSEWHERE.format(port=metrics_port)

        async def metrics_elsewhere(request: web.Request) -> web.Response:
            return _error(404, moved)

        app.router.add_get("/metrics", metrics_elsewhere)
