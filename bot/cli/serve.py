"""``deliverables-bot serve``: run the webhook server, on a real base or the embedded default.

With ``--demo`` the embedded Airtable-compatible server runs in the same process on the demo
base (kept in the data folder, at ``DEMO_AIRTABLE_PORT``: :mod:`bot.cli.demo_base`), and the
bot prints the URLs it serves and the commands that send it signed sample deliveries and
read the demo base. Only with ``--demo``: without it and without
``AIRTABLE_TOKEN`` serve refuses to start (fail closed: real deliveries never land in the
demo base). A port out of range or taken, and a data folder that cannot be written, are
refused in one line before anything starts. The port is ``--port``, else the ``PORT``
variable (as container platforms set it), else 8080. Without ``--demo``, a webhook secret
or an App id, serve runs the setup site instead (:mod:`bot.cli.setup_site`), which
registers the GitHub App and writes its credentials to the ``.env`` file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bot.cli.demo import demo_secret
from bot.cli.demo_base import start_demo_base
from bot.cli.exits import (
    CANNOT_LISTEN,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    NO_BASE,
    has_base,
    refuse_bad_port,
)
from bot.config import DEMO_BASE_ID, Config
from bot.config_loader import load_config
from bot.storage.database import STORE_ERRORS

log = logging.getLogger(__name__)

DEMO_BANNER = """\
deliverables-bot is running on its embedded default (demo base {base_id}).

  webhook   POST {webhook}
  health    GET  {base}/healthz   ready: {base}/readyz   metrics: {base}/metrics
  Airtable  {airtable}  (token: {token}; base {base_id})

In a second terminal, send it signed deliveries as GitHub would; what the bot would post
on GitHub (comments, reactions) is logged here instead.

A slash-command: the Project's progress, then issue 3 taken out of the Project:

  .venv/bin/deliverables-bot demo-deliver comment 1 "/project status" --url {webhook}
  .venv/bin/deliverables-bot demo-deliver comment 3 "/deliverable unlink" --url {webhook}

A project label puts issue 3 back in the Project it names:

  .venv/bin/deliverables-bot demo-deliver labeled 3 --label "project: Setup workshop hub" \\
      --url {webhook}

Close the three issues; after the third the Project is Complete and its comment is logged:

  .venv/bin/deliverables-bot demo-deliver closed 1 --url {webhook}
  .venv/bin/deliverables-bot demo-deliver closed 2 --url {webhook}
  .venv/bin/deliverables-bot demo-deliver closed 3 --url {webhook}

