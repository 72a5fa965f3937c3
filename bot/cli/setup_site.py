"""The setup site: registers the GitHub App through GitHub's manifest flow and writes ``.env``.

``GET /setup?key=...`` is a page with one button, a plain HTML form POSTing ``app.yaml``'s manifest
(:mod:`bot.core.app_manifest`) to GitHub's new-App page (a personal account's, or an
organization's). GitHub sends the browser back to ``GET /setup/done?code=...&state=...``;
the state must be one this process issued, and the code is exchanged with
``POST {GITHUB_API_URL}/app-manifests/{code}/conversions`` (no credentials: the code is
the credential) for the App's id, key and secrets, written to the ``.env`` file
(:mod:`bot.cli.env_file`). A missing or unknown code or state is a 400 page saying so;
GitHub refusing is a page saying so, and nothing is written. ``serve`` runs this site when
it has no App yet (:func:`serve_setup`); ``register`` runs it on 127.0.0.1 until the code
comes back. The page needs the random key in the address they print (whoever reached the
site first could otherwise register an App of theirs and have its credentials written).
Heavy imports stay inside the functions, so that ``--help`` loads no HTTP client.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import secrets
import socket
import sys
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from bot.cli.env_file import FILE_MODE, write_env_file
from bot.cli.exits import CANNOT_LISTEN, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.config import Config
from bot.core.app_manifest import (
    DONE_PATH,
    SETUP_PATH,
    build_manifest,
    credentials,
    github_web_url,
    install_url,
    is_login,
    parse_app_yaml,
    registration_url,
)

if TYPE_CHECKING:
    from aiohttp import web

APP_YAML = Path(__file__).resolve().parents[2] / "app.yaml"
PUBLIC_URL_VARIABLE = "PUBLIC_URL"
EXCHANGE_TIMEOUT = 30.0
MAX_STATES = 100  # pages served and not yet come back; the oldest is forgotten past this
CODE = re.compile(r"[A-Za-z0-9_.-]{1,200}")

SETUP_MODE = "deliverables-bot: no GitHub App yet; open {url} to register one"
BAD_PUBLIC_URL = "error: PUBLIC_URL={value}: expected the bot's address, http(s)://HOST[:PORT]"
NO_APP_YAML = "error: cannot read the App's manifest {path}: {reason}"

NO_CODE = "The address has no code from GitHub; start again at {setup}."
NO_STATE = "The address has no state; start again at {setup}."
UNKNOWN_STATE = (
    "The state in the address is not one this server handed out (or it was already used, "
    "or the server restarted since); start again at {setup}."
)
BAD_CODE = "The code in the address is not one GitHub hands out; start again at {setup}."
NO_KEY = (
    "This page needs the key in the address that deliverables-bot printed when it started "
    "(serve, or register); open that address."
)
BAD_ORG = "{org!r} is not a GitHub organization name (letters, digits and single hyphens)."


class ExchangeError(Exception):
    """GitHub did not turn the code into an App (refused, failed, or did not answer)."""


@dataclass(frozen=True)
class Registered:
    """An App GitHub created, its credentials written to ``env_path``."""

    app_id: str
    name: str
    slug: str
    html_url: str
    env_path: Path

    @property
    def install_url(self) -> str:
        """The page that installs the App."""
        return install_url(self.html_url)


def load_app_yaml(path: Path = APP_YAML) -> dict[str, Any]:
    """``app.yaml`` parsed; OSError or ValueError (worded) when it cannot be used."""
    return parse_app_yaml(path.read_text(encoding="utf-8"))


def public_url_problem(url: str) -> bool:
    """Whether ``url`` is no usable public address (http or https, a host, no query)."""
    return re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", url) is None


async def exchange_code(api_url: str, code: str) -> dict[str, Any]:
    """``POST {api_url}/app-manifests/{code}/conversions``: the App GitHub created (201)."""
    import aiohttp

    url = f"{api_url.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    headers = {
        "Accept": "application/vnd.github+json",
        "User-Agent": "deliverables-bot",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    timeout = aiohttp.ClientTimeout(total=EXCHANGE_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, headers=headers) as response,
        ):
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ExchangeError(f"could not reach GitHub at {url}: {reason}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status != 201:
        message = answer.get("message") if isinstance(answer, dict) else None
        detail = f": {message}" if message else ""
        hint = " (a code works once, within an hour)" if status == 404 else ""
        raise ExchangeError(f"GitHub refused the code: {status}{detail}{hint}")
    if not isinstance(answer, dict):
        raise ExchangeError("GitHub's answer to the code is not a JSON object")
    return answer


class SetupSite:
    """The setup site's state: the manifest, the states handed out, where ``.env`` goes.

    ``finished`` (after :meth:`make_app`) resolves to the :class:`Registered` App, or to an
    error's one line, when a code has been exchanged or has failed to be.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        public_url: str,
        api_url: str,
        env_path: Path,
        redirect_url: str | None = None,
        organization: str | None = None,
    ) -> None:
        """A site for ``app.yaml``'s ``document``, the webhook at ``public_url``."""
        self.manifest = build_manifest(document, public_url, redirect_url=redirect_url)
        self.api_url = api_url.rstrip("/")
        self.web_url = github_web_url(self.api_url)
        self.env_path = env_path
        self.organization = organization
        # Whoever reaches the site first could register an App of theirs and have its
        # credentials written: the page needs this key, which only the console shows.
        self.key = secrets.token_urlsafe(16)
        self.registered: Registered | None = None
        self.finished: asyncio.Future[Registered | str] | None = None
        self._states: OrderedDict[str, None] = OrderedDict()

    def setup_url(self, base: str) -> str:
        """The setup page's address under ``base``, with the key it needs."""
        return f"{base.rstrip('/')}{SETUP_PATH}?{urlencode({'key': self.key})}"

    def issue_state(self) -> str:
        """A new random state, remembered until it comes back (or is the oldest of too
        many)."""
        state = secrets.token_urlsafe(24)
        self._states[state] = None
        while len(self._states) > MAX_STATES:
            self._states.popitem(last=False)
        return state

    def make_app(self) -> web.Application:
        """The aiohttp application: ``/``, ``/setup``, ``/setup/done`` and ``/healthz``."""
        from aiohttp import web

        self.finished = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get(SETUP_PATH, self._setup)
        app.router.add_get(DONE_PATH, self._done)
        return app

    # ---- pages ------------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        raise web.HTTPFound(SETUP_PATH)

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        return web.json_response({"status": "ok", "mode": "setup"})

    async def _setup(self, request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.query.get("key", "").encode(), self.key.encode()):
            return _page("Open the address the bot printed", _p(NO_KEY), status=403)
        query = request.query
        org = query["org"].strip() if "org" in query else (self.organization or "")
        if org and not is_login(org):
            return _page("Not an organization name", _p(BAD_ORG.format(org=org)), status=400)
        state = self.issue_state()
        action = registration_url(self.web_url, state, org)
        who = f"the organization <b>{_e(org)}</b>" if org else "your own GitHub account"
        parts = []
        if self.registered is not None:
            parts.append(
                _p(
                    f"An App was registered already (id {_e(self.registered.app_id)}); "
                    "restart <code>deliverables-bot serve</code> to use it, or register "
                    "another below."
                )
            )
        parts += [
            _p(
                f"This registers the GitHub App <b>{_e(self.manifest.get('name', ''))}</b> for "
                f"{who} on {_e(self.web_url)}, with its webhook at "
                f"<code>{_e(self.manifest['hook_attributes']['url'])}</code>. GitHub shows "
                "the settings before it creates the App; its credentials are then written "
                f"to <code>{_e(str(self.env_path.absolute()))}</code> (mode 0{FILE_MODE:o})."
            ),
            f'<form method="post" action="{_e(action)}">'
            f'<input type="hidden" name="manifest" value="{_e(json.dumps(self.manifest))}">'
            '<button type="submit">Register the GitHub App</button></form>',
        ]
        if org:
            mine = f"{SETUP_PATH}?{urlencode({'key': self.key, 'org': ''})}"
            parts.append(_p(f'<a href="{_e(mine)}">Register it for your own account instead</a>'))
        else:
            parts.append(
                f'<form method="get" action="{SETUP_PATH}">'
                f'<input type="hidden" name="key" value="{_e(self.key)}">'
                "<label>Or for an organization: "
                '<input name="org" placeholder="organization" required></label> '
                '<button type="submit">Use this organization</button></form>'
            )
        return _page("Register the GitHub App", "".join(parts))

    async def _done(self, request: web.Request) -> web.StreamResponse:
        setup = f'<a href="{SETUP_PATH}">{SETUP_PATH}</a>'
        code = request.query.get("code", "")
        state = request.query.get("state", "")
        reason = None
        if not code:
            reason = NO_CODE
        elif not state:
            reason = NO_STATE
        elif state not in self._states:
            reason = UNKNOWN_STATE
        elif CODE.fullmatch(code) is None:
            reason = BAD_CODE
        if reason is not None:
            return _page("Cannot finish the registration", _p(reason.format(setup=setup)), 400)
        try:
            conversion = await exchange_code(self.api_url, code)
            values = credentials(conversion)
        except (ExchangeError, ValueError) as exc:
            return await self._end(
                request,
                str(exc),
                _page(
                    "GitHub did not create the App",
                    _p(f"{_e(str(exc))}. Nothing was written; start again at {setup}."),
                    502,
                ),
            )
        try:
            write_env_file(self.env_path, values)
        except OSError as exc:
            line = f"cannot write {self.env_path}: {exc.strerror or exc}"
            return await self._end(
                request,
                line,
                _page(
                    "The credentials could not be written",
                    _p(
                        f"GitHub created the App (id {_e(values['GITHUB_APP_ID'])}), but "
                        f"{_e(line)}. Delete the App in GitHub's settings and start again "
                        f"at {setup} once the file can be written."
                    ),
                    500,
                ),
            )
        self._states.pop(state, None)
        registered = Registered(
            app_id=values["GITHUB_APP_ID"],
            name=str(conversion.get("name") or self.manifest.get("name", "")),
            slug=str(conversion.get("slug") or ""),
            html_url=str(conversion.get("html_url") or f"{self.web_url}/apps/unknown"),
            env_path=self.env_path.absolute(),
        )
        self.registered = registered
        return await self._end(request, registered, _done_page(registered))

    async def _end(
        self, request: web.Request, outcome: Registered | str, page: web.Response
    ) -> web.Response:
        """Send ``page`` whole, then resolve :attr:`finished` with ``outcome``."""
        await page.prepare(request)
        await page.write_eof()
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(outcome)
        return page


