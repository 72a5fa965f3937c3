"""``GitHubStandIn``: the state, auth, faults and delivery log served over real HTTP.

The server runs on its own event loop in a background thread
(:class:`~bot.airtable_local.thread.ServerThread`), so synchronous tests, asynchronous tests
and benchmark scripts can all point a real client at it. A middleware records every
request, applies injected delays and faults, decodes the JSON body once and renders
:class:`~tests.standins.github.answers.ApiError` as GitHub's JSON errors.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.airtable_local.thread import ServerThread
from tests.standins.github.actions import Actions
from tests.standins.github.answers import JSON_BODY, ApiError, error_response
from tests.standins.github.auth import Auth, app_private_key
from tests.standins.github.faults import Faults
from tests.standins.github.hooks import HookLog
from tests.standins.github.objects import (
    DEFAULT_ACCOUNT,
    DEFAULT_APP_ID,
    DEFAULT_APP_SLUG,
    DEFAULT_INSTALLATION_ID,
    DEFAULT_RATE_LIMIT,
)
from tests.standins.github.routes import ROUTES, Route
from tests.standins.github.state import Call

STOP_TIMEOUT = 10.0
MAX_BODY_BYTES = 25 * 1024**2


class GitHubStandIn(Actions, Auth, Faults, HookLog):
    """A local GitHub REST API for tests: real HTTP, real auth, scriptable state and faults.

    Use it as a context manager (``with GitHubStandIn() as gh:``) or call ``start()`` and
    ``stop()``. The state API (``add_issue``, ``update_issue``, ``set_permission``, ...) is
    thread-safe and may be called while clients talk to the server; it needs a started
    stand-in because the objects it returns carry the stand-in's URL.
    """

    def __init__(
        self,
        *,
        app_id: int = DEFAULT_APP_ID,
        installation_id: int = DEFAULT_INSTALLATION_ID,
        app_slug: str = DEFAULT_APP_SLUG,
        account: str = DEFAULT_ACCOUNT,
        token_lifetime: float = 3600.0,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        non_collaborator_permission: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure the stand-in; nothing runs until ``start()`` or ``with``."""
        super().__init__(
            app_id=app_id, installation_id=installation_id, app_slug=app_slug, account=account
        )
        self._init_auth(token_lifetime, non_collaborator_permission)
        self._init_faults(rate_limit)
        self._init_hook_log()
        self._host = host
        self._port = port
        self._server: ServerThread | None = None
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> GitHubStandIn:
        """Serve on a free port in a background thread; return once it accepts requests."""
        if self._server is not None:
            return self
        app_private_key()  # generate the key now, not during the first request
        server = ServerThread("github-standin", self._serve, self._cleanup)
        try:
            server.start()
        except BaseException as exc:
            raise RuntimeError("GitHubStandIn failed to start") from exc
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving and join the background thread (requests in flight are cut)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(STOP_TIMEOUT)

    close = stop

    def __enter__(self) -> GitHubStandIn:
        """Start the stand-in."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the stand-in."""
        self.stop()

    def _serving_loop(self) -> asyncio.AbstractEventLoop | None:
        return self._server.loop if self._server is not None else None

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY_BYTES)
        for route in ROUTES:
            app.router.add_route(route.method, route.path, self._endpoint(route))
        runner = self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- HTTP --------------------------------------------------------------------------

    def _endpoint(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            self.authenticate(request, route.auth)
            return await route.handler(self, request)

        return endpoint

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        raw = await request.read()
        payload: Any = None
        bad_json = False
        # The web pages of the manifest flow take HTML forms, not JSON.
        if raw and request.content_type != "application/x-www-form-urlencoded":
            try:
                payload = json.loads(raw)
            except ValueError:
                bad_json = True
        request[JSON_BODY] = payload
        method, path = request.method, request.path
        delay = self.record_call(Call(method, path, dict(request.query), payload))
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        fault = self.take_fault(method, path)
        try:
            if fault is not None:
                raise fault
            if bad_json:
                raise ApiError(400, "Problems parsing JSON")
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except web.HTTPException as exc:  # the router's 404 and 405
            response = error_response(ApiError(exc.status))
        for name, value in self.rate_headers().items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("x-github-media-type", "github.v3; format=json")
        response.headers.setdefault("x-github-request-id", secrets.token_hex(8).upper())
        return response
