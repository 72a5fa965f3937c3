"""``sub_issues`` events on a Project's tracking issue: a sub-issue added becomes one of the
Project's deliverables, a sub-issue removed leaves it (unlinked, marked Cancelled).

Issues whose parent tracks no Project are left alone. The tracking issue's progress comment
follows through the Project listener (:class:`bot.sync.progress_comment.ProgressComments`).
"""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from bot.core.issue import IssueState, installation_id, parse_issue_url
from bot.sync.link import Linker

log = logging.getLogger(__name__)

router = Router()


@router.register("sub_issues", action="sub_issue_added")
@router.register("sub_issues", action="sub_issue_removed")
async def sub_issue_changed(event: sansio.Event, *, linker: Linker, **_: Any) -> None:
    """Link or unlink the sub-issue when its parent is a Project's tracking issue."""
    data = event.data
    parent = parse_issue_url(str((data.get("parent_issue") or {}).get("html_url", "")))
    sub_issue = data.get("sub_issue") or {}
    sub = parse_issue_url(str(sub_issue.get("html_url", "")))
    if parent is None or sub is None:
        log.warning("delivery %s: sub_issues event without issue URLs", event.delivery_id)
        return
    lane = linker.lane(parent)
    if lane is None:
        return
    project = await linker.tracked_by(lane, parent)
    if project is None:
        log.info("delivery %s: %s tracks no Project; ignored", event.delivery_id, parent)
        return
    installation = installation_id(data)
    if data.get("action") == "sub_issue_added":
        hint = IssueState.from_api(sub_issue, ref=sub)
        await linker.link(lane, sub, project["id"], installation_id=installation, hint=hint)
        outcome = "linked"
    else:
        result = await linker.unlink(
            lane, sub, installation_id=installation, only_from=project["id"]
        )
        outcome = "unlinked" if result.record else "was not linked"
    log.info(
        "delivery %s: %s sub-issue of %s (Project %s): %s",
        event.delivery_id,
        sub,
        parent,
        project["id"],
        outcome,
    )
