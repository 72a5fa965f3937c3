"""``deliverables-bot airtable-webhook status|ensure|delete``: the Airtable webhooks followed.

- ``status``: one line per followed base — the hook, its expiry, whether Airtable still has
  it and notifies, the last payload and listing, the last error; exit 1 when a hook is
  missing, disabled or failing.
- ``ensure``: create, refresh or re-enable each base's hook as ``serve`` would (and journal
  the sweep of a replaced hook's gap for ``serve``'s worker); needs ``[airtable_to_github]
  enabled``.
- ``delete``: delete each base's hook; the bot stops following until the next ``ensure``
  (or ``serve``, which ensures at start).

They work on the data folder's journal, where ``serve`` keeps the hooks' secrets and
cursors, so run them with the same ``DELIVERABLES_BOT_DATA``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, reading_base, refuse_without_base
from bot.cli.logging_setup import quiet
from bot.config_loader import load_config

ACTIONS = ("status", "ensure", "delete")
OFF = (
    "error: Airtable → GitHub is off: set [airtable_to_github] enabled = true in the"
    " configuration to follow a base"
)
OFF_FOR_ISSUES = (
    "error: Airtable → GitHub is off: set [airtable_to_github] enabled = true in the"
    " configuration to open issues for deliverables typed into Airtable"
)


def status_line(base_id: str, view: Any) -> tuple[str, bool]:
    """One base's status line and whether it is healthy (``view``: a ``HookView``)."""
    from bot.intake.airtable_hook import expiry_seconds

    row = view.row
    if row is None or not row.webhook_id:
        return (
            f"{base_id}: no webhook (deliverables-bot airtable-webhook ensure creates one)",
            False,
        )
    parts = [f"{base_id}: webhook {row.webhook_id}"]
    hook = view.on_airtable
    healthy = True
    if hook is not None and not hook:
        parts.append("NOT on Airtable any more (ensure re-creates it)")
        healthy = False
    elif hook is not None:
        expires = hook.get("expirationTime") or row.expires_at
        moment = expiry_seconds(expires)
        if moment is not None and moment <= time.time():
            parts.append(f"EXPIRED at {expires} (airtable-webhook ensure, or serve, replaces it)")
            healthy = False
        elif not hook.get("isHookEnabled", True):
            parts.append("DISABLED by Airtable (airtable-webhook ensure, or serve, replaces it)")
            healthy = False
        else:
            parts.append(f"expires {expires or 'unknown'}")
        if hook.get("notificationUrl"):
            state = "on" if hook.get("areNotificationsEnabled", True) else "OFF"
            parts.append(f"pings to {hook['notificationUrl']} {state}")
            result = hook.get("lastNotificationResult") or {}
            if result and not result.get("success", True):
                parts.append(f"last ping failed: {(result.get('error') or {}).get('message')}")
        else:
            parts.append("no pings (listed on a timer)")
    body = view.as_json()
    parts.append(f"cursor {row.cursor}")
    parts.append(f"last payload {body['last_payload_at'] or 'never'}")
    parts.append(f"last listed {body['last_listed_at'] or 'never'}")
    if row.gap_since is not None:
        parts.append(f"gap since {body['gap_since']} not swept yet")
    if row.last_error:
        parts.append(f"last error {body['last_error_at']}: {row.last_error}")
    return ", ".join(parts), healthy


async def airtable_webhook_command(config: Any, action: str, out: TextIO) -> int:
    """Run one action over every followed base; the exit code."""
    from bot.app import open_runtime
    from bot.intake.airtable_hook import HookKeeper, followed_bases
    from bot.intake.journal import Journal
    from bot.sync.airtable_follow import BaseFacts

    async with open_runtime(config) as runtime:
        with Journal(config.journal_location) as journal:
            facts = BaseFacts(config, lanes=runtime.lanes)
            keeper = HookKeeper(
                config, lanes=runtime.lanes, journal=journal, metrics=runtime.metrics, facts=facts
            )
            code = EXIT_OK
            for base_id in followed_bases(config):
                if action == "ensure":
                    await keeper.ensure(base_id)
                elif action == "delete":
                    deleted = await keeper.delete(base_id)
                    print(f"{base_id}: " + (f"webhook {deleted} deleted" if deleted
                                            else "no webhook to delete"), file=out)  # fmt: skip
                    continue
                line, healthy = status_line(base_id, await keeper.status(base_id))
                print(line, file=out)
                if not healthy:
                    code = EXIT_FAILED
            return code


def run(args: argparse.Namespace) -> int:
    """Run ``airtable-webhook ACTION``; returns the exit code."""
    quiet(args)
    config = load_config()
    if refuse_without_base(config):
        return EXIT_USAGE
    if args.action == "ensure" and not config.airtable_to_github.enabled:
        print(OFF, file=sys.stderr)
        return EXIT_USAGE
    code = reading_base(config, lambda: airtable_webhook_command(config, args.action, sys.stdout))
    return EXIT_FAILED if code is None else code


def add_parser(commands: Any) -> None:
    """Add ``airtable-webhook`` to the sub-command parsers."""
    parser = commands.add_parser(
        "airtable-webhook",
        help="show, create or refresh, or delete the Airtable webhooks the bot follows",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.set_defaults(func=run)
