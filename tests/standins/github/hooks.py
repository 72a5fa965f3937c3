"""The App's webhook delivery log: deliveries GitHub sent (or tried to send) to the App.

https://docs.github.com/en/rest/apps/webhooks: GitHub logs every attempt to deliver a
webhook to the App's URL. ``GET /app/hook/deliveries`` lists the log newest first (App JWT,
``per_page`` up to 100, pagination by an opaque ``cursor`` carried in the Link header's
``rel="next"`` and ``rel="prev"`` URLs); ``GET /app/hook/deliveries/{id}`` adds the url, the
request (headers, payload) and the response (headers, payload); ``POST .../{id}/attempts``
redelivers (202), which logs a new attempt with the same guid and ``redelivery: true``.

State API: ``configure_hook`` (the App's webhook URL and secret), ``send_delivery`` (really
POST a signed delivery to that URL and log what happened: ``status_code`` 0, "failed to
connect", while nothing listens there), ``log_delivery`` (log an attempt without sending
it), ``hook_deliveries``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp

from tests.standins.github.answers import ApiError
from tests.standins.github.objects import JsonDict, timestamp
from tests.standins.github.state import UNSET, State, Unset

HOOKSHOT_USER_AGENT = "GitHub-Hookshot/8e4d3a7"
HOOK_ID = 498_271_003


class Outcome(NamedTuple):
    """What came of one delivery attempt (``status`` None: from ``status_code``)."""

    status_code: int
    status: str | None
    delivered_at: float | str | None
    duration: float
    response_headers: Mapping[str, str]
    response_body: str


def _new_guid() -> str:
    return str(uuid.uuid4())


def _encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _action_of(payload: Mapping[str, Any]) -> str | None:
    action = payload.get("action")
    return action if isinstance(action, str) else None


def _status_text(status_code: int) -> str:
    if 200 <= status_code < 300:
        return "OK"
    if status_code == 0:
        return "failed to connect"
    return f"Invalid HTTP Response: {status_code}"


def _hook_request_headers(
    event: str, guid: str, body: bytes, secret: str | None, app_id: int
) -> dict[str, str]:
    """The headers GitHub sends with a delivery (and shows in its log), signed when it can."""
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT_USER_AGENT,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(HOOK_ID),
        "X-GitHub-Hook-Installation-Target-ID": str(app_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    if secret is not None:
        key = secret.encode("utf-8")
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return headers


def hook_list_item(entry: Mapping[str, Any]) -> JsonDict:
    """A logged delivery as the list shows it: without url, request and response."""
    return {k: v for k, v in entry.items() if k not in ("url", "request", "response")}


class HookLog(State):
    """The webhook URL and secret of the App, and the log of its delivery attempts."""

    def _init_hook_log(self) -> None:
        self._hook_url: str | None = None
        self._hook_secret: str | None = None
        self._hook_log: list[JsonDict] = []  # oldest first; each in the single-delivery form
        self._hook_log_ids = itertools.count(12_000_000_001)
        self._hook_sends: set[asyncio.Task[JsonDict]] = set()

    def _serving_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the stand-in serves on (None until it is started)."""
        raise NotImplementedError

    def configure_hook(self, url: str | None, secret: str | None = None) -> None:
        """Set the App's webhook URL (``None``: none) and the secret deliveries are signed with."""
        with self.lock:
            self._hook_url = url
            self._hook_secret = secret

    def _hook_target(self, event: str, guid: str, body: bytes) -> tuple[str, dict[str, str]]:
        """Where a delivery goes ("" when no URL is set) and the headers it is sent with."""
        with self.lock:
            url, secret = self._hook_url, self._hook_secret
        return url or "", _hook_request_headers(event, guid, body, secret, self.app_id)

    def log_delivery(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        action: str | Unset | None = UNSET,
        status_code: int = 0,
        status: str | None = None,
        guid: str | None = None,
        redelivery: bool = False,
        delivered_at: float | str | None = None,
        duration: float = 0.0,
        response_body: str = "",
    ) -> JsonDict:
        """Log that GitHub tried to deliver ``payload`` and what came of it (nothing is sent);
        return the entry as ``GET /app/hook/deliveries`` lists it.

        ``status_code`` 0 is GitHub's "no HTTP answer" (``status`` then defaults to "failed to
        connect"); 2xx is ``OK``; anything else ``Invalid HTTP Response: N``. ``action``
        defaults to the payload's. ``guid`` (the ``X-GitHub-Delivery``) defaults to a new one.
        """
        body = _encode(payload)
        guid = guid or _new_guid()
        url, headers = self._hook_target(event, guid, body)
        response_headers = {"Content-Type": "application/json"} if status_code else {}
        outcome = Outcome(
            status_code, status, delivered_at, duration, response_headers, response_body
        )
        action = _action_of(payload) if isinstance(action, Unset) else action
        return self._log_attempt(event, action, body, guid, redelivery, url, headers, outcome)

    def send_delivery(
        self, event: str, payload: Mapping[str, Any], *, guid: str | None = None
    ) -> concurrent.futures.Future[JsonDict]:
        """POST a signed delivery to the App's webhook URL as GitHub does (10 s timeout), log
        the attempt and its outcome, and resolve to the logged entry (list form).

        Runs on the stand-in's own loop: from async code ``await asyncio.wrap_future(...)``,
        from sync code ``.result()``.
        """
        loop = self._serving_loop()
        if loop is None:
            raise RuntimeError("GitHubStandIn is not started")
        send = self._send_hook(
            event, _action_of(payload), _encode(payload), guid or _new_guid(), redelivery=False
        )
        return asyncio.run_coroutine_threadsafe(send, loop)

    def hook_deliveries(self) -> list[JsonDict]:
        """The delivery log as ``GET /app/hook/deliveries`` lists it, newest first."""
        with self.lock:
            return [hook_list_item(entry) for entry in reversed(self._hook_log)]

    def hook_entry(self, delivery_id: int) -> JsonDict:
        """One logged delivery in its full form; 404 if there is none with that id."""
        with self.lock:
            for entry in self._hook_log:
                if entry["id"] == delivery_id:
                    return entry
        raise ApiError(404)

    def redeliver(self, entry: Mapping[str, Any]) -> None:
        """Send a logged delivery again, in the background of the serving loop."""
        body = _encode(entry["request"]["payload"])
        task = asyncio.create_task(
            self._send_hook(entry["event"], entry["action"], body, entry["guid"], redelivery=True)
        )
        self._hook_sends.add(task)
        task.add_done_callback(self._hook_sends.discard)

    def _log_attempt(
        self,
        event: str,
        action: str | None,
        body: bytes,
        guid: str,
        redelivery: bool,
        url: str,
        request_headers: Mapping[str, str],
        outcome: Outcome,
    ) -> JsonDict:
        payload = json.loads(body)
        status = outcome.status
        if status is None:
            status = _status_text(outcome.status_code)
        installation = payload.get("installation")
        repository = payload.get("repository")
        with self.lock:
            entry: JsonDict = {
                "id": next(self._hook_log_ids),
                "guid": guid,
                "delivered_at": timestamp(outcome.delivered_at),
                "redelivery": redelivery,
                "duration": round(outcome.duration, 2),
                "status": status,
                "status_code": outcome.status_code,
                "event": event,
                "action": action,
                "installation_id": installation.get("id")
                if isinstance(installation, dict)
                else None,
                "repository_id": repository.get("id") if isinstance(repository, dict) else None,
                "throttled_at": None,
                "url": url,
                "request": {"headers": dict(request_headers), "payload": payload},
                "response": {
                    "headers": dict(outcome.response_headers),
                    "payload": outcome.response_body,
                },
            }
            self._hook_log.append(entry)
            return hook_list_item(entry)

    async def _send_hook(
        self, event: str, action: str | None, body: bytes, guid: str, *, redelivery: bool
    ) -> JsonDict:
        """Deliver ``body`` to the hook URL (on the stand-in's loop) and log the attempt."""
        url, headers = self._hook_target(event, guid, body)
        status_code, response_headers, response_body = 0, {}, ""
        status: str | None = "failed to connect"
        started = time.monotonic()
        if url:
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                    session.post(url, data=body, headers=headers) as response,
                ):
                    status_code = response.status
                    status = "OK" if 200 <= status_code < 300 else None
                    response_headers = dict(response.headers)
                    response_body = await response.text(errors="replace")
            except TimeoutError:
                status = "timed out"
            except aiohttp.ClientConnectionError:
                status = "failed to connect"
        outcome = Outcome(
            status_code,
            status,
            None,
            time.monotonic() - started,
            response_headers,
            response_body,
        )
        return self._log_attempt(event, action, body, guid, redelivery, url, headers, outcome)
