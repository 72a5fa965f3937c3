"""``deliverables-bot airtable-local``: the embedded Airtable-compatible server on its own.

It serves :mod:`bot.airtable_local` until SIGTERM or Ctrl-C (exit 0), seeded with the demo
base, empty (the schema, no records) or blank (a new Airtable base: one "Table 1", for
``init-base``), in memory or in a SQLite file; the token is ``AIRTABLE_TOKEN`` (``local`` when
unset). A port out of range is a usage error, one that cannot be listened on a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

from bot.airtable_local.seeds import seed_names
from bot.cli.exits import CANNOT_LISTEN, EXIT_FAILED, EXIT_OK, EXIT_USAGE, refuse_bad_port


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; returns the exit code."""
    from bot.airtable_local.server import run as serve_local

    token = os.environ.get("AIRTABLE_TOKEN") or "local"
    if refuse_bad_port(args.port):
        return EXIT_USAGE

    async def serve_until_stopped() -> None:
        stop = asyncio.Event()
        # SIGTERM (a service manager, `kill`) and Ctrl-C stop it cleanly, exit status 0.
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await serve_local(
            host=args.host,
            port=args.port,
            db_path=args.db,
            seed=args.seed,
            token=token,
            requests_per_second=args.rate_limit or None,
            stop=stop,
        )

    try:
        asyncio.run(serve_until_stopped())
    except OSError as exc:
        reason = exc.strerror
        print(CANNOT_LISTEN.format(host=args.host, port=args.port, reason=reason), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def add_parser(commands: Any) -> None:
    """Add ``airtable-local`` to the sub-command parsers."""
    parser = commands.add_parser(
        "airtable-local", help="run the embedded Airtable-compatible server on its own"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default=None, help="SQLite file for the data (default: memory)")
    parser.add_argument("--seed", choices=seed_names(), default="demo")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=5.0,
        help="requests per second per base before a 429 (0 turns the limit off)",
    )
    parser.set_defaults(func=run)
