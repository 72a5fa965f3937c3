"""The command line, ``deliverables-bot`` (and ``python -m bot``): parse, then hand over.

Each sub-command is a small function taking the parsed arguments and returning an exit
code; the work lives in the modules it calls. Configuration errors are printed one per
line and exit 2. Any other failure an operator can meet (GitHub or Airtable refusing,
failing, not answering, a path that cannot be written) is one line (worded by
:mod:`bot.clients.errors`) and exit 1; log lines carry an exception's one-line description, not
its traceback. Tracebacks are for ``--debug`` (or ``LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime

from bot import __version__
from bot.config import Config, ConfigError, load_config

log = logging.getLogger("bot")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _config() -> Config:
    return load_config()


def _cmd_serve(args: argparse.Namespace) -> int:
    from bot.cli.serve import serve

    return serve(_config(), host=args.host, port=args.port, demo=args.demo)


def _cmd_airtable_local(args: argparse.Namespace) -> int:
    from bot.airtable_local.server import run

    token = os.environ.get("AIRTABLE_TOKEN") or "local"
    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port}: a TCP port is a number from 0 to 65535", file=sys.stderr)
        return EXIT_USAGE

    async def serve_until_stopped() -> None:
        stop = asyncio.Event()
        # SIGTERM (a service manager, `kill`) and Ctrl-C stop it cleanly, exit status 0.
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await run(
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
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cmd_deliveries_list(args: argparse.Namespace) -> int:
    from bot.intake.journal import Journal

    config = _config()
    if not config.journal_path.exists():
        if args.json:
            print("[]")
        else:
            print(f"no journal at {config.journal_path}: no delivery has been received yet")
        return EXIT_OK
    with Journal(config.journal_path) as journal:
        states = ("failed",) if args.failed else None
        deliveries = journal.list(states=states, limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": d.id,
                        "event": d.event,
                        "action": d.action,
                        "state": d.state,
                        "attempts": d.attempts,
                        "received_at": _when(d.received_at),
                        "issue": d.issue_key,
                        "last_error": d.last_error,
                    }
                    for d in deliveries
                ],
                indent=2,
            )
        )
        return EXIT_OK
    if not deliveries:
        print("no failed deliveries" if args.failed else "no deliveries")
        return EXIT_OK
    for d in deliveries:
        event = f"{d.event}.{d.action}" if d.action else d.event
        line = f"{d.id}  {_when(d.received_at)}  {d.state:<10} {event:<22} {d.issue_key or '-'}"
        if d.attempts:
            line += f"  attempts={d.attempts}"
        if d.last_error and d.state != "done":
            line += f"  last error: {d.last_error}"
        print(line)
    return EXIT_OK


def _cmd_deliveries_retry(args: argparse.Namespace) -> int:
    from bot.intake.journal import Journal

    config = _config()
    if not config.journal_path.exists():
        print(
            f"no delivery {args.id}: there is no journal at {config.journal_path}", file=sys.stderr
        )
        return EXIT_FAILED
    with Journal(config.journal_path) as journal:
        try:
            delivery = journal.retry(args.id)
        except KeyError:
            print(f"no delivery {args.id} in the journal at {config.journal_path}", file=sys.stderr)
            return EXIT_FAILED
        except ValueError as exc:
            print(f"cannot retry delivery {args.id}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"delivery {delivery.id} ({delivery.event}) is pending again; a running bot takes it")
    return EXIT_OK


def _cmd_demo_deliver(args: argparse.Namespace) -> int:
    import requests

    from bot.cli.demo import demo_payload, demo_secret, signed_delivery

    config = _config()
    secret = config.github_webhook_secret or demo_secret(config.data_dir)
    try:
        payload = demo_payload(args.action, args.issue)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    body, headers = signed_delivery("issues", payload, secret)
    try:
        response = requests.post(args.url, data=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        print(f"error: could not reach {args.url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{response.status_code} {response.text.strip()}")
    return EXIT_OK if response.status_code < 300 else EXIT_FAILED


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


class OneLineFormatter(logging.Formatter):
    """Log lines without tracebacks: an exception is told in one line at the end of its
    record's message (``--debug`` or ``LOG_LEVEL=DEBUG`` restores the tracebacks)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record on one line."""
        if record.exc_info and record.exc_info[1] is not None:
            from bot.clients.errors import describe

            exc = record.exc_info[1]
            record = copy.copy(record)
            record.msg = f"{record.getMessage()} ({describe(exc)})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return super().format(record)


