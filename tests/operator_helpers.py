"""Helpers shared by the tests of the operator commands (check, sync, audit, report).

Plain functions, not fixtures: seed records into the embedded Airtable, build the
environment a user would set, and run ``python -m bot`` as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.airtable_local.thread import LocalAirtable
from tests.standins.github import GitHubStandIn

BOT = (sys.executable, "-m", "bot")
SECRET = "operator-test-webhook-secret"


def seed(at: LocalAirtable, table: str, rows: list[dict[str, Any]]) -> list[str]:
    """Create records (fields by name; links as record ids) in the seeded base; their ids."""
    assert at.base_id is not None
    ids: list[str] = []
    for start in range(0, len(rows), 10):
        created = at.store.create_records(at.base_id, table, rows[start : start + 10])
        ids.extend(r["id"] for r in created)
    return ids


def record_id(at: LocalAirtable, table: str, name: str) -> str:
    """The id of the record named ``name``."""
    assert at.base_id is not None
    found = [r for r in at.store.all_records(at.base_id, table) if r["fields"].get("Name") == name]
    assert len(found) == 1, f"expected one {table} record named {name!r}, found {found}"
    return str(found[0]["id"])


def records(at: LocalAirtable, table: str) -> list[dict[str, Any]]:
    """Every record of a table, as the store renders them."""
    assert at.base_id is not None
    return at.store.all_records(at.base_id, table)


def operator_env(
    tmp_path: Path,
    at: LocalAirtable | None,
    github: GitHubStandIn | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a user running the bot against the local servers (and nothing of
    the caller's GitHub or Airtable settings)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "AIRTABLE_", "DELIVERABLES_BOT_"))
    }
    env.update(DELIVERABLES_BOT_DATA=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    if at is not None:
        env.update(
            AIRTABLE_TOKEN=at.token,
            AIRTABLE_BASE_ID=str(at.base_id),
            AIRTABLE_ENDPOINT_URL=at.url,
        )
    if github is not None:
        env.update(
            GITHUB_API_URL=github.url,
            GITHUB_APP_ID=str(github.app_id),
            GITHUB_PRIVATE_KEY=github.private_key_pem,
            GITHUB_WEBHOOK_SECRET=SECRET,
        )
    env.update(extra)
    return env


def run_bot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot ARGS`` to its end and return what it printed."""
    return subprocess.run(
        [*BOT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
