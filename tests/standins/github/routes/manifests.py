"""GitHub's manifest flow, both halves: the web pages that take a manifest and the API call
that turns the code into an App.

The web side (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-
from-a-manifest): a browser POSTs a ``manifest`` field (JSON) to ``/settings/apps/new`` or
``/organizations/{org}/settings/apps/new`` with ``?state=...``; the page shows the App and a
"Create GitHub App" button, which mints a one-time code and redirects (302) to the
manifest's ``redirect_url`` with ``code`` and the ``state``. The API side:
``POST /app-manifests/{code}/conversions`` (no credentials) answers 201 with the App, its
``client_id``, ``client_secret``, ``webhook_secret`` and ``pem``; a code unknown or used is
404 ``{"message": "Not Found"}``. Every App created is kept (:func:`created_apps`), with the
secrets it was given, so a test can compare them with what the bot wrote.
"""

from __future__ import annotations

import html
import itertools
import json
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standins.github.answers import ApiError, json_response
from tests.standins.github.objects import JsonDict, node_id, timestamp, user_object
from tests.standins.github.routes.route import Route

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn

FIRST_APP_ID = 900001
PERSONAL_ACCOUNT = "monalisa"  # who is signed in to the stand-in's web pages
CODE_LIFETIME = 3600.0  # GitHub: the three steps within one hour


@dataclass
class _Pending:
    manifest: JsonDict
    owner: str
    owner_type: str
    state: str | None


@dataclass
class _Registry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    drafts: dict[str, _Pending] = field(default_factory=dict)
    codes: dict[str, tuple[_Pending, float]] = field(default_factory=dict)
    apps: list[JsonDict] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(FIRST_APP_ID))


_REGISTRIES: weakref.WeakKeyDictionary[GitHubStandIn, _Registry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def _registry(gh: GitHubStandIn) -> _Registry:
    with _REGISTRIES_LOCK:
        return _REGISTRIES.setdefault(gh, _Registry())


def created_apps(gh: GitHubStandIn) -> list[JsonDict]:
    """Every App the manifest flow created on ``gh``, as the conversion answered it."""
    registry = _registry(gh)
    with registry.lock:
        return [dict(app) for app in registry.apps]


def mint_code(gh: GitHubStandIn, manifest: JsonDict, *, owner: str = PERSONAL_ACCOUNT) -> str:
    """A one-time code for ``manifest`` (what the "Create GitHub App" button does)."""
    registry = _registry(gh)
    code = secrets.token_hex(20)
    with registry.lock:
        registry.codes[code] = (_Pending(manifest, owner, "User", None), time.monotonic())
    return code


def manifest_problem(manifest: Any) -> str | None:
    """Why GitHub would refuse ``manifest``, or None."""
    if not isinstance(manifest, dict):
        return "the manifest is not a JSON object"
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not isinstance(hook.get("url"), str) or not hook["url"]:
        return "hook_attributes.url is missing"
    for name in ("redirect_url", "url"):
        value = manifest.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            return f"{name} is missing or not a URL"
    if not isinstance(manifest.get("default_permissions"), dict):
        return "default_permissions is missing"
    return None


def _page(title: str, body: str, status: int = 200) -> web.Response:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)


