"""The command line, ``deliverables-bot`` (and ``python -m bot``): one parser, then hand over.

Each sub-command lives in its own module (:data:`COMMANDS`, in the order ``--help`` lists
them), which adds its parser and runs it: a function taking the parsed arguments and
returning an exit code (:mod:`bot.cli.exits`); the work lives in the modules it calls.
Configuration errors are printed one per line and exit 2. Any other failure an operator can
meet (GitHub or Airtable refusing, failing, not answering, a path that cannot be written) is
one line (worded by :mod:`bot.clients.errors`) and exit 1; log lines carry an exception's
one-line description, not its traceback (:mod:`bot.cli.logging_setup`). Tracebacks are for
``--debug`` (or ``LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from bot import __version__
from bot.cli import (
    airtable_local,
    airtable_webhook,
    audit_args,
    check,
    deliveries,
    demo,
    init_base,
    register,
    report_args,
    serve,
    sync,
)
from bot.cli.env_file import load_env_file
from bot.cli.exits import EXIT_FAILED, EXIT_USAGE
from bot.cli.logging_setup import debugging, setup_logging
from bot.config import Config, ConfigError
from bot.config_loader import load_config

COMMANDS = (
    serve,
    register,
    init_base,
    airtable_local,
    deliveries,
    demo,
    check,
    sync,
    audit_args,
    report_args,
    airtable_webhook,
)
DEBUG_HELP = "show tracebacks of failures (also LOG_LEVEL=DEBUG)"
INTERRUPTED = 130


def _add_debug_option(parser: argparse.ArgumentParser) -> None:
    """``--debug`` on every sub-command too, so it may follow the command's name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument(
                    "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
                )
                _add_debug_option(sub)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="deliverables-bot",
        description="Keep an Airtable base of delivery work true to GitHub issues.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    _add_debug_option(parser)
    return parser


def _failure_config() -> Config | None:
    """The configuration, to word a failure with its URLs and timeouts (None if it does
    not load)."""
    try:
        return load_config()
    except Exception:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    problem = load_env_file()  # the .env file, under what the environment already sets
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(argv)
    debug = debugging(args)
    if debug:
        args.verbose = True  # the operator commands keep their log lines too
    setup_logging(debug)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print("configuration problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        from bot.clients.errors import describe

        if debug:
            traceback.print_exc()
        print(f"error: {describe(exc, _failure_config())}", file=sys.stderr)
        return EXIT_FAILED
    return code
