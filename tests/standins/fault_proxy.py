"""A fault-injecting HTTP reverse proxy on 127.0.0.1, for tests where a server misbehaves.

:class:`FaultProxy` listens on a port of its own and forwards every request to an upstream
URL (the embedded Airtable, the GitHub stand-in, anything over HTTP/1.1). While it runs, a
test can tell it — from any thread — to misbehave for requests that match a method and a
path regex, a number of times, for a while, or until cleared::

    with LocalAirtable(seed="empty") as at, FaultProxy(at.url) as proxy:
        table = pyairtable.Api(at.token, endpoint_url=proxy.url).table(at.base_id, "Projects")
        proxy.fail(503, method="PATCH", path=r"/Projects$", times=None)  # until cleared
        proxy.fail(422, body=airtable_error("INVALID_VALUE_FOR_COLUMN", "..."))
        proxy.hang(path=r"/Projects$")            # accept, never answer (until cleared)
        proxy.delay(2.0, method="GET")            # answer, two seconds late
        proxy.storm_429(seconds=3)                # Airtable's rate-limit answer for 3 s
        proxy.drop(times=2)                       # close the socket without an answer
        proxy.refuse()                            # stop listening: connections are refused
        proxy.accept()                            # listen again, on the same port
        proxy.clear()                             # behave again
        proxy.stats()                             # what passed, what was faulted, and how

The choices it makes:

* Rules are tried oldest first; the first that matches a request takes it (and uses one of
  its ``times``). ``times=None`` means until :meth:`FaultProxy.clear`; ``seconds`` bounds a
  rule in time. ``path`` is a regex searched in the request's percent-decoded path, without
  the query string (``/v0/appX/Project Deliverables``); ``method`` None matches any.
* A status answer carries a JSON body. The default is Airtable's error form
  ``{"error": {"type": ..., "message": ...}}`` (https://airtable.com/developers/web/api/errors);
  a 429 carries Airtable's ``{"errors": [{"error": "RATE_LIMIT_REACHED", ...}]}``.
* A hang without ``seconds`` holds the request until the rule is cleared (or the proxy is
  refused or stopped), then closes the connection without an answer: the request is never
  forwarded. A delay forwards the request once its seconds have passed.
* A drop aborts the TCP connection (RST) as soon as the request has been read; nothing is
  forwarded. :meth:`FaultProxy.refuse` closes the listening socket and aborts every open
  connection, as a stopped server does; :meth:`FaultProxy.accept` listens again on the port.
* If the upstream cannot be reached, the proxy answers 502 (as a reverse proxy would); that
  is counted as ``upstream_errors``, not as a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.airtable_local.thread import START_TIMEOUT, ServerThread

CONTROL_TIMEOUT = 10.0
# How often a held request looks whether its hang was cleared.
HANG_POLL_SECONDS = 0.02
# Headers that belong to one connection, not to the message (RFC 9110 section 7.6.1), plus
# the framing headers that aiohttp sets again for the body it sends.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
RATE_LIMIT_BODY: Mapping[str, Any] = {
    "errors": [
        {"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}
    ]
}
# Default Airtable error types for the statuses a test is likely to inject.
AIRTABLE_ERROR_TYPES: Mapping[int, str] = {
    400: "INVALID_REQUEST_UNKNOWN",
    401: "AUTHENTICATION_REQUIRED",
    403: "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
    404: "NOT_FOUND",
    413: "REQUEST_TOO_LARGE",
    422: "INVALID_REQUEST_UNKNOWN",
    500: "SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def airtable_error(error_type: str, message: str) -> dict[str, Any]:
    """An error body in Airtable's form: ``{"error": {"type": ..., "message": ...}}``."""
    return {"error": {"type": error_type, "message": message}}


def default_error_body(status: int) -> dict[str, Any]:
    """The body the proxy answers ``status`` with when the rule gives none (Airtable's form)."""
    if status == 429:
        return dict(RATE_LIMIT_BODY)
    error_type = AIRTABLE_ERROR_TYPES.get(status, "SERVER_ERROR" if status >= 500 else "ERROR")
    return airtable_error(error_type, f"injected by the test's fault proxy ({status})")


