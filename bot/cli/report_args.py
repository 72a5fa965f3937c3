"""``deliverables-bot report``'s arguments, output file and exit code; the report is
:mod:`bot.cli.report`'s.

``--output FILE`` is checked before the base is read (a path that cannot be written fails at
once, one line, exit 1); the report then goes there, or to stdout. Kept apart from the
report so that building the parser does not load the Airtable and GitHub clients.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bot.cli.demo_base import add_demo_option, on_the_demo
from bot.cli.exits import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    print_failure,
    reading_base,
    refuse_without_base,
)
from bot.cli.logging_setup import quiet
from bot.config_loader import load_config
from bot.core.renewal_rules import today_utc

REPORT_WRITTEN = "report written to {path}"
REPORT_UNWRITABLE = "cannot write the report to {path}: {reason}"


def run(args: argparse.Namespace) -> int:
    """Make the report and write or print it; returns the exit code."""
    from bot.cli.report import EngagementNeeded, ReportError, report_command
    from bot.clients.errors import OperatorError

    quiet(args)
    config = on_the_demo(args, load_config())
    if refuse_without_base(config):
        return EXIT_USAGE
    output = Path(args.output) if args.output else None
    if output is not None:
        problem = _unwritable(output)
        if problem:
            raise OperatorError(REPORT_UNWRITABLE.format(path=output, reason=problem))
    try:
        text = reading_base(
            config,
            lambda: report_command(
                config,
                output_format=args.format,
                today=today_utc(),
                engagement=args.engagement,
                project=args.project,
                internal=args.all,
            ),
        )
    except EngagementNeeded as exc:
        print_failure(exc)
        return EXIT_USAGE
    except ReportError as exc:
        return print_failure(exc)
    if text is None:
        return EXIT_FAILED
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or exc
        raise OperatorError(REPORT_UNWRITABLE.format(path=output, reason=reason)) from exc
    print(REPORT_WRITTEN.format(path=output), file=sys.stderr)
    return EXIT_OK


def _unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written (no such folder, a folder in its place, no
    permission), or None; a file already there is left as it is."""
    if path.is_dir():
        return "it is a folder"
    parent = path.parent
    if not parent.is_dir():
        reason = "no such folder" if not parent.exists() else "its parent is not a folder"
        return f"{reason}: {parent}"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "permission denied"
    return None


def add_parser(commands: Any) -> None:
    """Add ``report`` to the sub-command parsers."""
    parser = commands.add_parser("report", help="progress of engagements, projects, deliverables")
    parser.add_argument(
        "--engagement", metavar="NAME", help="the Engagement to report on (needed if several)"
    )
    parser.add_argument("--project", metavar="NAME", help="only this Project")
    parser.add_argument(
        "--all",
        action="store_true",
        help="internal overview: every Engagement, with Opportunities and renewals",
    )
    parser.add_argument("--format", choices=("md", "html"), default="md")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    add_demo_option(parser)
    parser.set_defaults(func=run)
