"""The embedded Airtable in a background thread, for synchronous code: tests, benchmarks, ``serve``.

::

    with LocalAirtable(seed="demo", requests_per_second=None) as at:
        table = at.api().table(at.base_id, "Projects")   # real pyairtable, real HTTP
        table.all()
        at.store.rename_field(at.base_id, "Projects", "Status", "State")  # change the schema
        at.set_rate_limit(5, penalty_seconds=0.2)           # Airtable's limit, short penalty
        at.stats().requests                                 # requests the base received
        at.client_table("Projects").create({...})           # typed by a person (source client)
        at.api().base(at.base_id).add_webhook(url, spec)    # webhooks, pinged from the server
        at.wait_for_pings()                                 # until no ping is under way
        at.advance_clock(8 * 86400)                         # hooks expire, payloads age

Two tokens are accepted: ``token`` (the API user, ``publicApi``; :meth:`api`) and
``client_token`` (a person in Airtable's web app, ``client``; :meth:`client_api`). Writes
made on ``at.store`` directly are recorded as ``system``. ``at.clock`` is the
:class:`~bot.airtable_local.webhooks.AdjustableClock` the webhooks read; ``at.webhooks`` the
:class:`~bot.airtable_local.webhooks.WebhookRegistry` (while started).

The server listens on ``host`` (127.0.0.1) at a free port (or ``port``) and runs its own
event loop in a daemon thread; ``stop()`` (or leaving the ``with``) shuts it down and
closes the store if it opened it.

pyairtable's ORM (3.5) builds its own ``Api`` from ``Meta.api_key`` and has no endpoint
setting, so :func:`bind_models` gives model classes an ``Api`` pointed at this server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pyairtable
from aiohttp import web
from pyairtable.orm import Model

from bot.airtable_local import seeds
from bot.airtable_local.ratelimit import BaseStats, RateLimiter
from bot.airtable_local.server import (
    API_USER,
    CLIENT_USER,
    DEFAULT_MAX_BODY_BYTES,
    LOCAL_CLIENT_TOKEN,
    LOCAL_TOKEN,
    RUNNER_OPTIONS,
    Faults,
    make_app,
)
from bot.airtable_local.store import Store
from bot.airtable_local.webhooks import AdjustableClock, WebhookRegistry

START_TIMEOUT = 10.0


class ServerThread:
    """An asyncio event loop in a daemon thread that serves until stopped.

    ``setup`` runs first on the new loop (start a server there); :meth:`start` returns once
    it has finished and raises what it raised. :meth:`stop` stops the loop, runs
    ``teardown`` on it, cancels the tasks still pending, closes the loop and joins the thread.
    The embedded Airtable, the tests' fault proxy and GitHub stand-in all run this way.
    """

    def __init__(
        self,
        name: str,
        setup: Callable[[], Awaitable[None]],
        teardown: Callable[[], Awaitable[None]],
    ) -> None:
        """Prepare a thread called ``name``; nothing runs until :meth:`start`."""
        self.name = name
        self._setup = setup
        self._teardown = teardown
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Run ``setup`` on a new loop in a new thread and keep the loop running."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        loop = self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(loop, ready), name=self.name, daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):  # pragma: no cover - a hung start
            raise RuntimeError(f"{self.name} did not start within {timeout:g} s")
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self._thread.join()
            self._thread = self.loop = None
            raise failure

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:  # reported by start()
            self._failure = exc
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(self._teardown())
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loop and wait (up to ``timeout`` seconds, None: as long as it takes)."""
        thread, loop = self._thread, self.loop
        self._thread = self.loop = None
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed already
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)


def bind_models(api: pyairtable.Api, *models: type[Model]) -> None:
    """Make pyairtable ORM model classes send their requests through ``api``.

    ``Model.meta.api`` is a cached property built from ``Meta.api_key``; setting the cached
    value replaces it, so the models keep their ``Meta`` and talk to ``api``'s endpoint.
    """
    for model in models:
        model.meta.__dict__["api"] = api