async def new_app_page(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET|POST /settings/apps/new`` (and an organization's): the manifest's App, with a
    "Create GitHub App" button; a bad manifest is a 422 page saying why."""
    org = request.match_info.get("org")
    form = await request.post() if request.method == "POST" else request.query
    raw = form.get("manifest")
    if not isinstance(raw, str) or not raw:
        return _page("Register new GitHub App", "<p>No manifest was posted.</p>", 422)
    try:
        manifest = json.loads(raw)
    except ValueError:
        manifest = None
    problem = manifest_problem(manifest) if manifest is not None else "not JSON"
    if problem:
        return _page("Invalid GitHub App manifest", f"<p>{html.escape(problem)}</p>", 422)
    pending = _Pending(
        manifest,
        owner=org or PERSONAL_ACCOUNT,
        owner_type="Organization" if org else "User",
        state=request.query.get("state"),
    )
    draft = secrets.token_hex(8)
    registry = _registry(gh)
    with registry.lock:
        registry.drafts[draft] = pending
    permissions = ", ".join(f"{k}: {v}" for k, v in manifest["default_permissions"].items())
    body = (
        f"<p>Owner: <b>{html.escape(pending.owner)}</b></p>"
        f"<p>Name: <b>{html.escape(str(manifest.get('name', '')))}</b></p>"
        f"<p>Webhook URL: <code>{html.escape(manifest['hook_attributes']['url'])}</code></p>"
        f"<p>Permissions: {html.escape(permissions)}</p>"
        '<form method="post" action="/settings/apps/new/create">'
        f'<input type="hidden" name="draft" value="{draft}">'
        "<button type=submit>Create GitHub App</button></form>"
    )
    return _page("Create GitHub App", body)


async def create_app(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST /settings/apps/new/create``: the button; mints the code and sends the browser
    back to the manifest's ``redirect_url`` with ``code`` and ``state``."""
    form = await request.post()
    registry = _registry(gh)
    with registry.lock:
        pending = registry.drafts.pop(str(form.get("draft", "")), None)
        if pending is None:
            return _page("Not found", "<p>This registration is gone; start again.</p>", 404)
        code = secrets.token_hex(10)
        registry.codes[code] = (pending, time.monotonic())
    query = {"code": code}
    if pending.state is not None:
        query["state"] = pending.state
    target = urlsplit(pending.manifest["redirect_url"])
    joined = "&".join(part for part in (target.query, urlencode(query)) if part)
    # A plain 302: the stand-in's middleware turns a raised HTTPException into a JSON error.
    return web.Response(status=302, headers={"Location": urlunsplit(target._replace(query=joined))})


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


async def conversions(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST /app-manifests/{code}/conversions``: 201 with the App and its secrets, once."""
    registry = _registry(gh)
    with registry.lock:
        entry = registry.codes.pop(request.match_info["code"], None)
        if entry is None or time.monotonic() - entry[1] > CODE_LIFETIME:
            raise ApiError(404, "Not Found")
        app_id = next(registry.ids)
    pending = entry[0]
    manifest = pending.manifest
    name = str(manifest.get("name") or "deliverables-bot")
    slug = f"{name.lower().replace(' ', '-')}-{app_id}"
    now = timestamp(time.time())
    app: JsonDict = {
        "id": app_id,
        "slug": slug,
        "node_id": node_id("A", app_id),
        "client_id": f"Iv23li{app_id:014d}",
        "owner": user_object(pending.owner, api_url=gh.url, user_type=pending.owner_type),
        "name": name,
        "description": manifest.get("description", ""),
        "external_url": manifest["url"],
        "html_url": f"{gh.url}/apps/{slug}",
        "created_at": now,
        "updated_at": now,
        "permissions": dict(manifest.get("default_permissions") or {}),
        "events": list(manifest.get("default_events") or []),
        "installations_count": 0,
        "client_secret": secrets.token_hex(20),
        "webhook_secret": secrets.token_hex(20),
        "pem": _pem(),
    }
    with registry.lock:
        registry.apps.append(app)
    return json_response(app, status=201)


async def install_page(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET /apps/{slug}/installations/new``: where the done page's link leads."""
    slug = html.escape(request.match_info["slug"])
    return _page(f"Install {slug}", "<p>Choose the repositories to install the App on.</p>")


ROUTES = [
    Route("POST", "/app-manifests/{code}/conversions", conversions, "none"),
    Route("GET", "/settings/apps/new", new_app_page, "none"),
    Route("POST", "/settings/apps/new", new_app_page, "none"),
    Route("POST", "/settings/apps/new/create", create_app, "none"),
    Route("GET", "/organizations/{org}/settings/apps/new", new_app_page, "none"),
    Route("POST", "/organizations/{org}/settings/apps/new", new_app_page, "none"),
    Route("GET", "/apps/{slug}/installations/new", install_page, "none"),
]
