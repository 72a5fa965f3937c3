"""The embedded default: a demo webhook secret, and signed sample deliveries for the demo base.

``serve --demo`` runs the bot on the embedded Airtable-compatible server seeded with the
demo base; ``deliverables-bot demo-deliver`` sends it a signed ``issues`` delivery for one
of the demo issues, as GitHub would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEMO_OWNER = "example-org"
DEMO_REPO = "infrastructure"
DEMO_ISSUES = {
    1: ("Deploy the hub", ["alice"]),
    2: ("Configure login", ["bob"]),
    3: ("Load workshop materials", []),
}
DEMO_ACTIONS = ("closed", "reopened", "assigned", "unassigned", "opened")


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


def _user(login: str, user_id: int) -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id}",
        "type": "User",
        "html_url": f"https://github.com/{login}",
    }


def demo_payload(action: str, number: int) -> dict[str, Any]:
    """An ``issues`` payload for demo issue ``number`` after ``action``."""
    if number not in DEMO_ISSUES:
        raise ValueError(f"the demo has issues {sorted(DEMO_ISSUES)}, not {number}")
    if action not in DEMO_ACTIONS:
        raise ValueError(f"demo actions are {', '.join(DEMO_ACTIONS)}")
    title, assignees = DEMO_ISSUES[number]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    closed = action == "closed"
    if action == "assigned":
        assignees = [*assignees, "carol"]
    elif action == "unassigned":
        assignees = []
    repo_url = f"https://github.com/{DEMO_OWNER}/{DEMO_REPO}"
    issue = {
        "id": 1000 + number,
        "node_id": f"I_demo{number}",
        "number": number,
        "title": title,
        "state": "closed" if closed else "open",
        "state_reason": "completed" if closed else ("reopened" if action == "reopened" else None),
        "closed_at": now if closed else None,
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": now,
        "html_url": f"{repo_url}/issues/{number}",
        "assignees": [_user(login, 10 + i) for i, login in enumerate(assignees)],
        "labels": [],
        "user": _user("alice", 10),
        "body": None,
    }
    return {
        "action": action,
        "issue": issue,
        "repository": {
            "id": 500,
            "name": DEMO_REPO,
            "full_name": f"{DEMO_OWNER}/{DEMO_REPO}",
            "html_url": repo_url,
            "owner": _user(DEMO_OWNER, 400),
        },
        "sender": _user("alice", 10),
        "installation": {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
    }


def signed_delivery(
    event: str, payload: dict[str, Any], secret: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery signed as GitHub signs it (HMAC-SHA256)."""
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
        "User-Agent": "GitHub-Hookshot/demo",
    }
    return body, headers
