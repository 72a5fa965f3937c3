"""Project completion: the Status a Project should have, and which transitions to announce. Pure.

Whether a Project is complete is :attr:`bot.core.progress.Progress.complete`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.config import Statuses
from bot.core.progress import Progress


class Transition(Enum):
    """A change of a Project's completion worth announcing on GitHub."""

    COMPLETED = "completed"
    REOPENED = "reopened"


@dataclass(frozen=True)
class ProjectDecision:
    """The Status a Project should have now, and the transition to announce, if any."""

    status: str
    transition: Transition | None


def decide_project(
    current_status: str | None, project_progress: Progress, statuses: Statuses
) -> ProjectDecision:
    """Decide a Project's Status from its deliverables.

    Complete when its progress is complete. A Project that was Complete and no longer is goes
    back to In progress (announced as reopened). A Project not yet started becomes In progress
    as soon as one deliverable is Done. Otherwise its Status is left as people set it.
    """
    options = statuses.project
    if project_progress.complete:
        if current_status == options.complete:
            return ProjectDecision(options.complete, None)
        return ProjectDecision(options.complete, Transition.COMPLETED)
    if current_status == options.complete:
        return ProjectDecision(options.in_progress, Transition.REOPENED)
    if project_progress.done and current_status in (None, options.not_started):
        return ProjectDecision(options.in_progress, None)
    return ProjectDecision(current_status or options.not_started, None)
