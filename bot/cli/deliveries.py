"""``deliverables-bot deliveries list|retry``: the journal of webhook deliveries.

``list`` shows the newest deliveries (``--failed``: only those that failed; ``--json``: as
JSON); ``retry ID`` puts one back in the queue, for a running bot to take. Without a
journal (no delivery received yet) ``list`` says so and ``retry`` fails naming the id; the
journal is never created here.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from bot.cli.exits import EXIT_FAILED, EXIT_OK
from bot.config_loader import load_config


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def list_deliveries(args: argparse.Namespace) -> int:
    """``deliveries list``: print the newest deliveries, as lines or JSON."""
    from bot.intake.journal import Journal

    config = load_config()
    if not config.journal_exists:
        if args.json:
            print("[]")
        else:
            print(f"no journal at {config.journal_description}: no delivery has been received yet")
        return EXIT_OK
    with Journal(config.journal_location) as journal:
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


def retry_delivery(args: argparse.Namespace) -> int:
    """``deliveries retry ID``: put a delivery back in the queue."""
    from bot.intake.journal import Journal

    config = load_config()
    if not config.journal_exists:
        print(
            f"no delivery {args.id}: there is no journal at {config.journal_description}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    with Journal(config.journal_location) as journal:
        try:
            delivery = journal.retry(args.id)
        except KeyError:
            print(
                f"no delivery {args.id} in the journal at {config.journal_description}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        except ValueError as exc:
            print(f"cannot retry delivery {args.id}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"delivery {delivery.id} ({delivery.event}) is pending again; a running bot takes it")
    return EXIT_OK


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_parser(commands: Any) -> None:
    """Add ``deliveries`` and its ``list`` and ``retry`` to the sub-command parsers."""
    deliveries = commands.add_parser("deliveries", help="the journal of webhook deliveries")
    journal_commands = deliveries.add_subparsers(dest="journal_command", required=True)
    listing = journal_commands.add_parser("list", help="list recent deliveries")
    listing.add_argument("--failed", action="store_true", help="only those that failed")
    listing.add_argument("--limit", type=_positive_int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_deliveries)
    retry = journal_commands.add_parser("retry", help="put a delivery back in the queue")
    retry.add_argument("id", help="the delivery id (X-GitHub-Delivery)")
    retry.set_defaults(func=retry_delivery)