def _debugging(args: argparse.Namespace) -> bool:
    """Whether tracebacks are wanted: ``--debug``, ``-v`` or ``LOG_LEVEL=DEBUG``."""
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    return bool(getattr(args, "debug", False) or getattr(args, "verbose", False)) or (
        level == "DEBUG"
    )


def _setup_logging(args: argparse.Namespace, debug: bool) -> None:
    """One handler on stderr: the level from ``-v``/``--debug``/``LOG_LEVEL`` (INFO by
    default), and one line per record unless debugging."""
    level_name = os.environ.get("LOG_LEVEL", "").strip().upper()
    level = logging.DEBUG if debug else getattr(logging, level_name, logging.INFO)
    handler = logging.StreamHandler()
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt) if debug else OneLineFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _add_debug_option(parser: argparse.ArgumentParser) -> None:
    """``--debug`` on every sub-command too, so it may follow the command's name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument(
                    "--debug",
                    action="store_true",
                    default=argparse.SUPPRESS,
                    help="show tracebacks of failures (also LOG_LEVEL=DEBUG)",
                )
                _add_debug_option(sub)


def _failure_config() -> Config | None:
    """The configuration, to word a failure with its URLs and timeouts (None if it does
    not load)."""
    try:
        return load_config()
    except Exception:
        return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="deliverables-bot",
        description="Keep an Airtable base of delivery work true to GitHub issues.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks of failures (also LOG_LEVEL=DEBUG)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the webhook server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="run on the embedded Airtable-compatible server seeded with the demo base",
    )
    serve.set_defaults(func=_cmd_serve)

    local = commands.add_parser(
        "airtable-local", help="run the embedded Airtable-compatible server on its own"
    )
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=8765)
    local.add_argument("--db", default=None, help="SQLite file for the data (default: memory)")
    local.add_argument("--seed", choices=("demo", "empty"), default="demo")
    local.add_argument(
        "--rate-limit",
        type=float,
        default=5.0,
        help="requests per second per base before a 429 (0 turns the limit off)",
    )
    local.set_defaults(func=_cmd_airtable_local)

    deliveries = commands.add_parser("deliveries", help="the journal of webhook deliveries")
    journal_commands = deliveries.add_subparsers(dest="journal_command", required=True)
    listing = journal_commands.add_parser("list", help="list recent deliveries")
    listing.add_argument("--failed", action="store_true", help="only those that failed")
    listing.add_argument("--limit", type=_positive_int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_cmd_deliveries_list)
    retry = journal_commands.add_parser("retry", help="put a delivery back in the queue")
    retry.add_argument("id", help="the delivery id (X-GitHub-Delivery)")
    retry.set_defaults(func=_cmd_deliveries_retry)

    demo = commands.add_parser(
        "demo-deliver", help="send a signed sample delivery for a demo issue to a running bot"
    )
    demo.add_argument("action", choices=("closed", "reopened", "assigned", "unassigned"))
    demo.add_argument("issue", type=int, help="demo issue number (1, 2 or 3)")
    demo.add_argument("--url", default="http://127.0.0.1:8080/webhook")
    demo.set_defaults(func=_cmd_demo_deliver)

    from bot.cli.operator import add_operator_commands

    add_operator_commands(commands)  # check, sync, audit, report
    _add_debug_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    debug = _debugging(args)
    if debug:
        args.verbose = True  # the operator commands keep their log lines too
    _setup_logging(args, debug)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print("configuration problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.clients.errors import describe

        if debug:
            traceback.print_exc()
        print(f"error: {describe(exc, _failure_config())}", file=sys.stderr)
        return EXIT_FAILED
    return code