class LocalAirtable:
    """The embedded Airtable-compatible server, running in a thread of this process."""

    def __init__(
        self,
        seed: str | None = "demo",
        *,
        db_path: str | os.PathLike[str] | None = None,
        store: Store | None = None,
        base_id: str | None = None,
        token: str = LOCAL_TOKEN,
        requests_per_second: float | None = 5,
        penalty_seconds: float = 30.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        host: str = "127.0.0.1",
        port: int = 0,
        client_token: str = LOCAL_CLIENT_TOKEN,
        ping_retries: int = 3,
        ping_backoff_seconds: float = 0.1,
        ping_timeout_seconds: float = 5.0,
    ) -> None:
        """Prepare a server over ``store`` (or a new one at ``db_path``, default memory).

        ``seed`` ("demo", "empty" or None) is created unless the store has that base
        already; ``base_id`` picks its id. ``requests_per_second`` of None turns the rate
        limit off. ``token`` is the API user's, ``client_token`` the person's (see
        :meth:`client_api`). A failed webhook ping is retried ``ping_retries`` times, after
        ``ping_backoff_seconds``, doubling, each attempt given ``ping_timeout_seconds``.
        Nothing runs until :meth:`start` (or ``with``).
        """
        self._owns_store = store is None
        self.store = store if store is not None else Store(db_path or ":memory:")
        try:
            self.base_id: str | None = self.seed(seed, base_id=base_id) if seed else base_id
        except BaseException:
            if self._owns_store:
                self.store.close()
            raise
        self.token = token
        self.client_token = client_token
        self.clock = AdjustableClock()
        self.webhooks: WebhookRegistry | None = None
        self._ping_retries = ping_retries
        self._ping_backoff_seconds = ping_backoff_seconds
        self._ping_timeout_seconds = ping_timeout_seconds
        self.limiter = RateLimiter(requests_per_second, penalty_seconds)
        self.faults = Faults()
        self._max_body_bytes = max_body_bytes
        self._host = host
        self._port = port
        self.url = ""
        self._server: ServerThread | None = None

    def start(self) -> LocalAirtable:
        """Start serving; returns once the server accepts connections."""
        if self._server is not None:
            raise RuntimeError("already started")
        sock = socket.create_server((self._host, self._port))
        port = sock.getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        webhooks = WebhookRegistry(
            self.store,
            clock=self.clock,
            ping_retries=self._ping_retries,
            ping_backoff_seconds=self._ping_backoff_seconds,
            ping_timeout_seconds=self._ping_timeout_seconds,
        )
        app = make_app(
            self.store,
            token=self.token,
            max_body_bytes=self._max_body_bytes,
            limiter=self.limiter,
            faults=self.faults,
            users={self.token: API_USER, self.client_token: CLIENT_USER},
            webhooks=webhooks,
        )
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5, **RUNNER_OPTIONS)

        async def setup() -> None:
            try:
                await runner.setup()
                await web.SockSite(runner, sock).start()
            except BaseException:  # pragma: no cover - reported by start()
                sock.close()
                raise

        server = ServerThread(f"local-airtable-{port}", setup, runner.cleanup)
        try:
            server.start()
        except BaseException:  # pragma: no cover - a failed start
            webhooks.close()
            raise
        self._server = server
        self.webhooks = webhooks
        return self

    def stop(self) -> None:
        """Stop serving (waiting for requests in flight) and close the store if it is ours."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        webhooks, self.webhooks = self.webhooks, None
        if webhooks is not None:
            webhooks.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> LocalAirtable:
        """Start the server for the ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    def seed(self, name: str, *, base_id: str | None = None) -> str:
        """Create another seed base in this server's store (see :func:`seeds.seed`); its id."""
        return seeds.seed(self.store, name, base_id=base_id)

    def api(self, *, retry_strategy: Any = None, **kwargs: Any) -> pyairtable.Api:
        """A pyairtable ``Api`` for this server (no retries unless asked for)."""
        return pyairtable.Api(
            self.token, endpoint_url=self.url, retry_strategy=retry_strategy, **kwargs
        )

    def table(self, name: str, *, base_id: str | None = None) -> pyairtable.Table:
        """A pyairtable ``Table`` of the seeded base (or of ``base_id``)."""
        base = base_id or self.base_id
        if base is None:
            raise ValueError("no base: seed one or give base_id")
        return self.api().table(base, name)

    def client_api(self, *, retry_strategy: Any = None, **kwargs: Any) -> pyairtable.Api:
        """A pyairtable ``Api`` for the person using the web app (changes: source ``client``)."""
        return pyairtable.Api(
            self.client_token, endpoint_url=self.url, retry_strategy=retry_strategy, **kwargs
        )

    def client_table(self, name: str, *, base_id: str | None = None) -> pyairtable.Table:
        """A ``Table`` as the person's web app would change it (see :meth:`client_api`)."""
        base = base_id or self.base_id
        if base is None:
            raise ValueError("no base: seed one or give base_id")
        return self.client_api().table(base, name)

    def advance_clock(self, seconds: float) -> None:
        """Move the webhooks' clock forward: hooks expire, payloads age (never back)."""
        self.clock.advance(seconds)

    def expire_webhook(self, webhook_id: str) -> None:
        """Make one webhook expire now (KeyError if there is no such hook)."""
        self._registry().expire(webhook_id)

    def wait_for_pings(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook ping is due or under way, retries included; False on timeout."""
        return self._registry().wait_for_pings(timeout)

    def _registry(self) -> WebhookRegistry:
        if self.webhooks is None:
            raise RuntimeError("the server is not started")
        return self.webhooks

    def bind_models(self, *models: type[Model]) -> pyairtable.Api:
        """Point ORM model classes at this server (see :func:`bind_models`); the Api used."""
        api = self.api()
        bind_models(api, *models)
        return api

    def set_rate_limit(
        self, requests_per_second: float | None, penalty_seconds: float | None = None
    ) -> None:
        """Change the per-base limit (None: off) and the penalty after a 429, at run time."""
        self.limiter.configure(requests_per_second, penalty_seconds)

    def inject(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (to test the bot's retries)."""
        self.faults.inject(status, times)

    def stats(self, base_id: str | None = None) -> BaseStats:
        """Requests received and 429s answered for the seeded base (or ``base_id``)."""
        base = base_id or self.base_id
        if base is None:
            raise ValueError("no base: seed one or give base_id")
        return self.limiter.stats(base)

    def reset_stats(self) -> None:
        """Set the request counts back to zero."""
        self.limiter.reset_stats()
