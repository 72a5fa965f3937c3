"""``deliverables-bot audit``'s arguments and exit code; the rules are :mod:`bot.cli.audit`'s.

Exit 0 when every rule holds and everything could be checked (GitHub read, no repository
skipped), 1 otherwise or when Airtable fails, 2 without a base. Kept apart from the rules so
that building the parser does not load the Airtable and GitHub clients.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.demo_base import add_demo_option, on_the_demo
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, reading_base, refuse_without_base
from bot.cli.logging_setup import quiet
from bot.config_loader import load_config
from bot.core.renewal_rules import today_utc


def run(args: argparse.Namespace) -> int:
    """Audit every base and print the result; returns the exit code."""
    from bot.cli.audit import audit_command

    quiet(args)
    config = on_the_demo(args, load_config())
    if refuse_without_base(config):
        return EXIT_USAGE
    audited = reading_base(
        config, lambda: audit_command(config, output_format=args.format, today=today_utc())
    )
    if audited is None:
        return EXIT_FAILED
    text, ok = audited
    print(text)
    return EXIT_OK if ok else EXIT_FAILED


def add_parser(commands: Any) -> None:
    """Add ``audit`` to the sub-command parsers."""
    parser = commands.add_parser("audit", help="check the process rules over the base")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_demo_option(parser)
    parser.set_defaults(func=run)
