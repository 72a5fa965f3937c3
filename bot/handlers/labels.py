"""``issues`` ``labeled``/``unlabeled`` with a project label (``project: NAME``): link and
unlink the issue as ``/deliverable link`` and ``/deliverable unlink`` would.

A label naming no Project gets one reply on the issue, found again by its hidden marker, so
adding and removing the label repeatedly does not repeat it. The blocked label needs
nothing here: the reconcile of ``handlers.issues`` reads it from the issue's labels.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from bot.clients.airtable import AirtableLane
from bot.clients.github import GitHubGateway
from bot.clients.github_protocols import CommentWriter
from bot.config import Config
from bot.core.issue import IssueRef, IssueState, installation_id, parse_issue_url
from bot.core.labels import project_name
from bot.core.markdown import code
from bot.core.projects import ProjectMatch
from bot.sync.announce import find_marked_comment
from bot.sync.link import Linker

log = logging.getLogger(__name__)

router = Router()

UNKNOWN_LABEL_MARKER = "<!-- deliverables-bot:unknown-project-label:{digest} -->"
UNKNOWN_LABEL_COMMENT = """\
{marker}
The label {label} names no Project, so this issue was not linked to one. {closest}\
Rename the label to `{prefix}` followed by the Project's exact name, or use \
`/{word} link <project>`.
"""
CLOSEST = "The closest names are {names}. "
AMBIGUOUS = "Several Projects have that name: {ids}. "


@dataclass(frozen=True)
class _LabelEvent:
    """A project label added or removed, with what it takes to act on it."""

    label: str
    name: str
    issue: dict[str, Any]
    ref: IssueRef
    lane: AirtableLane
    installation_id: int | None
    match: ProjectMatch  # the Project the label names, or why none


async def _project_label_event(
    event: sansio.Event, linker: Linker, config: Config, *, suggest: bool
) -> _LabelEvent | None:
    """The project label of a ``labeled``/``unlabeled`` event and the Project it names (with
    close names when ``suggest``); None for any other label, or when no base serves the
    issue's owner."""
    label = str((event.data.get("label") or {}).get("name") or "")
    name = project_name(label, config.labels.project_prefix)
    issue = event.data.get("issue") or {}
    ref = parse_issue_url(str(issue.get("html_url", "")))
    if name is None or ref is None:
        return None
    lane = linker.lane(ref)
    if lane is None:
        return None
    match = await linker.find(lane, name, near=ref if suggest else None)
    return _LabelEvent(label, name, issue, ref, lane, installation_id(event.data), match)


@router.register("issues", action="labeled")
async def project_label_added(
    event: sansio.Event, *, linker: Linker, github: GitHubGateway, config: Config, **_: Any
) -> None:
    """Link the issue to the Project its new label names (or say once that none has it)."""
    found = await _project_label_event(event, linker, config, suggest=True)
    if found is None:
        return
    project = found.match.project
    if project is None:
        await _say_no_project(found, github, config, event.delivery_id)
        return
    hint = IssueState.from_api(found.issue, ref=found.ref)
    await linker.link(
        found.lane, found.ref, project["id"], installation_id=found.installation_id, hint=hint
    )
    warning = await linker.warning(found.lane, project)
    if warning:
        log.warning(
            "delivery %s: %s linked by label, but %s", event.delivery_id, found.ref, warning
        )


async def _say_no_project(
    found: _LabelEvent, github: CommentWriter, config: Config, delivery_id: str
) -> None:
    """Reply once (found again by its marker) that the label names no Project, or several."""
    digest = hashlib.sha256(found.name.casefold().encode("utf-8")).hexdigest()[:16]
    marker = UNKNOWN_LABEL_MARKER.format(digest=digest)
    if await find_marked_comment(github, found.ref, marker, found.installation_id) is not None:
        return
    closest = ""
    if found.match.candidates:
        closest = AMBIGUOUS.format(ids=", ".join(code(r["id"]) for r in found.match.candidates))
    elif found.match.suggestions:
        closest = CLOSEST.format(names=", ".join(code(s) for s in found.match.suggestions))
    body = UNKNOWN_LABEL_COMMENT.format(
        marker=marker,
        label=code(found.label),
        closest=closest,
        prefix=config.labels.project_prefix,
        word=config.commands.deliverable,
    )
    await github.create_comment(found.ref, body, found.installation_id)
    log.info("delivery %s: %s: label %r names no Project", delivery_id, found.ref, found.label)


@router.register("issues", action="unlabeled")
async def project_label_removed(
    event: sansio.Event, *, linker: Linker, config: Config, **_: Any
) -> None:
    """Unlink the issue from the Project the removed label named, if linked to it."""
    found = await _project_label_event(event, linker, config, suggest=False)
    if found is None or found.match.project is None:
        return
    result = await linker.unlink(
        found.lane,
        found.ref,
        installation_id=found.installation_id,
        only_from=found.match.project["id"],
    )
    log.info(
        "delivery %s: %s: label %r removed → %s",
        event.delivery_id,
        found.ref,
        found.label,
        "unlinked" if result.record else "was not linked to it",
    )
