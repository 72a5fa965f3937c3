"""The embedded default: a demo webhook secret, and ``demo-deliver``'s signed sample deliveries.

``serve --demo`` runs the bot on the embedded Airtable-compatible server seeded with the
demo base; ``deliverables-bot demo-deliver ACTION N`` sends it a signed delivery for demo
issue N, as GitHub would, built and signed by :mod:`bot.cli.demo_events` (the tests' builder
too):

- ``closed``, ``reopened``, ``assigned``, ``unassigned``: an ``issues`` delivery;
- ``comment N "/project status"``: a new comment (``issue_comment`` ``created``), whose
  slash-commands the bot runs (``--user`` writes it: the demo's people have their roles,
  :mod:`bot.cli.demo_github`);
- ``labeled N --label "project: Setup workshop hub"``: ``issues`` ``labeled``, a project
  label linking the issue to the Project it names (the demo Project's label by default).

The issue is shown open, with its demo title and assignees. It prints the bot's answer (the
bot's reply itself is logged by ``serve``); exit 0 when the delivery is accepted.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli.demo_events import comment_created_event, issues_event, make_issue, prepare_delivery
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.config import Config
from bot.config_loader import load_config

DEMO_OWNER = "example-org"
DEMO_REPO = "infrastructure"
DEMO_ISSUES = {
    1: ("Deploy the hub", ["alice"]),
    2: ("Configure login", ["bob"]),
    3: ("Load workshop materials", []),
}
DEMO_ACTIONS = ("closed", "reopened", "assigned", "unassigned", "opened", "labeled")
# What ``demo-deliver`` sends: these ``issues`` actions, and ``comment`` (issue_comment).
DELIVER_ACTIONS = ("closed", "reopened", "assigned", "unassigned", "comment", "labeled")
DEMO_PROJECT = "Setup workshop hub"
DEMO_AUTHOR = "alice"
DEMO_NEWCOMER = "carol"  # whom ``assigned`` adds
DEMO_INSTALLATION_ID = 1
DEMO_CREATED_AT = "2026-01-05T09:00:00Z"


def demo_secret(data_dir: Path) -> str:
    """The demo's webhook secret: made once at random and kept in the data folder."""
    path = data_dir / "demo-webhook-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(20)
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return secret


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def demo_issue(number: int, *, assignees: list[str] | None = None) -> dict[str, Any]:
    """Demo issue ``number`` as the REST API shows it: open, with its title and assignees
    (or ``assignees``). ValueError for a number the demo has no issue of."""
    if number not in DEMO_ISSUES:
        raise ValueError(f"the demo has issues {sorted(DEMO_ISSUES)}, not {number}")
    title, demo_assignees = DEMO_ISSUES[number]
    return make_issue(
        DEMO_OWNER,
        DEMO_REPO,
        number,
        title=title,
        user=DEMO_AUTHOR,
        assignees=demo_assignees if assignees is None else assignees,
        created_at=DEMO_CREATED_AT,
        updated_at=_now(),
    )


def demo_payload(
    action: str, number: int, *, label: str | None = None, sender: str = DEMO_AUTHOR
) -> dict[str, Any]:
    """An ``issues`` payload for demo issue ``number`` after ``action`` (``labeled`` adds
    ``label``, by default the demo Project's project label), sent by ``sender``."""
    if action not in DEMO_ACTIONS:
        raise ValueError(f"demo actions are {', '.join(DEMO_ACTIONS)}")
    _, assignees = DEMO_ISSUES.get(number, ("", []))
    # ``unassigned`` leaves the issue without assignees, naming the one it had (if any).
    issue = demo_issue(number, assignees=[] if action == "unassigned" else None)
    assignee = {"assigned": DEMO_NEWCOMER, "unassigned": (assignees or [DEMO_AUTHOR])[0]}
    return issues_event(
        action,
        issue,
        sender=sender,
        assignee=assignee.get(action),
        label=(label or f"project: {DEMO_PROJECT}") if action == "labeled" else None,
        installation_id=DEMO_INSTALLATION_ID,
    )


def demo_comment_payload(number: int, body: str, *, user: str = DEMO_AUTHOR) -> dict[str, Any]:
    """An ``issue_comment`` ``created`` payload: ``user``'s new comment ``body`` on demo
    issue ``number`` (a fresh comment id each time, as each comment is new)."""
    if not body.strip():
        raise ValueError('comment needs the comment\'s text, such as "/project status"')
    return comment_created_event(
        demo_issue(number),
        body,
        user=user,
        comment_id=1_000_000_000 + secrets.randbelow(1_000_000_000),
        created_at=_now(),
        installation_id=DEMO_INSTALLATION_ID,
    )


def demo_delivery(args: argparse.Namespace, config: Config) -> tuple[str, dict[str, Any]]:
    """The event and payload ``demo-deliver`` sends for its arguments; ValueError (its
    message the one line to print) for arguments that do not fit the action."""
    body = getattr(args, "body", None)
    if args.action == "comment":
        return "issue_comment", demo_comment_payload(args.issue, body or "", user=args.user)
    if body is not None:
        raise ValueError(f"{args.action} takes no comment text (only comment does)")
    if args.label is not None and args.action != "labeled":
        raise ValueError(f"--label is for labeled, not {args.action}")
    label = args.label or f"{config.labels.project_prefix}{DEMO_PROJECT}"
    return "issues", demo_payload(args.action, args.issue, label=label, sender=args.user)


def deliver(args: argparse.Namespace) -> int:
    """``demo-deliver``: send the delivery, print the bot's answer; exit 0 when accepted."""
    import requests

    config = load_config()
    secret = config.github_webhook_secret or demo_secret(config.data_dir)
    try:
        event, payload = demo_delivery(args, config)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    body, headers = prepare_delivery(event, payload, secret=secret)
    try:
        response = requests.post(args.url, data=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        print(f"error: could not reach {args.url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{response.status_code} {response.text.strip()}")
    return EXIT_OK if response.status_code < 300 else EXIT_FAILED


def add_parser(commands: Any) -> None:
    """Add ``demo-deliver`` to the sub-command parsers."""
    parser = commands.add_parser(
        "demo-deliver", help="send a signed sample delivery for a demo issue to a running bot"
    )
    parser.add_argument("action", choices=DELIVER_ACTIONS)
    parser.add_argument("issue", type=int, help="demo issue number (1, 2 or 3)")
    parser.add_argument(
        "body",
        nargs="?",
        default=None,
        help='for comment: the comment\'s text, a slash-command such as "/project status"',
    )
    parser.add_argument(
        "--label",
        default=None,
        help=f'for labeled: the label added (default "project: {DEMO_PROJECT}")',
    )
    parser.add_argument(
        "--user",
        default=DEMO_AUTHOR,
        help=f"who writes the comment or adds the label (default {DEMO_AUTHOR}; the demo's "
        "people: alice maintain, bob write, carol read)",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080/webhook")
    parser.set_defaults(func=deliver)
