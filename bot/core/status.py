"""Issue state → deliverable Status, as a pure function (the README's table of that name)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Labels, Statuses
from bot.core.issue import IssueState


@dataclass(frozen=True)
class DeliverableState:
    """What a deliverable record should say about its issue."""

    status: str
    completed: str | None
    name: str
    assignees: str


def deliverable_state(issue: IssueState, statuses: Statuses, labels: Labels) -> DeliverableState:
    """The Status, Completed, Name and Assignees a deliverable takes from its issue.

    open with the blocked label → Blocked; open and assigned → In progress; open → Todo;
    closed as not planned or duplicate → Cancelled; otherwise closed → Done (Completed is the
    issue's ``closed_at``); deleted → Cancelled.
    """
    options = statuses.deliverable
    completed: str | None = None
    if issue.state == "deleted":
        status = options.cancelled
    elif issue.state == "closed":
        if issue.state_reason in statuses.cancelled_reasons:
            status = options.cancelled
        else:
            status = options.done
            completed = issue.closed_at
    elif labels.blocked.lower() in (label.lower() for label in issue.labels):
        status = options.blocked
    elif issue.assignees:
        status = options.in_progress
    else:
        status = options.todo
    return DeliverableState(
        status=status,
        completed=completed,
        name=issue.title,
        assignees=", ".join(issue.assignees),
    )
