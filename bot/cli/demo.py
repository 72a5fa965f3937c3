"""The embedded default: a demo webhook secret, and ``demo-deliver``'s signed sample deliveries.

``serve --demo`` runs the bot on the embedded Airtable-compatible server seeded with the
demo base; ``deliverables-bot demo-deliver ACTION N`` sends it a signed ``issues`` delivery
for demo issue N, as GitHub would, built and signed by :mod:`bot.cli.demo_events` (the
tests' builder too). It prints the bot's answer; exit 0 when it is accepted.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli.demo_events import issues_event, make_issue, prepare_delivery
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.config_loader import load_config

DEMO_OWNER = "example-org"
DEMO_REPO = "infrastructure"
DEMO_ISSUES = {
    1: ("Deploy the hub", ["alice"]),
    2: ("Configure login", ["bob"]),
    3: ("Load workshop materials", []),
}
DEMO_ACTIONS = ("closed", "reopened", "assigned", "unassigned", "opened")
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


def demo_payload(action: str, number: int) -> dict[str, Any]:
    """An ``issues`` payload for demo issue ``number`` after ``action``."""
    if number not in DEMO_ISSUES:
        raise ValueError(f"the demo has issues {sorted(DEMO_ISSUES)}, not {number}")
    if action not in DEMO_ACTIONS:
        raise ValueError(f"demo actions are {', '.join(DEMO_ACTIONS)}")
    title, assignees = DEMO_ISSUES[number]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # ``unassigned`` leaves the issue without assignees, naming the one it had (if any).
    issue = make_issue(
        DEMO_OWNER,
        DEMO_REPO,
        number,
        title=title,
        user=DEMO_AUTHOR,
        assignees=[] if action == "unassigned" else assignees,
        created_at=DEMO_CREATED_AT,
        updated_at=now,
    )
    assignee = {"assigned": DEMO_NEWCOMER, "unassigned": (assignees or [DEMO_AUTHOR])[0]}
    return issues_event(
        action,
        issue,
        sender=DEMO_AUTHOR,
        assignee=assignee.get(action),
        installation_id=DEMO_INSTALLATION_ID,
    )


def deliver(args: argparse.Namespace) -> int:
    """``demo-deliver``: send the delivery, print the bot's answer; exit 0 when accepted."""
    import requests

    config = load_config()
    secret = config.github_webhook_secret or demo_secret(config.data_dir)
    try:
        payload = demo_payload(args.action, args.issue)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    body, headers = prepare_delivery("issues", payload, secret=secret)
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
    parser.add_argument("action", choices=("closed", "reopened", "assigned", "unassigned"))
    parser.add_argument("issue", type=int, help="demo issue number (1, 2 or 3)")
    parser.add_argument("--url", default="http://127.0.0.1:8080/webhook")
    parser.set_defaults(func=deliver)
