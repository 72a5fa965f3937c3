"""``issues`` events: each names an issue whose deliverable must be reconciled."""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from bot.core.issue import STATE_ACTIONS, IssueRef, IssueState, installation_id, parse_issue_url
from bot.sync.reconcile import Reconciler

log = logging.getLogger(__name__)

router = Router()


def issue_ref(event: sansio.Event) -> IssueRef | None:
    """The issue an ``issues`` event is about."""
    issue = event.data.get("issue") or {}
    return parse_issue_url(str(issue.get("html_url", "")))


@router.register("issues")
async def issue_changed(event: sansio.Event, *, reconciler: Reconciler, **_: Any) -> None:
    """Reconcile the deliverable of the issue this event is about."""
    action = event.data.get("action")
    ref = issue_ref(event)
    if ref is None:
        log.warning("delivery %s: issues.%s without an issue URL", event.delivery_id, action)
        return
    hint = IssueState.from_api(event.data["issue"], ref=ref)
    installation = installation_id(event.data)
    if action == "transferred":
        changes = event.data.get("changes") or {}
        new_issue = changes.get("new_issue") or {}
        moved_to = parse_issue_url(str(new_issue.get("html_url", "")))
        if moved_to is None:
            log.warning("delivery %s: %s transferred, new issue unknown", event.delivery_id, ref)
            return
        outcome = await reconciler.reconcile(
            ref,
            installation_id=installation,
            hint=IssueState.from_api(new_issue, ref=moved_to),
            moved_to=moved_to,
        )
    elif action == "deleted":
        outcome = await reconciler.reconcile(
            ref, installation_id=installation, hint=hint, deleted=True
        )
    elif action in STATE_ACTIONS:
        outcome = await reconciler.reconcile(ref, installation_id=installation, hint=hint)
    else:
        return
    log.info("delivery %s: issues.%s %s → %s", event.delivery_id, action, ref, outcome.kind)