See the demo base as an operator does (with this server's DEMO_AIRTABLE_PORT and data folder):

  .venv/bin/deliverables-bot report --demo --format html --output report.html
  .venv/bin/deliverables-bot audit --demo
  .venv/bin/deliverables-bot check --demo

Ctrl-C stops.
"""


NO_SECRET = (
    "error: GITHUB_WEBHOOK_SECRET is not set; serve refuses unsigned deliveries "
    "(use --demo to try the bot on its embedded default)"
)
NO_TOKEN = (
    "error: AIRTABLE_TOKEN is not set; serve refuses to run without the base's token "
    "(use --demo to try the bot on its embedded demo base)"
)
DATA_UNWRITABLE = (
    "error: cannot write the data folder {path} (DELIVERABLES_BOT_DATA): {reason}; the "
    "journal of deliveries lives there"
)


CANNOT_STORE = "error: cannot keep the bot's state in {where}: {error}"


def data_folder_problem(path: Path) -> str | None:
    """Why the data folder cannot hold the journal (created if missing), or None when a
    file can be created and written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    journal = path / "journal.sqlite3"
    if journal.exists() and not journal.is_file():
        return f"{journal} is not a file"
    if journal.exists() and not os.access(journal, os.R_OK | os.W_OK):
        return f"{journal} is not readable and writable"
    return None


def serve(config: Config, *, host: str, port: int, demo: bool) -> int:
    """Run the bot until interrupted; returns the exit code."""
    if refuse_bad_port(port):
        return EXIT_USAGE
    secret = config.github_webhook_secret
    if not secret and not demo and not config.github_app_id:
        from bot.cli.env_file import env_file_path
        from bot.cli.setup_site import serve_setup

        return serve_setup(
            config, host=host, port=port, env_path=env_file_path(), environ=os.environ
        )
    if not secret and not demo:
        print(NO_SECRET, file=sys.stderr)
        return EXIT_USAGE
    if not demo and not config.airtable_token:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_USAGE
    if not demo and not has_base(config):
        print(NO_BASE, file=sys.stderr)
        return EXIT_USAGE
    problem = data_folder_problem(config.data_dir)
    if problem:
        print(DATA_UNWRITABLE.format(path=config.data_dir, reason=problem), file=sys.stderr)
        return EXIT_FAILED
    if not secret:
        secret = demo_secret(config.data_dir)
    with ExitStack() as stack:
        if demo:
            config = start_demo_base(config, stack)
        try:
            sock = socket.create_server((host, port))
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            print(CANNOT_LISTEN.format(host=host, port=port, reason=reason), file=sys.stderr)
            return EXIT_FAILED
        _run(config, secret, sock, host=host, port=port, demo=demo)
    return EXIT_OK


def _run(
    config: Config, secret: str, sock: socket.socket, *, host: str, port: int, demo: bool
) -> None:
    """Print where the bot listens (the demo's banner with ``demo``), then serve on ``sock``
    until interrupted."""
    from aiohttp import web

    from bot.app import make_app, serve_metrics
    from bot.intake.server import HANDLER_ARGS

    metrics_sock = None
    if config.metrics_port is not None:  # METRICS_PORT: /metrics on its own site
        try:
            metrics_sock = socket.create_server((host, config.metrics_port))
        except (OSError, OverflowError) as exc:
            errno = getattr(exc, "errno", None)
            reason = os.strerror(errno) if errno else str(exc)
            line = CANNOT_LISTEN.format(host=host, port=config.metrics_port, reason=reason)
            print(f"{line} (METRICS_PORT)", file=sys.stderr)
            raise SystemExit(EXIT_FAILED) from None
        config = dataclasses.replace(config, metrics_port=metrics_sock.getsockname()[1])
    from bot.cli.demo_github import demo_github_factory

    github_factory = demo_github_factory(config) if demo else None
    try:
        app = make_app(config, secret=secret, github_factory=github_factory)
    except STORE_ERRORS as exc:  # DATABASE_URL's server down or refusing, a locked file
        print(CANNOT_STORE.format(where=config.journal_description, error=exc), file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    base = f"http://{host}:{port}"
    metrics_url = f"{base}/metrics"
    if metrics_sock is not None:
        serve_metrics(app, metrics_sock)
        metrics_url = f"http://{host}:{config.metrics_port}/metrics"
    if demo:
        print(
            DEMO_BANNER.format(
                base_id=DEMO_BASE_ID,
                webhook=f"{base}/webhook",
                base=base,
                airtable=config.airtable_endpoint_url,
                token=config.airtable_token,
            ).replace(f"{base}/metrics", metrics_url),
            flush=True,
        )
    else:
        print(
            f"deliverables-bot: webhook POST {base}/webhook, metrics GET {metrics_url}", flush=True
        )
    web.run_app(app, sock=sock, print=None, access_log=None, **HANDLER_ARGS)


DEFAULT_PORT = 8080
BAD_PORT_VARIABLE = "error: PORT={value}: a TCP port is a number from 0 to 65535"


def listening_port(given: int | None, environ: Mapping[str, str]) -> int | None:
    """``--port`` when given, else ``PORT`` (as container platforms set it), else 8080;
    None (after its one line) when ``PORT`` is not a number."""
    if given is not None:
        return given
    value = environ.get("PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or int(value) > 65535:
        print(BAD_PORT_VARIABLE.format(value=value), file=sys.stderr)
        return None
    return int(value)


def run(args: argparse.Namespace) -> int:
    """``deliverables-bot serve``: load the configuration and serve."""
    port = listening_port(args.port, os.environ)
    if port is None:
        return EXIT_USAGE
    return serve(load_config(), host=args.host, port=port, demo=args.demo)


def add_parser(commands: Any) -> None:
    """Add ``serve`` to the sub-command parsers."""
    parser = commands.add_parser("serve", help="run the webhook server")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: PORT, else 8080)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run on the embedded Airtable-compatible server seeded with the demo base",
    )
    parser.set_defaults(func=run)