@dataclass
class Rule:
    """One fault: which requests it takes, what it does to them, and how long it lasts."""

    kind: str  # "status", "hang", "delay", "drop"
    method: str | None
    pattern: re.Pattern[str]
    remaining: int | None
    expires_at: float | None
    status: int = 503
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float | None = None
    taken: int = 0
    active: bool = True

    def live(self, now: float) -> bool:
        """Whether the rule can still take requests."""
        if not self.active:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.expires_at is None or now < self.expires_at

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path is one the rule is about."""
        if self.method is not None and self.method != method:
            return False
        return self.pattern.search(path) is not None


@dataclass(frozen=True)
class Seen:
    """One request the proxy received, and what it did with it."""

    method: str
    path: str
    outcome: str  # "passed", "upstream-error", or the fault: "503", "hang", "delay", "drop"
    at: float


@dataclass(frozen=True)
class ProxyStats:
    """Counts of what the proxy did since it started (or since :meth:`FaultProxy.reset`)."""

    passed: int  # forwarded upstream and answered with upstream's answer (delays included)
    faulted: int  # answered with an injected status, held, dropped, or delayed
    by_outcome: Mapping[str, int]  # "passed", "429", "503", "hang", "delay", "drop", ...
    upstream_errors: int  # upstream unreachable: answered 502 by the proxy
    connections_aborted: int  # open connections closed by refuse() or stop()
    refusals: int  # times refuse() took the listener away


class FaultProxy:
    """A reverse proxy in a background thread that forwards to ``upstream`` and injects faults.

    Use it as a context manager or call :meth:`start` and :meth:`stop`. Every control method
    is thread-safe and may be called while clients are talking through the proxy.
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Prepare a proxy to ``upstream`` (``http://host:port``); nothing runs until started."""
        self._upstream = upstream.rstrip("/")
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._seen: list[Seen] = []
        self._counts: Counter[str] = Counter()
        self._aborted = 0
        self._refusals = 0
        self._server: ServerThread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._session: aiohttp.ClientSession | None = None
        self._transports: set[asyncio.Transport] = set()
        self._stopped = threading.Event()
        self._listening = False
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start listening; returns once the proxy accepts connections."""
        if self._server is not None:
            raise RuntimeError("already started")
        server = ServerThread("fault-proxy", self._setup, self._teardown)
        server.start(START_TIMEOUT)
        self._server = server
        return self

    def stop(self) -> None:
        """Stop the proxy: held requests end, open connections close, the port is freed."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopped.set()
        server.stop(START_TIMEOUT)

    def __enter__(self) -> FaultProxy:
        """Start the proxy for the ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the proxy."""
        self.stop()

    @property
    def port(self) -> int:
        """The port the proxy listens on (kept across :meth:`refuse` and :meth:`accept`)."""
        return self._port

    @property
    def upstream(self) -> str:
        """Where requests are forwarded."""
        with self._lock:
            return self._upstream

    @upstream.setter
    def upstream(self, url: str) -> None:
        """Forward to another server from the next request on (say, a restarted one)."""
        with self._lock:
            self._upstream = url.rstrip("/")

    @property
    def listening(self) -> bool:
        """Whether the proxy accepts connections now (False between refuse and accept)."""
        return self._listening

    # -- faults ------------------------------------------------------------------------

    def fail(
        self,
        status: int = 503,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = 1,
        seconds: float | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Rule:
        """Answer matching requests with ``status`` and a JSON body (default: Airtable's
        error form for that status) instead of forwarding them."""
        return self._add(
            "status",
            method,
            path,
            times,
            seconds,
            status=status,
            body=default_error_body(status) if body is None else body,
            headers=dict(headers or {}),
        )

    def storm_429(
        self,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = None,
        seconds: float | None = None,
    ) -> Rule:
        """A 429 storm: Airtable's rate-limit answer for every matching request, ``times``
        of them or for ``seconds`` (until cleared when neither is given)."""
        return self.fail(429, method=method, path=path, times=times, seconds=seconds)

    def hang(
        self,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = None,
    ) -> Rule:
        """Accept matching requests and never answer: each is held until the rule is cleared,
        then its connection is closed without an answer. Nothing is forwarded."""
        return self._add("hang", method, path, times, None)

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = 1,
    ) -> Rule:
        """Forward matching requests, but only after holding each for ``seconds``."""
        return self._add("delay", method, path, times, None, seconds=seconds)

    def drop(
        self,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = 1,
        seconds: float | None = None,
    ) -> Rule:
        """Close the connection of matching requests (TCP reset) without an answer."""
        return self._add("drop", method, path, times, seconds)

    def clear(self, rule: Rule | None = None) -> None:
        """Drop one rule (or every rule): matching requests are forwarded again, and requests
        held by a cleared hang have their connections closed."""
        with self._lock:
            targets = [rule] if rule is not None else list(self._rules)
            for target in targets:
                target.active = False
            self._rules = [r for r in self._rules if r.active]

    def refuse(self) -> None:
        """Stop listening and abort every open connection, as a stopped server: from now on
        connections to the port are refused until :meth:`accept`."""
        self._control(self._stop_listening())

    def accept(self) -> None:
        """Listen again on the same port after :meth:`refuse`."""
        self._control(self._start_listening())

    def _add(
        self,
        kind: str,
        method: str | None,
        path: str,
        times: int | None,
        lasts: float | None,
        **details: Any,
    ) -> Rule:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: until cleared)")
        rule = Rule(
            kind,
            method.upper() if method else None,
            re.compile(path),
            times,
            None if lasts is None else time.monotonic() + lasts,
            **details,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def _take(self, method: str, path: str) -> Rule | None:
        """The rule that takes this request (one of its uses consumed), or None."""
        now = time.monotonic()
        with self._lock:
            for rule in self._rules:
                if rule.live(now) and rule.matches(method, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.taken += 1
                    return rule
        return None

    # -- counters ----------------------------------------------------------------------

    def stats(self) -> ProxyStats:
        """What the proxy did so far."""
        with self._lock:
            counts = dict(self._counts)
            upstream_errors = counts.get("upstream-error", 0)
            return ProxyStats(
                passed=counts.get("passed", 0) + counts.get("delay", 0),
                faulted=sum(counts.values()) - counts.get("passed", 0) - upstream_errors,
                by_outcome=counts,
                upstream_errors=upstream_errors,
                connections_aborted=self._aborted,
                refusals=self._refusals,
            )

    def seen(self, method: str | None = None, path: str = "") -> list[Seen]:
        """The requests received (oldest first) with this method (None: any) whose path
        matches the regex ``path``."""
        pattern = re.compile(path)
        with self._lock:
            return [
                s
                for s in self._seen
                if (method is None or s.method == method.upper()) and pattern.search(s.path)
            ]

    def reset(self) -> None:
        """Forget the requests seen and set every counter back to zero (rules stay)."""
        with self._lock:
            self._seen.clear()
            self._counts.clear()
            self._aborted = 0
            self._refusals = 0

    def _note(self, method: str, path: str, outcome: str) -> None:
        with self._lock:
            self._seen.append(Seen(method, path, outcome, time.monotonic()))
            self._counts[outcome] += 1

    # -- the server, on the proxy's own loop -------------------------------------------

    def _control(self, coro: Any) -> None:
        """Run a coroutine on the proxy's loop from any thread and wait for it."""
        loop = self._server.loop if self._server is not None else None
        if loop is None:
            coro.close()
            raise RuntimeError("the fault proxy is not started")
        asyncio.run_coroutine_threadsafe(coro, loop).result(CONTROL_TIMEOUT)

    async def _setup(self) -> None:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        # No pooled upstream connections: the upstream may be stopped and started again.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
        )
        await self._start_listening()
        self.url = f"http://{self._host}:{self._port}"

    async def _teardown(self) -> None:
        await self._stop_listening(count=False)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _start_listening(self) -> None:
        if self._listening:
            return
        assert self._runner is not None
        # SO_REUSEADDR (set by create_server on POSIX): the port is bound again at once even
        # while connections closed by refuse() linger in TIME_WAIT.
        sock = socket.create_server((self._host, self._port))
        self._port = sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        self._listening = True

    async def _stop_listening(self, *, count: bool = True) -> None:
        if not self._listening:
            return
        self._listening = False
        if self._site is not None:
            await self._site.stop()  # closes the listening socket; the runner stays
            self._site = None
        with self._lock:
            transports = list(self._transports)
            self._transports.clear()
            if count:
                self._refusals += 1
                self._aborted += len(transports)
        for transport in transports:
            transport.abort()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            with self._lock:
                self._transports.add(transport)
        body = await request.read()
        method, path = request.method, request.path
        rule = self._take(method, path)
        if rule is None:
            return await self._forward(request, body, "passed")
        if rule.kind == "status":
            self._note(method, path, str(rule.status))
            return web.json_response(rule.body, status=rule.status, headers=rule.headers)
        if rule.kind == "delay":
            assert rule.seconds is not None
            await asyncio.sleep(rule.seconds)
            return await self._forward(request, body, "delay")
        if rule.kind == "hang":
            self._note(method, path, "hang")
            while rule.active and self._listening and not self._stopped.is_set():
                await asyncio.sleep(HANG_POLL_SECONDS)
        else:
            self._note(method, path, "drop")
        return self._abort(request)

    def _abort(self, request: web.Request) -> web.StreamResponse:
        """Close the connection with no answer (a TCP reset)."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: the close is a reset, as from a crashed peer or a middlebox.
                with contextlib.suppress(OSError):
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
            transport.abort()
        raise asyncio.CancelledError  # nothing is to be written on a closed connection

    async def _forward(self, request: web.Request, body: bytes, outcome: str) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        target = self.upstream + request.rel_url.raw_path_qs
        try:
            async with self._session.request(
                request.method, target, headers=headers, data=body, allow_redirects=False
            ) as answer:
                content = await answer.read()
                status = answer.status
                answer_headers = {
                    k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP
                }
        except aiohttp.ClientError as exc:
            self._note(request.method, request.path, "upstream-error")
            return web.json_response(
                {"error": {"type": "BAD_GATEWAY", "message": f"upstream unreachable: {exc}"}},
                status=502,
            )
        self._note(request.method, request.path, outcome)
        return web.Response(status=status, body=content, headers=answer_headers)
