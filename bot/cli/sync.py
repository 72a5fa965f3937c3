"""``deliverables-bot sync``: reconcile every deliverable with its issue, link labelled issues.

The work is :func:`bot.app.sync_command`'s (the sweep of :mod:`bot.sync.sweep`, wired as for
serve's scheduled sync); this module parses ``--repo``, ``--dry-run`` and
``--open-missing-issues`` (Airtable → GitHub's issues for the records that have none:
:meth:`bot.sync.issue_opener.IssueOpener.open_missing`), refuses without a base, and turns
an Airtable failure into its one line.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from bot.cli.airtable_webhook import OFF_FOR_ISSUES
from bot.cli.exits import EXIT_FAILED, EXIT_USAGE, reading_base, refuse_without_base
from bot.cli.logging_setup import quiet
from bot.config_loader import load_config

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def run(args: argparse.Namespace) -> int:
    """Run the sync; returns the exit code."""
    from bot.app import sync_command

    quiet(args)
    config = load_config()
    if refuse_without_base(config):
        return EXIT_USAGE
    repo = tuple(args.repo.lower().split("/", 1)) if args.repo else None
    if args.open_missing_issues and not config.airtable_to_github.enabled:
        print(OFF_FOR_ISSUES, file=sys.stderr)
        return EXIT_USAGE
    code = reading_base(
        config,
        lambda: sync_command(
            config,
            repo=repo,
            dry_run=args.dry_run,
            out=sys.stdout,
            open_missing=args.open_missing_issues,
        ),
    )
    return EXIT_FAILED if code is None else code


def _repo_name(text: str) -> str:
    if not _REPO.match(text):
        raise argparse.ArgumentTypeError(f"expected OWNER/REPO, got {text!r}")
    return text


def add_parser(commands: Any) -> None:
    """Add ``sync`` to the sub-command parsers."""
    parser = commands.add_parser(
        "sync", help="reconcile every deliverable with its issue and link labelled issues"
    )
    parser.add_argument("--repo", type=_repo_name, help="only this repository (OWNER/REPO)")
    parser.add_argument(
        "--dry-run", action="store_true", help="write nothing; print what would change"
    )
    parser.add_argument(
        "--open-missing-issues",
        action="store_true",
        help="then open the issues Airtable → GitHub would open for deliverables and Projects"
        " without one, including those from before it was turned on",
    )
    parser.set_defaults(func=run)
