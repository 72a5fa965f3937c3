"""``deliverables-bot serve``: run the webhook server, on a real base or the embedded default.

With ``--demo``, or when no Airtable token is set, the embedded Airtable-compatible server
runs in the same process on the demo base (kept in the data folder), and the bot prints the
URLs it serves and a command that sends it a signed sample delivery.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sys
from contextlib import ExitStack

from aiohttp import web

from bot.app import make_app
from bot.config import DEMO_BASE_ID, Config
from bot.demo import demo_secret

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


def serve(config: Config, *, host: str, port: int, demo: bool) -> int:
    """Run the bot until interrupted; returns the exit code."""
    embedded = demo or not config.airtable_token
    secret = config.github_webhook_secret
    if not secret:
        if not demo:
            print(
                "error: GITHUB_WEBHOOK_SECRET is not set; serve refuses unsigned deliveries "
                "(use --demo to try the bot on its embedded default)",
                file=sys.stderr,
            )
            return 2
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
        elif not config.airtable_base_id and not config.bases_by_owner:
            print("error: AIRTABLE_BASE_ID is not set", file=sys.stderr)
            return 2
        try:
            sock = socket.create_server((host, port))
        except OSError as exc:
            print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
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
        web.run_app(app, sock=sock, print=None, access_log=None)
    return 0
