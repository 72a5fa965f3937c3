"""Project completion: when a Project is complete, and which transitions to announce. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from bot.config import Statuses


class Transition(Enum):
    """A change of a Project's completion worth announcing on GitHub."""

    COMPLETED = "completed"
    REOPENED = "reopened"


@dataclass(frozen=True)
class Progress:
    """How far a Project is: deliverables Done out of those not Cancelled."""

    done: int
    total: int
    cancelled: int

    @property
    def complete(self) -> bool:
        """Every deliverable not Cancelled is Done, and at least one is Done."""
        return self.done > 0 and self.done == self.total


def progress(deliverable_statuses: Iterable[str | None], statuses: Statuses) -> Progress:
    """Count a Project's deliverables by Status."""
    done = total = cancelled = 0
    for status in deliverable_statuses:
        if status == statuses.deliverable.cancelled:
            cancelled += 1
            continue
        total += 1
        if status == statuses.deliverable.done:
            done += 1
    return Progress(done=done, total=total, cancelled=cancelled)


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
