"""The HTTP routes of Airtable's webhooks API, over a :class:`~.webhooks.WebhookRegistry`.

==============================================  =====================================
``POST   /v0/bases/{base}/webhooks``            create a hook
``GET    /v0/bases/{base}/webhooks``            list the base's hooks
``DELETE /v0/bases/{base}/webhooks/{id}``       delete a hook (answers ``{}``)
``POST   …/webhooks/{id}/refresh``              expire 7 days from now
``POST   …/webhooks/{id}/enableNotifications``  ``{"enable": bool}`` (answers ``{}``)
``GET    …/webhooks/{id}/payloads``             ``?cursor=N&limit=L`` (limit up to 50)
==============================================  =====================================

:func:`add_webhook_routes` registers them; ``make_app`` does so before the record routes,
whose ``/v0/{base}/{table}/{record}`` would otherwise match these paths. Authentication,
rate limits and error shapes are the server's middlewares'. An unknown base is answered 403
as for records, an unknown (or long expired) hook 404 NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.airtable_local import errors
from bot.airtable_local.bodies import json_body
from bot.airtable_local.webhooks import MAX_PAYLOADS_PER_PAGE, WebhookRegistry

WEBHOOKS_KEY = web.AppKey("webhooks", WebhookRegistry)
HOOKS_PATH = "/v0/bases/{base}/webhooks"
HOOK_PATH = HOOKS_PATH + "/{webhook}"


def add_webhook_routes(app: web.Application) -> None:
    """Register the webhook routes on ``app`` (which must hold ``app[WEBHOOKS_KEY]``)."""
    app.router.add_post(HOOKS_PATH, create_webhook)
    app.router.add_get(HOOKS_PATH, list_webhooks)
    app.router.add_delete(HOOK_PATH, delete_webhook)
    app.router.add_post(HOOK_PATH + "/refresh", refresh_webhook)
    app.router.add_post(HOOK_PATH + "/enableNotifications", enable_notifications)
    app.router.add_get(HOOK_PATH + "/payloads", list_payloads)


def _registry(request: web.Request) -> tuple[WebhookRegistry, str]:
    registry = request.app[WEBHOOKS_KEY]
    base_id = request.match_info["base"]
    registry.store.schema(base_id)  # 403 for an unknown base, as Airtable answers
    return registry, base_id


def _answer(data: Any) -> web.Response:
    return web.json_response(data)


async def create_webhook(request: web.Request) -> web.Response:
    """``POST /v0/bases/{base}/webhooks``: ``{id, macSecretBase64, expirationTime}``."""
    registry, base_id = _registry(request)
    return _answer(registry.create(base_id, await json_body(request)))


async def list_webhooks(request: web.Request) -> web.Response:
    """``GET /v0/bases/{base}/webhooks``: ``{"webhooks": [...]}``."""
    registry, base_id = _registry(request)
    return _answer({"webhooks": registry.list_hooks(base_id)})


async def delete_webhook(request: web.Request) -> web.Response:
    """``DELETE /v0/bases/{base}/webhooks/{id}``."""
    registry, base_id = _registry(request)
    registry.delete(base_id, request.match_info["webhook"])
    return _answer({})


async def refresh_webhook(request: web.Request) -> web.Response:
    """``POST /v0/bases/{base}/webhooks/{id}/refresh``: ``{expirationTime}``."""
    registry, base_id = _registry(request)
    return _answer(registry.refresh(base_id, request.match_info["webhook"]))


async def enable_notifications(request: web.Request) -> web.Response:
    """``POST /v0/bases/{base}/webhooks/{id}/enableNotifications`` with ``{"enable": bool}``."""
    registry, base_id = _registry(request)
    body = await json_body(request)
    if set(body) - {"enable"}:
        raise errors.invalid_request(f"Unknown parameter: {sorted(set(body) - {'enable'})[0]}")
    if "enable" not in body:
        raise errors.missing_field("enable")
    if not isinstance(body["enable"], bool):
        raise errors.invalid_request("enable must be a boolean")
    registry.enable_notifications(base_id, request.match_info["webhook"], body["enable"])
    return _answer({})


async def list_payloads(request: web.Request) -> web.Response:
    """``GET /v0/bases/{base}/webhooks/{id}/payloads?cursor=N&limit=L``."""
    registry, base_id = _registry(request)
    cursor = _int_param(request, "cursor", 1)
    limit = _int_param(request, "limit", MAX_PAYLOADS_PER_PAGE)
    return _answer(registry.payloads(base_id, request.match_info["webhook"], cursor, limit))


def _int_param(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise errors.invalid_request(f"{name} must be an integer") from None
