"""``deliverables-bot serve``: run the webhook server, on a real base or the embedded default.

With ``--demo`` the embedded Airtable-compatible server runs in the same process on the demo
base (kept in the data folder), and the bot prints the URLs it serves and a command that
sends it a signed sample delivery. Only with ``--demo``: without it and without
``AIRTABLE_TOKEN`` serve refuses to start (fail closed: real deliveries never land in the
demo base). A port out of range or taken, and a data folder that cannot be written, are
refused in one line before anything starts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from aiohttp import web

from bot.app import make_app
from bot.cli.demo import demo_secret
from bot.config import DEMO_BASE_ID, Config
from bot.intake.server import HANDLER_ARGS

log = logging.getLogger(__name__)

DEMO_BANNER = """\
deliverables-bot is running on its embedded default (demo base {base_id}).

  webhook   POST {webhook}
  health    GET  {base}/healthz   ready: {base}/readyz   metrics: {base}/metrics
  Airtable  {airtable}  (token: {token}; base {base_id})

Close demo issue 1 with a signed delivery, as GitHub would send it:

  .venv/bin/deliverables-bot demo-deliver closed 1 --url {webhook}

Issues 2 and 3 close the same way; after the third, the Project "Setup workshop hub" is
Complete and the comment the bot would post is logged. Ctrl-C stops.
"""


NO_TOKEN = (
    "error: AIRTABLE_TOKEN is not set; serve refuses to run without the base's token "
    "(use --demo to try the bot on its embedded demo base)"
)
BAD_PORT = "error: --port {port}: a TCP port is a number from 0 to 65535"
CANNOT_LISTEN = "error: cannot listen on {host}:{port}: {reason}"
DATA_UNWRITABLE = (
    "error: cannot write the data folder {path} (DELIVERABLES_BOT_DATA): {reason}; the "
    "journal of deliveries lives there"
)


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
    embedded = demo
    if not 0 <= port <= 65535:
        print(BAD_PORT.format(port=port), file=sys.stderr)
        return 2
    secret = config.github_webhook_secret
    if not secret and not demo:
        print(
            "error: GITHUB_WEBHOOK_SECRET is not set; serve refuses unsigned deliveries "
            "(use --demo to try the bot on its embedded default)",
            file=sys.stderr,
        )
        return 2
    if not demo and not config.airtable_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    if not demo and not config.airtable_base_id and not config.bases_by_owner:
        print("error: AIRTABLE_BASE_ID is not set", file=sys.stderr)
        return 2
    problem = data_folder_problem(config.data_dir)
    if problem:
        print(DATA_UNWRITABLE.format(path=config.data_dir, reason=problem), file=sys.stderr)
        return 1
    if not secret:
        secret = demo_secret(config.data_dir)
    with ExitStack() as stack:
        if embedded:
            from bot.airtable_local.thread import LocalAirtable

            config.data_dir.mkdir(parents=True, exist_ok=True)
            local = stack.enter_context(
                LocalAirtable(
                    seed="demo",
                    db_path=str(config.data_dir / "airtable-demo.sqlite3"),
                    requests_per_second=config.airtable.requests_per_second,
                )
            )
            config = dataclasses.replace(
                config,
                airtable_endpoint_url=local.url,
                airtable_token=local.token,
                airtable_base_id=DEMO_BASE_ID,
                bases_by_owner={},
            )
        try:
            sock = socket.create_server((host, port))
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            print(CANNOT_LISTEN.format(host=host, port=port, reason=reason), file=sys.stderr)
            return 1
        app = make_app(config, secret=secret)
        base = f"http://{host}:{port}"
        if embedded:
            print(
                DEMO_BANNER.format(
                    base_id=DEMO_BASE_ID,
                    webhook=f"{base}/webhook",
                    base=base,
                    airtable=config.airtable_endpoint_url,
                    token=config.airtable_token,
                ),
                flush=True,
            )
        else:
            print(f"deliverables-bot: webhook POST {base}/webhook", flush=True)
        web.run_app(app, sock=sock, print=None, access_log=None, **HANDLER_ARGS)
    return 0
