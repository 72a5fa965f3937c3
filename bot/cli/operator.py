"""The operator sub-commands of ``deliverables-bot``: check, sync, audit, report.

Each ``_cmd_*`` parses nothing and decides nothing: it loads the configuration, hands over to
the module that owns the work (:mod:`bot.cli.check`, :mod:`bot.sync.sweep`, :mod:`bot.cli.audit`,
:mod:`bot.cli.report`), prints, and returns the exit code. :func:`add_operator_commands` adds
them to the parser of :mod:`bot.cli.main`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from bot.clients.airtable import AirtableError
from bot.clients.errors import OperatorError, airtable_problem_for
from bot.config import Config, load_config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
NO_BASE = "error: AIRTABLE_BASE_ID is not set (and no [bases] in the configuration)"
AIRTABLE_FAILED = "error: {error}"
REPORT_WRITTEN = "report written to {path}"
REPORT_UNWRITABLE = "cannot write the report to {path}: {reason}"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def _quiet(args: argparse.Namespace) -> None:
    """Operator commands print their own results; routine log lines only with ``-v``."""
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(logging.WARNING)


def _needs_base(config: Config) -> bool:
    if config.airtable_base_id or config.bases_by_owner:
        return False
    print(NO_BASE, file=sys.stderr)
    return True


def _today() -> Any:
    from bot.sync.renewal import today_utc

    return today_utc()


def _cmd_check(args: argparse.Namespace) -> int:
    from bot.cli.check import render, run_checks

    _quiet(args)
    results = asyncio.run(run_checks(without_github=args.without_github))
    print(render(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def _cmd_sync(args: argparse.Namespace) -> int:
    from bot.sync.sweep import sync_command

    _quiet(args)
    config = load_config()
    if _needs_base(config):
        return EXIT_USAGE
    repo = tuple(args.repo.lower().split("/", 1)) if args.repo else None
    try:
        return asyncio.run(sync_command(config, repo=repo, dry_run=args.dry_run, out=sys.stdout))
    except AirtableError as exc:
        print(AIRTABLE_FAILED.format(error=airtable_problem_for(config, exc)), file=sys.stderr)
        return EXIT_FAILED


def _cmd_audit(args: argparse.Namespace) -> int:
    from bot.cli.audit import audit_command

    _quiet(args)
    config = load_config()
    if _needs_base(config):
        return EXIT_USAGE
    try:
        text, ok = asyncio.run(audit_command(config, output_format=args.format, today=_today()))
    except AirtableError as exc:
        print(AIRTABLE_FAILED.format(error=airtable_problem_for(config, exc)), file=sys.stderr)
        return EXIT_FAILED
    print(text)
    return EXIT_OK if ok else EXIT_FAILED


def _cmd_report(args: argparse.Namespace) -> int:
    from bot.cli.report import ReportError, report_command

    _quiet(args)
    config = load_config()
    if not (config.airtable_base_id or config.bases_by_owner):
        print(NO_BASE, file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output) if args.output else None
    if output is not None:
        # Before reading the base: a path that cannot be written fails at once.
        _writable_or_fail(output)
    try:
        text = asyncio.run(
            report_command(
                config,
                output_format=args.format,
                today=_today(),
                engagement=args.engagement,
                project=args.project,
            )
        )
    except AirtableError as exc:
        print(AIRTABLE_FAILED.format(error=airtable_problem_for(config, exc)), file=sys.stderr)
        return EXIT_FAILED
    except ReportError as exc:
        print(AIRTABLE_FAILED.format(error=exc), file=sys.stderr)
        return EXIT_FAILED
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OperatorError(
                REPORT_UNWRITABLE.format(path=output, reason=exc.strerror or exc)
            ) from exc
        print(REPORT_WRITTEN.format(path=output), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _writable_or_fail(path: Path) -> None:
    """Raise :class:`OperatorError` when ``path`` cannot be written (no such folder, a
    folder in its place, no permission); a file already there is left as it is."""
    if path.is_dir():
        raise OperatorError(REPORT_UNWRITABLE.format(path=path, reason="it is a folder"))
    parent = path.parent
    if not parent.is_dir():
        reason = "no such folder" if not parent.exists() else "its parent is not a folder"
        raise OperatorError(REPORT_UNWRITABLE.format(path=path, reason=f"{reason}: {parent}"))
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OperatorError(REPORT_UNWRITABLE.format(path=path, reason="permission denied"))


def _repo_name(text: str) -> str:
    if not _REPO.match(text):
        raise argparse.ArgumentTypeError(f"expected OWNER/REPO, got {text!r}")
    return text


def add_operator_commands(commands: Any) -> None:
    """Add check, sync, audit and report to the sub-command parsers of the CLI."""
    check = commands.add_parser(
        "check", help="check the configuration, the Airtable base's schema and the GitHub App"
    )
    check.add_argument(
        "--without-github",
        action="store_true",
        help="running without GitHub App credentials is intended: skip that check",
    )
    check.set_defaults(func=_cmd_check)

    sync = commands.add_parser(
        "sync", help="reconcile every deliverable with its issue and link labelled issues"
    )
    sync.add_argument("--repo", type=_repo_name, help="only this repository (OWNER/REPO)")
    sync.add_argument(
        "--dry-run", action="store_true", help="write nothing; print what would change"
    )
    sync.set_defaults(func=_cmd_sync)

    audit = commands.add_parser("audit", help="check the process rules over the base")
    audit.add_argument("--format", choices=("text", "json"), default="text")
    audit.set_defaults(func=_cmd_audit)

    report = commands.add_parser("report", help="progress of engagements, projects, deliverables")
    report.add_argument("--engagement", metavar="NAME", help="only this Engagement")
    report.add_argument("--project", metavar="NAME", help="only this Project")
    report.add_argument("--format", choices=("md", "html"), default="md")
    report.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    report.set_defaults(func=_cmd_report)
