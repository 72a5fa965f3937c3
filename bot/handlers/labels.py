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
from bot.config import Config
from bot.core.issue import IssueRef, IssueState, parse_issue_url
from bot.core.labels import project_name
from bot.core.markdown import code
from bot.sync.link import Linker, find_marked_comment
from bot.sync.reconcile import Reconciler

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
    linker: Linker
    lane: AirtableLane
    installation_id: int | None


def _project_label_event(
    event: sansio.Event, reconciler: Reconciler, github: GitHubGateway, config: Config
) -> _LabelEvent | None:
    """The project label of a ``labeled``/``unlabeled`` event; None for any other label, or
    when no base serves the issue's owner."""
    label = str((event.data.get("label") or {}).get("name") or "")
    name = project_name(label, config.labels.project_prefix)
    issue = event.data.get("issue") or {}
    ref = parse_issue_url(str(issue.get("html_url", "")))
    if name is None or ref is None:
        return None
    linker = Linker(config, reconciler=reconciler, github=github)
    lane = linker.lane(ref)
    if lane is None:
        return None
    installation_id = (event.data.get("installation") or {}).get("id")
    return _LabelEvent(label, name, issue, ref, linker, lane, installation_id)


@router.register("issues", action="labeled")
async def project_label_added(
    event: sansio.Event,
    *,
    reconciler: Reconciler,
    github: GitHubGateway,
    config: Config,
    **_: Any,
) -> None:
    """Link the issue to the Project its new label names (or say once that none has it)."""
    found = _project_label_event(event, reconciler, github, config)
    if found is None:
        return
    match = await found.linker.find(found.lane, found.name, near=found.ref)
    if match.project is None:
        digest = hashlib.sha256(found.name.casefold().encode("utf-8")).hexdigest()[:16]
        marker = UNKNOWN_LABEL_MARKER.format(digest=digest)
        if await find_marked_comment(github, found.ref, marker, found.installation_id) is not None:
            return
        closest = ""
        if match.candidates:
            closest = AMBIGUOUS.format(ids=", ".join(code(r["id"]) for r in match.candidates))
        elif match.suggestions:
            closest = CLOSEST.format(names=", ".join(code(s) for s in match.suggestions))
        body = UNKNOWN_LABEL_COMMENT.format(
            marker=marker,
            label=code(found.label),
            closest=closest,
            prefix=config.labels.project_prefix,
            word=config.commands.deliverable,
        )
        await github.create_comment(found.ref, body, found.installation_id)
        log.info(
            "delivery %s: %s: label %r names no Project", event.delivery_id, found.ref, found.label
        )
        return
    hint = IssueState.from_api(found.issue, ref=found.ref)
    await found.linker.link(
        found.lane,
        found.ref,
        match.project["id"],
        installation_id=found.installation_id,
        hint=hint,
    )
    warning = await found.linker.warning(found.lane, match.project)
    if warning:
        log.warning(
            "delivery %s: %s linked by label, but %s", event.delivery_id, found.ref, warning
        )


@router.register("issues", action="unlabeled")
async def project_label_removed(
    event: sansio.Event,
    *,
    reconciler: Reconciler,
    github: GitHubGateway,
    config: Config,
    **_: Any,
) -> None:
    """Unlink the issue from the Project the removed label named, if linked to it."""
    found = _project_label_event(event, reconciler, github, config)
    if found is None:
        return
    match = await found.linker.find(found.lane, found.name)
    if match.project is None:
        return
    result = await found.linker.unlink(
        found.lane,
        found.ref,
        installation_id=found.installation_id,
        only_from=match.project["id"],
    )
    log.info(
        "delivery %s: %s: label %r removed → %s",
        event.delivery_id,
        found.ref,
        found.label,
        "unlinked" if result.record else "was not linked to it",
    )
