"""Project completion: the rule of DESIGN.md section 2 and the transitions announced."""

import pytest

from bot.config import Statuses
from bot.core.completion import Transition, decide_project, progress

S = Statuses()


@pytest.mark.parametrize(
    ("statuses", "complete"),
    [
        pytest.param(["Done", "Done"], True, id="all-done"),
        pytest.param(["Done", "Cancelled"], True, id="done-and-cancelled"),
        pytest.param(["Cancelled", "Cancelled"], False, id="all-cancelled"),
        pytest.param([], False, id="no-deliverables"),
        pytest.param(["Done", "Todo"], False, id="one-open"),
        pytest.param(["Done", "Blocked"], False, id="one-blocked"),
        pytest.param(["Done", None], False, id="one-without-status"),
    ],
)
def test_complete_rule(statuses: list[str | None], complete: bool) -> None:
    assert progress(statuses, S).complete is complete


def test_progress_counts() -> None:
    counts = progress(["Done", "Todo", "Cancelled", "In progress"], S)
    assert (counts.done, counts.total, counts.cancelled) == (1, 3, 1)


@pytest.mark.parametrize(
    ("current", "statuses", "status", "transition"),
    [
        pytest.param("In progress", ["Done"], "Complete", Transition.COMPLETED, id="completes"),
        pytest.param("Complete", ["Done"], "Complete", None, id="already-complete"),
        pytest.param(
            "Complete", ["Done", "Todo"], "In progress", Transition.REOPENED, id="reopens"
        ),
        pytest.param("Not started", ["Done", "Todo"], "In progress", None, id="starts"),
        pytest.param(None, ["Done", "Todo"], "In progress", None, id="starts-from-empty"),
        pytest.param("Not started", ["Todo"], "Not started", None, id="not-started"),
        pytest.param("In progress", ["Todo"], "In progress", None, id="kept-as-set"),
        pytest.param(None, [], "Not started", None, id="empty-project"),
    ],
)
def test_decide_project(
    current: str | None, statuses: list[str], status: str, transition: Transition | None
) -> None:
    decision = decide_project(current, progress(statuses, S), S)
    assert (decision.status, decision.transition) == (status, transition)
