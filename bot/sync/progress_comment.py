"""The progress comment: one comment on each Project's tracking issue, edited in place.

A Project listener (``Reconciler.project_listeners``, wired once in :mod:`bot.app`), so it
runs under the Project's lock after every decision about the Project, in ``serve`` and in
``sync`` alike.
"""

from __future__ import annotations

import logging

import cachetools

from bot.clients.github_protocols import CommentWriter
from bot.config import Config
from bot.core.issue import parse_issue_url
from bot.core.progress import PROGRESS_MARKER, deliverable_lines, progress_comment
from bot.sync.announce import find_marked_comment
from bot.sync.reconcile import ProjectUpdate

log = logging.getLogger(__name__)


class ProgressComments:
    """Keeps one progress comment on each Project's tracking issue, edited in place.

    Running under the Project's lock, two updates cannot both post the comment. Level-
    triggered: the comment is made to match the Project each time; the body last seen on
    GitHub is remembered, so a decision that changes nothing costs no GitHub request.
    """

    def __init__(self, config: Config, github: CommentWriter) -> None:
        self.config = config
        self.github = github
        self._shown: cachetools.LRUCache[str, str] = cachetools.LRUCache(maxsize=10_000)

    async def __call__(self, update: ProjectUpdate) -> None:
        """Post or edit the progress comment of the updated Project's tracking issue."""
        fields = update.project["fields"]
        names = self.config.fields.projects
        tracking = parse_issue_url(str(fields.get(names.tracking_issue) or ""))
        if tracking is None:
            return
        project_id = update.project["id"]
        body = progress_comment(
            project_id,
            str(fields.get(names.name) or project_id),
            deliverable_lines(update.deliverables, self.config.fields.deliverables),
            update.progress,
            self.config.statuses.deliverable.done,
        )
        shown_key = f"{project_id} {tracking.key}"
        if self._shown.get(shown_key) == body:
            return
        marker = PROGRESS_MARKER.format(project_id=project_id)
        existing = await find_marked_comment(self.github, tracking, marker, update.installation_id)
        if existing is None:
            await self.github.create_comment(tracking, body, update.installation_id)
            log.info("%s: progress comment of Project %s posted", tracking, project_id)
        elif existing.get("body") != body:
            await self.github.edit_comment(
                tracking.owner, tracking.repo, int(existing["id"]), body, update.installation_id
            )
            log.info("%s: progress comment of Project %s edited", tracking, project_id)
        self._shown[shown_key] = body