def _done_page(app: Registered) -> web.Response:
    return _page(
        "The GitHub App is registered",
        _p(
            f"GitHub created the App <b>{_e(app.name)}</b> (id {_e(app.app_id)}). Its id, "
            "private key, webhook secret and OAuth client are in "
            f"<code>{_e(str(app.env_path))}</code> (mode 0{FILE_MODE:o})."
        )
        + "<p>What to do next:</p><ol>"
        f'<li><a href="{_e(app.install_url)}">Install the App</a> on the repositories whose '
        "issues are deliverables.</li>"
        "<li>Set <code>AIRTABLE_TOKEN</code> and <code>AIRTABLE_BASE_ID</code> if they are "
        "not set yet.</li>"
        "<li>Restart <code>deliverables-bot serve</code>: it reads "
        f"<code>{_e(str(app.env_path))}</code> at start.</li></ol>",
    )


def next_steps(app: Registered) -> str:
    """What ``register`` prints once the App is registered."""
    return (
        f"deliverables-bot: registered the GitHub App {app.name} (id {app.app_id}); its "
        f"credentials are in {app.env_path} (mode 0{FILE_MODE:o})\n"
        "Next:\n"
        f"  1. Install the App: {app.install_url}\n"
        "  2. Set AIRTABLE_TOKEN and AIRTABLE_BASE_ID if they are not set yet\n"
        f"  3. Start (or restart) deliverables-bot serve: it reads {app.env_path} at start"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _p(inner: str) -> str:
    return f"<p>{inner}</p>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}button{font-size:1rem;padding:.5rem 1rem}code{font-size:.9em}"
)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    from aiohttp import web

    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · deliverables-bot</title><style>{STYLE}</style></head>"
        f"<body><h1>{_e(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def listen(host: str, port: int) -> socket.socket | None:
    """A listening socket on ``host:port``, or None after :data:`CANNOT_LISTEN`."""
    try:
        return socket.create_server((host, port))
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        print(CANNOT_LISTEN.format(host=host, port=port, reason=reason), file=sys.stderr)
        return None


def serve_setup(
    config: Config, *, host: str, port: int, env_path: Path, environ: Mapping[str, str]
) -> int:
    """``serve`` without an App: the setup site on ``host:port`` until interrupted."""
    from aiohttp import web

    public = (environ.get(PUBLIC_URL_VARIABLE) or "").strip().rstrip("/")
    if public and public_url_problem(public):
        print(BAD_PUBLIC_URL.format(value=public), file=sys.stderr)
        return EXIT_USAGE
    try:
        document = load_app_yaml()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        print(NO_APP_YAML.format(path=APP_YAML, reason=reason), file=sys.stderr)
        return EXIT_USAGE
    sock = listen(host, port)
    if sock is None:
        return EXIT_FAILED
    public = public or f"http://{url_host(host)}:{sock.getsockname()[1]}"
    site = SetupSite(document, public_url=public, api_url=config.github_api_url, env_path=env_path)

    async def make() -> web.Application:
        return site.make_app()

    print(SETUP_MODE.format(url=site.setup_url(public)), flush=True)
    web.run_app(make(), sock=sock, print=None, access_log=None)
    return EXIT_OK
