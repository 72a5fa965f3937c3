"""The issue → deliverable Status table of the README, case by case."""

import pytest

from bot.config import Labels, Statuses
from bot.core.issue import IssueRef, IssueState
from bot.core.status import deliverable_state

REF = IssueRef("example-org", "infrastructure", 1)
CLOSED_AT = "2026-11-20T10:00:00Z"


def issue(**kwargs: object) -> IssueState:
    fields: dict[str, object] = {"ref": REF, "title": "Deploy the hub", "state": "open"}
    fields.update(kwargs)
    return IssueState(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "status", "completed"),
    [
        pytest.param(issue(), "Todo", None, id="open-unassigned"),
        pytest.param(issue(assignees=("alice",)), "In progress", None, id="open-assigned"),
        pytest.param(issue(labels=("blocked",)), "Blocked", None, id="open-blocked"),
        pytest.param(
            issue(assignees=("alice",), labels=("Blocked",)), "Blocked", None, id="blocked-wins"
        ),
        pytest.param(
            issue(state="closed", state_reason="completed", closed_at=CLOSED_AT),
            "Done",
            CLOSED_AT,
            id="closed-completed",
        ),
        pytest.param(
            issue(state="closed", state_reason=None, closed_at=CLOSED_AT),
            "Done",
            CLOSED_AT,
            id="closed-null-reason",
        ),
        pytest.param(
            issue(state="closed", state_reason="not_planned", closed_at=CLOSED_AT),
            "Cancelled",
            None,
            id="closed-not-planned",
        ),
        pytest.param(
            issue(state="closed", state_reason="duplicate", closed_at=CLOSED_AT),
            "Cancelled",
            None,
            id="closed-duplicate",
        ),
        pytest.param(
            issue(state="closed", labels=("blocked",), closed_at=CLOSED_AT),
            "Done",
            CLOSED_AT,
            id="closed-blocked-is-done",
        ),
        pytest.param(issue(state="deleted"), "Cancelled", None, id="deleted"),
        pytest.param(issue(state_reason="reopened"), "Todo", None, id="reopened"),
    ],
)
def test_status_table(state: IssueState, status: str, completed: str | None) -> None:
    result = deliverable_state(state, Statuses(), Labels())
    assert (result.status, result.completed) == (status, completed)


def test_name_and_assignees_follow_the_issue() -> None:
    result = deliverable_state(issue(assignees=("alice", "bob")), Statuses(), Labels())
    assert result.name == "Deploy the hub"
    assert result.assignees == "alice, bob"


def test_configured_names_are_used() -> None:
    statuses = Statuses(cancelled_reasons=("not_planned",))
    labels = Labels(blocked="on hold")
    assert deliverable_state(issue(labels=("on hold",)), statuses, labels).status == "Blocked"
    duplicate = issue(state="closed", state_reason="duplicate", closed_at=CLOSED_AT)
    assert deliverable_state(duplicate, statuses, labels).status == "Done"
