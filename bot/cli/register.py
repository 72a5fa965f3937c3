"""``deliverables-bot register``: register the GitHub App from ``app.yaml`` and write ``.env``.

It runs the setup site (:mod:`bot.cli.setup_site`) on 127.0.0.1, prints its address (and
opens it in a browser unless ``--no-browser``), waits until GitHub sends the browser back
with the code, writes the App's credentials to the ``.env`` file, prints what to do next and
exits 0. The webhook goes to ``--public-url`` (else ``PUBLIC_URL``, else the local address,
which GitHub may refuse: it wants a public one); GitHub sends the browser back to the local
address, which only the browser needs to reach. Ctrl-C exits 130; a failure is one line,
exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import webbrowser
from typing import Any

from bot.cli.env_file import env_file_path
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, refuse_bad_port
from bot.config import DEFAULT_GITHUB_API_URL
from bot.core.app_manifest import DONE_PATH, is_login

OPEN = "Open {url} in a browser to register the GitHub App{whom} (Ctrl-C stops)."
LOCAL_WEBHOOK = (
    "note: the webhook URL is {url}; GitHub wants a public address: give --public-url "
    "(or PUBLIC_URL) with where serve will listen, or change it on GitHub's page"
)
BAD_ORG = "error: --org {org}: not a GitHub organization name"


async def _register(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.cli import setup_site

    try:
        document = setup_site.load_app_yaml()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        print(
            setup_site.NO_APP_YAML.format(path=setup_site.APP_YAML, reason=reason), file=sys.stderr
        )
        return EXIT_USAGE
    sock = setup_site.listen("127.0.0.1", args.port)
    if sock is None:
        return EXIT_FAILED
    local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    public = (args.public_url or os.environ.get(setup_site.PUBLIC_URL_VARIABLE) or "").strip()
    public = public.rstrip("/")
    if public and setup_site.public_url_problem(public):
        print(f"error: --public-url {public}: expected http(s)://HOST[:PORT]", file=sys.stderr)
        sock.close()
        return EXIT_USAGE
    api_url = (os.environ.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).rstrip("/")
    site = setup_site.SetupSite(
        document,
        public_url=public or local,
        api_url=api_url,
        env_path=env_file_path(),
        redirect_url=local + DONE_PATH,
        organization=args.org,
    )
    runner = web.AppRunner(site.make_app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        url = site.setup_url(local)
        whom = f" for the organization {args.org}" if args.org else ""
        print(OPEN.format(url=url, whom=whom), flush=True)
        if not public:
            print(LOCAL_WEBHOOK.format(url=site.manifest["hook_attributes"]["url"]), flush=True)
        if not args.no_browser:
            await asyncio.get_running_loop().run_in_executor(None, _open_browser, url)
        assert site.finished is not None
        outcome = await site.finished
    finally:
        await runner.cleanup()
    if isinstance(outcome, str):
        print(f"error: {outcome}", file=sys.stderr)
        return EXIT_FAILED
    print(setup_site.next_steps(outcome), flush=True)
    return EXIT_OK


def _open_browser(url: str) -> None:
    """Open ``url`` in the user's browser if there is one (none is fine: the URL is printed)."""
    with contextlib.suppress(Exception):  # a missing or broken browser only means no window
        webbrowser.open(url)


def run(args: argparse.Namespace) -> int:
    """``deliverables-bot register``: run the setup site until the App is registered."""
    if refuse_bad_port(args.port):
        return EXIT_USAGE
    if args.org and not is_login(args.org):
        print(BAD_ORG.format(org=args.org), file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_register(args))


def add_parser(commands: Any) -> None:
    """Add ``register`` to the sub-command parsers."""
    parser = commands.add_parser(
        "register",
        help="register the GitHub App (from app.yaml) and write its credentials to .env",
        description=(
            "Register the GitHub App described by app.yaml through GitHub's manifest flow, "
            "then write its id, private key, webhook secret and OAuth client to the .env "
            "file (DELIVERABLES_BOT_ENV_FILE, else ./.env), mode 0600."
        ),
    )
    parser.add_argument("--org", default=None, help="register it for this organization")
    parser.add_argument(
        "--public-url",
        default=None,
        help="where serve will be reachable, for the webhook (default: PUBLIC_URL)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="local port of the setup page (default: any free)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the address only, open no browser"
    )
    parser.set_defaults(func=run)
