"""``check``'s lines for Airtable → GitHub: the App credentials it needs, and each base's hook.

With ``[airtable_to_github] enabled``, one line per followed base says whether the hook the
journal names is on Airtable, enabled and notifying, when it expires, when its payloads
were last listed and the last error (the line ``airtable-webhook status`` prints). Listing
the base's hooks also proves the token has the ``webhook:manage`` scope: a 403 is worded as
every Airtable failure is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cli.airtable_webhook import status_line
from bot.cli.check_result import CheckResult

if TYPE_CHECKING:
    from bot.app import Runtime

NAME = "Airtable webhook"
NEEDS_APP = (
    "Airtable → GitHub is on but opens issues as the GitHub App: set GITHUB_APP_ID and "
    "GITHUB_PRIVATE_KEY"
)
NO_JOURNAL = "no journal yet at {path}: serve creates each base's webhook when it starts"


async def check_webhooks(runtime: Runtime) -> list[CheckResult]:
    """The Airtable → GitHub lines (none while it is off)."""
    from bot.clients.airtable import AirtableError
    from bot.clients.errors import airtable_problem_for
    from bot.intake.airtable_hook import HookKeeper, followed_bases
    from bot.intake.journal import Journal
    from bot.sync.airtable_follow import BaseFacts

    config = runtime.config
    if not config.airtable_to_github.enabled:
        return []
    results = []
    if not config.has_github_app:
        results.append(CheckResult("Airtable → GitHub", False, NEEDS_APP))
    if not config.journal_exists:
        detail = NO_JOURNAL.format(path=config.journal_description)
        return [*results, CheckResult(NAME, True, detail, skipped=True)]
    with Journal(config.journal_location) as journal:
        keeper = HookKeeper(
            config,
            lanes=runtime.lanes,
            journal=journal,
            metrics=runtime.metrics,
            facts=BaseFacts(config, lanes=runtime.lanes),
        )
        for base_id in followed_bases(config):
            try:
                view = await keeper.status(base_id)
            except AirtableError as exc:
                results.append(
                    CheckResult(NAME, False, f"{base_id}: {airtable_problem_for(config, exc)}")
                )
                continue
            line, healthy = status_line(base_id, view)
            results.append(CheckResult(NAME, healthy, line))
    return results
