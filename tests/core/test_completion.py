"""Project completion: the Status a Project gets (README: How it works) and the transitions
announced. The complete rule itself is tested with the counts, in test_progress.py."""

import pytest

from bot.config import Statuses
from bot.core.completion import Transition, decide_project
from bot.core.progress import progress

S = Statuses()


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
