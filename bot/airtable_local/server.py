"""The HTTP side of the embedded Airtable: the routes pyairtable calls, over a :class:`Store`.

Routes (https://airtable.com/developers/web/api/introduction), tables by name or id:

============================================  =================================================
``GET  /v0/{base}/{table}``                   list records (query-string options)
``POST /v0/{base}/{table}/listRecords``       list records (options in the body)
``GET  /v0/{base}/{table}/{record}``          one record
``POST /v0/{base}/{table}``                   create one (``fields``) or up to 10 (``records``)
``PATCH|PUT /v0/{base}/{table}``              update up to 10, or upsert (``performUpsert``)
``PATCH|PUT /v0/{base}/{table}/{record}``     update one; PUT clears the fields not given
``DELETE /v0/{base}/{table}``                 delete up to 10 (``records[]=...``)
``DELETE /v0/{base}/{table}/{record}``        delete one
``GET  /v0/meta/bases/{base}/tables``         the base's schema
``POST /v0/meta/bases/{base}/tables``         create a table (:mod:`meta_routes`)
``POST …/tables/{table}/fields``              create a field; ``PATCH …/fields/{id}`` rename it
``GET  /v0/meta/bases``                       the bases the token sees
``GET  /v0/meta/whoami``                      the token's user
``POST|GET /v0/bases/{base}/webhooks``        create, list webhooks (:mod:`webhook_routes`)
``DELETE /v0/bases/{base}/webhooks/{id}``     delete a webhook
``POST …/webhooks/{id}/refresh``              extend its life by 7 days
``POST …/webhooks/{id}/enableNotifications``  turn its pings on or off
``GET  …/webhooks/{id}/payloads``             its payloads, from ``cursor`` on
============================================  =================================================

Every request needs ``Authorization: Bearer TOKEN`` (401 otherwise). The tokens accepted
are ``make_app``'s ``users`` (token to :class:`~bot.airtable_local.webhooks.LocalUser`);
by default the server's token (``AIRTABLE_TOKEN`` or ``local``), standing for the API user
:data:`API_USER` (changes recorded as source ``publicApi``), and
:data:`LOCAL_CLIENT_TOKEN`, standing for :data:`CLIENT_USER`, a person using Airtable's web
app (changes recorded as source ``client``; :func:`run` accepts it only beside the
well-known ``local``). Webhook payloads and pings are :mod:`webhooks`'. Requests to a base
count against its rate limit (:mod:`ratelimit`; 429), but a person's in the web app do not:
Airtable's limit is the API's. Bodies over ``max_body_bytes`` get
413, URLs over Airtable's 16,000 characters 414, and bodies that are not JSON 400.
Everything else an Airtable client can get wrong is answered 422 by the store, in
Airtable's error shapes (:mod:`errors`).

:func:`make_app` builds the ``aiohttp`` application; :func:`run` serves it (the
``deliverables-bot airtable-local`` command).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from aiohttp import web

from bot.airtable_local import errors, seeds
from bot.airtable_local.bodies import json_body
from bot.airtable_local.meta_routes import add_meta_routes
from bot.airtable_local.query import ListQuery
from bot.airtable_local.ratelimit import RateLimiter
from bot.airtable_local.store import Store
from bot.airtable_local.webhook_routes import WEBHOOKS_KEY, add_webhook_routes
from bot.airtable_local.webhooks import ACTING_AS, LocalUser, WebhookRegistry

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Airtable refuses URLs over 16,000 characters (pyairtable switches to POST .../listRecords
# before that); aiohttp's own limit on the request line, 8190 bytes, must be raised above it.
# https://support.airtable.com/docs/enforcement-of-url-length-limit-for-web-api-requests
MAX_URL_LENGTH = 16_000
RUNNER_OPTIONS: dict[str, Any] = {"access_log": None, "max_line_size": 4 * MAX_URL_LENGTH}
LOCAL_TOKEN = "local"
LOCAL_USER_ID = "usrLocalAirtable0"
LOCAL_CLIENT_TOKEN = "local-client"
LOCAL_CLIENT_USER_ID = "usrLocalPerson01"
API_USER = LocalUser(LOCAL_USER_ID, "api@airtable.local", "Local API", source="publicApi")
"""Who the server's token stands for: an integration calling the Web API."""
CLIENT_USER = LocalUser(
    LOCAL_CLIENT_USER_ID, "person@airtable.local", "Local Person", source="client"
)
"""Who :data:`LOCAL_CLIENT_TOKEN` stands for: a person typing in Airtable's web app."""
USERS_KEY: web.AppKey[dict[str, LocalUser]] = web.AppKey("users")
SCOPES = [
    "data.records:read",
    "data.records:write",
    "schema.bases:read",
    "schema.bases:write",
    "webhook:manage",
]
STORE_KEY = web.AppKey("store", Store)
LIMITER_KEY = web.AppKey("limiter", RateLimiter)
FAULTS_KEY: web.AppKey[Faults] = web.AppKey("faults")
CREATE_KEYS = frozenset({"fields", "records", "typecast", "returnFieldsByFieldId"})
UPDATE_ONE_KEYS = frozenset({"fields", "typecast", "returnFieldsByFieldId"})
UPDATE_KEYS = frozenset({"records", "typecast", "returnFieldsByFieldId", "performUpsert"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def default_token() -> str:
    """The token to accept when none is given: ``AIRTABLE_TOKEN``, else ``local``."""
    return os.environ.get("AIRTABLE_TOKEN") or LOCAL_TOKEN


class Faults:
    """Failures to answer on purpose (tests only): the next ``times`` requests get ``status``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[list[int]] = []

    def inject(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` authenticated requests with ``status``."""
        with self._lock:
            self._pending.append([status, times])

    def clear(self) -> None:
        """Answer normally again."""
        with self._lock:
            self._pending.clear()

    def take(self) -> int | None:
        """The status to answer this request with, or None to serve it."""
        with self._lock:
            if not self._pending:
                return None
            status = self._pending[0][0]
            self._pending[0][1] -= 1
            if self._pending[0][1] <= 0:
                self._pending.pop(0)
            return status


def make_app(
    store: Store,
    *,
    token: str = LOCAL_TOKEN,
    requests_per_second: float | None = 5,
    penalty_seconds: float = 30.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    limiter: RateLimiter | None = None,
    faults: Faults | None = None,
    users: dict[str, LocalUser] | None = None,
    webhooks: WebhookRegistry | None = None,
) -> web.Application:
    """The Airtable-compatible application over ``store``.

    ``token`` is the bearer token of the API user; ``users`` (token to user), if given,
    replaces the default ``{token: API_USER, LOCAL_CLIENT_TOKEN: CLIENT_USER}``.
    ``requests_per_second`` (None or 0: no limit) and ``penalty_seconds`` set the per-base
    rate limit, unless a ``limiter`` is given (``app[LIMITER_KEY]`` is the one in use, for
    its counts and to change the limit). ``webhooks`` is the registry of the store's
    webhooks (``app[WEBHOOKS_KEY]``); without one the app makes its own and closes it at
    cleanup. The app starts the registry's pings at start-up and stops them at cleanup.
    """
    limiter = limiter or RateLimiter(requests_per_second, penalty_seconds)
    faults = faults or Faults()
    if users is None:
        users = {token: API_USER, LOCAL_CLIENT_TOKEN: CLIENT_USER}
    expected = [(f"Bearer {key}".encode(), user) for key, user in users.items()]
    owns_webhooks = webhooks is None
    registry = webhooks if webhooks is not None else WebhookRegistry(store)

    @web.middleware
    async def airtable_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.AirtableError as exc:
            return _json(exc.body(), status=exc.status)
        except web.HTTPRequestEntityTooLarge:
            return _error(errors.request_too_large(max_body_bytes))
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return _error(errors.not_found())
        except web.HTTPException:
            raise
        except Exception:
            logger.exception("%s %s failed", request.method, request.path)
            return _json({"error": {"type": "SERVER_ERROR", "message": "Server error"}}, 500)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        user = None
        for candidate, candidate_user in expected:
            if hmac.compare_digest(given, candidate):
                user = candidate_user
        if user is None:
            raise errors.authentication_required()
        acting = ACTING_AS.set(user)
        try:
            return await handler(request)
        finally:
            ACTING_AS.reset(acting)

    @web.middleware
    async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        status = faults.take()
        if status is not None:
            body = {"error": {"type": "SERVICE_UNAVAILABLE", "message": "injected fault"}}
            return _json(body, status=status)
        return await handler(request)

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_body_bytes:
            raise errors.request_too_large(max_body_bytes)
        url_length = len(request.scheme) + len("://") + len(request.host) + len(request.raw_path)
        if url_length > MAX_URL_LENGTH:
            raise errors.url_too_long(MAX_URL_LENGTH)
        base_id = request.match_info.get("base")
        user = ACTING_AS.get()
        # A person in Airtable's web app is not API traffic: the 5 requests/s are the API's.
        web_app = user is not None and user.source == "client"
        if base_id is not None and not web_app and not limiter.admit(base_id):
            return _json(errors.rate_limited_body(), status=429)
        return await handler(request)

    app = web.Application(
        middlewares=[airtable_errors, authenticate, inject_faults, limit],
        client_max_size=max_body_bytes,
    )
    app[STORE_KEY] = store
    app[LIMITER_KEY] = limiter
    app[FAULTS_KEY] = faults
    app[USERS_KEY] = dict(users)
    app[WEBHOOKS_KEY] = registry

    async def start_pings(app: web.Application) -> None:
        await registry.start()

    async def stop_pings(app: web.Application) -> None:
        await registry.stop()
        if owns_webhooks:
            registry.close()

    app.on_startup.append(start_pings)
    app.on_cleanup.append(stop_pings)
    add_webhook_routes(app)  # before /v0/{base}/{table}/{record}, which matches its paths
    app.router.add_get("/v0/meta/whoami", whoami)
    app.router.add_get("/v0/meta/bases", list_bases)
    app.router.add_get("/v0/meta/bases/{base}/tables", base_schema)
    add_meta_routes(app, store)
    app.router.add_post("/v0/{base}/{table}/listRecords", list_records_post)
    table_routes = {
        "GET": list_records_get,
        "POST": create_records,
        "PATCH": update_records,
        "PUT": update_records,
        "DELETE": delete_records,
    }
    record_routes = {
        "GET": get_record,
        "PATCH": update_record,
        "PUT": update_record,
        "DELETE": delete_record,
    }
    for path, handlers in (
        ("/v0/{base}/{table}", table_routes),
        ("/v0/{base}/{table}/{record}", record_routes),
    ):
        for method, handler in handlers.items():
            if method == "GET":
                app.router.add_get(path, handler)  # and HEAD, as for the routes above
            else:
                app.router.add_route(method, path, handler)
    return app


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _error(error: errors.AirtableError) -> web.Response:
    return _json(error.body(), status=error.status)


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.invalid_request(f"{key} must be a boolean")
    return value


def _query_flag(request: web.Request, key: str) -> bool:
    return request.query.get(key, "").lower() in ("1", "true")


async def whoami(request: web.Request) -> web.Response:
    """``GET /v0/meta/whoami``: the user behind the token."""
    user = ACTING_AS.get() or API_USER  # the authenticate middleware set it
    return _json({"id": user.id, "scopes": list(SCOPES)})


async def list_bases(request: web.Request) -> web.Response:
    """``GET /v0/meta/bases``: every base of the store."""
    store = request.app[STORE_KEY]
    bases = [
        {"id": base_id, "name": store.base_name(base_id), "permissionLevel": "create"}
        for base_id in store.base_ids()
    ]
    return _json({"bases": bases})


async def base_schema(request: web.Request) -> web.Response:
    """``GET /v0/meta/bases/{base}/tables``: the base's tables, fields and views."""
    include = request.query.getall("include", []) + request.query.getall("include[]", [])
    schema = request.app[STORE_KEY].schema(
        request.match_info["base"], visible_field_ids="visibleFieldIds" in include
    )
    return _json(schema)


async def list_records_get(request: web.Request) -> web.Response:
    """``GET /v0/{base}/{table}``: a page of records."""
    query = ListQuery.from_params(request.query)
    return _list(request, query)


async def list_records_post(request: web.Request) -> web.Response:
    """``POST /v0/{base}/{table}/listRecords``: a page of records, options in the body."""
    query = ListQuery.from_json(await json_body(request), request.query)
    return _list(request, query)


def _list(request: web.Request, query: ListQuery) -> web.Response:
    store = request.app[STORE_KEY]
    page = store.list_records(request.match_info["base"], request.match_info["table"], query)
    return _json(page)


async def get_record(request: web.Request) -> web.Response:
    """``GET /v0/{base}/{table}/{record}``: one record."""
    record = request.app[STORE_KEY].get_record(
        request.match_info["base"],
        request.match_info["table"],
        request.match_info["record"],
        by_field_id=_query_flag(request, "returnFieldsByFieldId"),
    )
    return _json(record)


async def create_records(request: web.Request) -> web.Response:
    """``POST /v0/{base}/{table}``: create one record, or up to 10 with ``records``."""
    body = await json_body(request, CREATE_KEYS)
    store = request.app[STORE_KEY]
    base_id, table = request.match_info["base"], request.match_info["table"]
    typecast = _flag(body, "typecast")
    by_field_id = _flag(body, "returnFieldsByFieldId")
    if "records" in body:
        items = body["records"]
        if not isinstance(items, list):
            raise errors.invalid_request('"records" must be an array')
        fields = []
        for item in items:
            if not isinstance(item, dict) or set(item) - {"fields"}:
                raise errors.invalid_request()
            if "fields" not in item:
                raise errors.missing_field("fields")
            fields.append(item["fields"])
        return _json(
            {
                "records": store.create_records(
                    base_id, table, fields, typecast=typecast, by_field_id=by_field_id
                )
            }
        )
    if "fields" not in body:
        raise errors.missing_field("fields")
    return _json(
        store.create_records(
            base_id, table, [body["fields"]], typecast=typecast, by_field_id=by_field_id
        )[0]
    )


async def update_records(request: web.Request) -> web.Response:
    """``PATCH|PUT /v0/{base}/{table}``: update up to 10 records, or upsert them."""
    body = await json_body(request, UPDATE_KEYS)
    if "records" not in body:
        raise errors.missing_field("records")
    records = body["records"]
    if not isinstance(records, list):
        raise errors.invalid_request('"records" must be an array')
    upsert = body.get("performUpsert")
    merge_on = None
    if upsert is not None:
        if not isinstance(upsert, dict) or set(upsert) != {"fieldsToMergeOn"}:
            raise errors.invalid_request('performUpsert must be {"fieldsToMergeOn": [...]}')
        merge_on = upsert["fieldsToMergeOn"]
    result = request.app[STORE_KEY].update_records(
        request.match_info["base"],
        request.match_info["table"],
        records,
        replace=request.method == "PUT",
        typecast=_flag(body, "typecast"),
        fields_to_merge_on=merge_on,
        by_field_id=_flag(body, "returnFieldsByFieldId"),
    )
    out: dict[str, Any] = {"records": result.records}
    if upsert is not None:
        out["createdRecords"] = result.created_ids
        out["updatedRecords"] = result.updated_ids
    return _json(out)


async def update_record(request: web.Request) -> web.Response:
    """``PATCH|PUT /v0/{base}/{table}/{record}``: update one record."""
    body = await json_body(request, UPDATE_ONE_KEYS)
    if "fields" not in body:
        raise errors.missing_field("fields")
    record = request.app[STORE_KEY].update_record(
        request.match_info["base"],
        request.match_info["table"],
        request.match_info["record"],
        body["fields"],
        replace=request.method == "PUT",
        typecast=_flag(body, "typecast"),
        by_field_id=_flag(body, "returnFieldsByFieldId"),
    )
    return _json(record)


async def delete_records(request: web.Request) -> web.Response:
    """``DELETE /v0/{base}/{table}?records[]=...``: delete up to 10 records."""
    ids = request.query.getall("records[]", []) + request.query.getall("records", [])
    deleted = request.app[STORE_KEY].delete_records(
        request.match_info["base"], request.match_info["table"], ids
    )
    return _json({"records": [{"id": record_id, "deleted": True} for record_id in deleted]})


async def delete_record(request: web.Request) -> web.Response:
    """``DELETE /v0/{base}/{table}/{record}``: delete one record."""
    record_id = request.match_info["record"]
    request.app[STORE_KEY].delete_record(
        request.match_info["base"], request.match_info["table"], record_id
    )
    return _json({"id": record_id, "deleted": True})


async def run(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    db_path: str | os.PathLike[str] | None = None,
    seed: str | None = "demo",
    token: str | None = None,
    *,
    requests_per_second: float | None = 5,
    penalty_seconds: float = 30.0,
    base_id: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
) -> None:
    """Serve the embedded Airtable until cancelled (or until ``stop`` is set).

    ``db_path`` is the SQLite file (None: memory, gone at exit); ``seed`` ("demo", "empty"
    or None) is created unless the database already has that base; ``token`` defaults to
    :func:`default_token`; :data:`LOCAL_CLIENT_TOKEN` is accepted too when the token is
    ``local``. Prints the URL, the bases and how to use them to ``out``.
    """
    out = out or sys.stdout
    token = token or default_token()
    store = Store(db_path if db_path is not None else ":memory:")
    runner: web.AppRunner | None = None
    try:
        if seed:
            seeds.seed(store, seed, base_id=base_id)
        # A well-known second token would defeat a secret one: the person's token is only
        # accepted beside the well-known "local".
        users = {token: API_USER}
        if token == LOCAL_TOKEN:
            users[LOCAL_CLIENT_TOKEN] = CLIENT_USER
        app = make_app(
            store,
            token=token,
            users=users,
            requests_per_second=requests_per_second,
            penalty_seconds=penalty_seconds,
            max_body_bytes=max_body_bytes,
        )
        runner = web.AppRunner(app, **RUNNER_OPTIONS)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = port
        for address in runner.addresses:
            if isinstance(address, tuple):
                bound_port = address[1]
                break
        url = f"http://{host}:{bound_port}"
        print(_banner(store, url, token, db_path, requests_per_second), file=out, flush=True)
        await (stop or asyncio.Event()).wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        store.close()


def _banner(
    store: Store,
    url: str,
    token: str,
    db_path: str | os.PathLike[str] | None,
    requests_per_second: float | None,
) -> str:
    if token == os.environ.get("AIRTABLE_TOKEN"):
        token_text = "the value of AIRTABLE_TOKEN"
    elif token == LOCAL_TOKEN:
        token_text = f'"{LOCAL_TOKEN}"'
    else:
        token_text = "the token it was given"
    data = os.fspath(db_path) if db_path is not None else "memory (gone when it stops)"
    limit = f"{requests_per_second:g} requests/s per base" if requests_per_second else "off"
    lines = [
        f"Airtable-compatible server on {url}",
        f"  data: {data}",
        f"  token: {token_text}",
        f"  rate limit: {limit}",
    ]
    if token == LOCAL_TOKEN:
        lines.append(f'  person\'s token: "{LOCAL_CLIENT_TOKEN}" (changes by source "client")')
    base_ids = store.base_ids()
    for base_id in base_ids:
        tables = ", ".join(store.table_names(base_id))
        lines.append(f"  base {base_id} ({store.base_name(base_id)}): {tables}")
    if base_ids:
        first = base_ids[0]
        names = store.table_names(first)
        table = "Projects" if "Projects" in names else names[0]
        api_token = f'"{LOCAL_TOKEN}"' if token == LOCAL_TOKEN else "token"
        lines += [
            "Use it from pyairtable:",
            f'  Api({api_token}, endpoint_url="{url}").table("{first}", "{table}").all()',
            "or point the bot at it:",
            f"  AIRTABLE_ENDPOINT_URL={url} AIRTABLE_BASE_ID={first}",
        ]
    lines.append("Ctrl-C stops.")
    return "\n".join(lines)
