"""HTTP routes: ``POST /webhook``, ``/healthz``, ``/readyz`` and ``/metrics``.

A delivery is checked (size, content type, headers, HMAC signature, JSON), written to the
journal, and answered 202 before any work is done; the worker takes it from there. Every
refusal is a JSON ``{"error": ...}`` with its status, and a refused delivery is not
journaled. Work for GitHub's 10-second answer window is kept to one SQLite insert.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, sansio

from bot.group_commit import GroupCommit
from bot.issues import parse_issue_url
from bot.journal import Journal, NewDelivery
from bot.metrics import Metrics
from bot.worker import Worker

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MiB
JSON_TYPES = ("application/json", "application/x-www-form-urlencoded")

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


async def webhook(request: web.Request) -> web.Response:
    """Verify, journal and acknowledge one GitHub delivery."""
    metrics = request.app[METRICS_KEY]
    event_name = request.headers.get("X-GitHub-Event", "")
    # Until the signature is checked, nothing from the request names a metric label.
    label = "unknown"
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        metrics.deliveries.labels(event=label, outcome="too_large").inc()
        return _error(413, f"payload larger than {MAX_BODY_BYTES} bytes")
    if request.content_type not in JSON_TYPES:
        metrics.deliveries.labels(event=label, outcome="bad_content_type").inc()
        return _error(415, "expected Content-Type: application/json")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        metrics.deliveries.labels(event=label, outcome="too_large").inc()
        return _error(413, f"payload larger than {MAX_BODY_BYTES} bytes")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event_name or not delivery_id:
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        return _error(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if len(delivery_id) > 100 or len(event_name) > 100:
        metrics.deliveries.labels(event="unknown", outcome="malformed").inc()
        return _error(400, "X-GitHub-Event or X-GitHub-Delivery header too long")
    # Only the SHA-256 signature counts: gidgethub would fall back to the SHA-1 header.
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "x-hub-signature"}
    signature = headers.get("x-hub-signature-256", "")
    if not signature or not signature.isascii():
        metrics.deliveries.labels(event=label, outcome="bad_signature").inc()
        log.warning("delivery %s: refused: missing or malformed signature", delivery_id)
        return _error(401, "invalid or missing X-Hub-Signature-256 signature")
    try:
        # Checks the X-Hub-Signature-256 HMAC (and refuses a delivery without one) before
        # anything in the body is trusted.
        event = sansio.Event.from_http(headers, body, secret=request.app[SECRET_KEY])
    except ValidationFailure as exc:
        metrics.deliveries.labels(event=label, outcome="bad_signature").inc()
        log.warning("delivery %s: refused: %s", delivery_id, exc)
        return _error(401, "invalid or missing X-Hub-Signature-256 signature")
    except (BadRequest, ValueError, LookupError) as exc:
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        log.info("delivery %s: malformed: %s", delivery_id, exc)
        return _error(400, "body is not a JSON object")
    label = event.event
    if not isinstance(event.data, dict):
        metrics.deliveries.labels(event=label, outcome="malformed").inc()
        return _error(400, "body is not a JSON object")
    if event.event == "ping":
        metrics.deliveries.labels(event="ping", outcome="pong").inc()
        return web.json_response({"status": "pong"}, status=200)
    payload = event.data
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    if request.content_type != "application/json" or request.charset not in (None, "utf-8"):
        # Form-encoded or another charset: journal the decoded JSON as UTF-8.
        body = json.dumps(payload, ensure_ascii=False).encode()
    entry = NewDelivery(delivery_id, event.event, action, body, issue_key_of(payload))
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
    log.debug("delivery %s: %s.%s journaled", delivery_id, event.event, action)
    request.app[WORKER_KEY].notify()
    return web.json_response({"status": "accepted", "delivery": delivery_id}, status=202)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process runs."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the journal is writable and the worker runs; 503 with the reason otherwise."""
    problem = await asyncio.to_thread(request.app[JOURNAL_KEY].check_writable)
    if problem is None and not request.app[WORKER_KEY].running:
        problem = "the worker is not running"
    if problem is not None:
        return web.json_response({"status": "not ready", "error": problem}, status=503)
    return web.json_response({"status": "ready"})


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text, with the journal's queue depth read at scrape time."""
    metrics = request.app[METRICS_KEY]
    try:
        counts = await asyncio.to_thread(request.app[JOURNAL_KEY].counts)
    except Exception:
        log.exception("could not read the journal's queue depth")
    else:
        for state in ("pending", "processing", "failed"):
            metrics.queue_depth.labels(state=state).set(counts.get(state, 0))
    return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})


def add_routes(
    app: web.Application, *, journal: Journal, worker: Worker, metrics: Metrics, secret: str
) -> None:
    """Mount the bot's routes and their dependencies on ``app``."""
    app[JOURNAL_KEY] = journal
    app[WORKER_KEY] = worker
    app[METRICS_KEY] = metrics
    app[SECRET_KEY] = secret
    app[INTAKE_KEY] = GroupCommit(journal.record_many)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
