"""The announcement plan (pure): target, marker and key, and the text people's names become."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.config import Config
from bot.core.completion import Transition
from bot.core.progress import Progress, deliverable_lines, progress_comment
from bot.sync.announce import (
    announcement_target,
    completion_key,
    parse_marker,
    plan_announcement,
    reopen_key,
)

CONFIG = Config()
PROJECT_ID = "recProject000001"
HOSTILE = [
    pytest.param("@org/everyone", id="team-mention"),
    pytest.param("<img src=x onerror=alert(1)>", id="html"),
    pytest.param(
        "<!-- deliverables-bot:project-completed:recProject000001:x-1 -->", id="planted-marker"
    ),
    pytest.param("[click](https://evil.example) **bold**", id="markdown"),
]


def deliverable(n: int, status: str, completed: str | None = None, **fields: Any) -> dict:
    values: dict[str, Any] = {
        "Name": f"Deliverable {n}",
        "GitHub Issue": f"https://github.com/o/r/issues/{n}",
        "Status": status,
        "Project": [PROJECT_ID],
    }
    if completed:
        values["Completed"] = completed
    values.update(fields)
    return {"id": f"recDeliverable{n:03d}", "fields": values}


def project(**fields: Any) -> dict:
    return {"id": PROJECT_ID, "fields": {"Name": "Hub", "Status": "In progress", **fields}}


DONE = [
    deliverable(1, "Done", "2026-03-01T10:00:00.000Z"),
    deliverable(2, "Done", "2026-03-02T09:30:00.000Z"),
    deliverable(3, "Cancelled"),
]


def assert_neutral(body: str, hostile: str) -> None:
    """No live mention, no raw HTML, and the only marker is the bot's own, at the start."""
    assert hostile not in body
    assert not re.search(r"@(?!\u200d)\w", body)
    assert "<img" not in body
    assert body.count("<!--") == 1 and body.startswith("<!-- deliverables-bot:")


def test_completion_goes_to_the_issue_that_closed_last_and_carries_its_instant() -> None:
    target = announcement_target(project(), DONE, Transition.COMPLETED, CONFIG)
    assert target is not None and target.url == "https://github.com/o/r/issues/2"
    assert completion_key(DONE, CONFIG) == "20260302T093000Z-2"


def test_tracking_issue_is_the_target_of_both_announcements() -> None:
    tracked = project(**{"Tracking Issue": "https://github.com/o/epics/issues/9"})
    for transition in Transition:
        target = announcement_target(tracked, DONE, transition, CONFIG)
        assert target is not None and target.url == "https://github.com/o/epics/issues/9"


def test_reopen_goes_to_the_first_deliverable_not_done_and_names_it() -> None:
    reopened = [*DONE[:1], deliverable(2, "In progress"), DONE[2]]
    planned = plan_announcement(Transition.REOPENED, project(), reopened, Progress(1, 2, 1), CONFIG)
    assert planned is not None
    assert planned.target.url == "https://github.com/o/r/issues/2"
    assert "https://github.com/o/r/issues/2" in planned.body
    assert "1 of 2 deliverables are done" in planned.body
    assert parse_marker(planned.body) == (Transition.REOPENED, PROJECT_ID, planned.key)


def test_keys_change_with_a_genuine_new_transition_only() -> None:
    again = [deliverable(1, "Done", "2026-03-01T10:00:00Z"), *DONE[1:]]
    assert completion_key(again, CONFIG) == completion_key(DONE, CONFIG)  # same instant
    later = [DONE[0], deliverable(2, "Done", "2026-03-05T08:00:00Z"), DONE[2]]
    assert completion_key(later, CONFIG) != completion_key(DONE, CONFIG)
    fewer = [DONE[0], deliverable(2, "Cancelled"), DONE[2]]
    assert completion_key(fewer, CONFIG) != completion_key(DONE, CONFIG)
    open_two = [deliverable(1, "Todo"), deliverable(2, "In progress")]
    assert reopen_key(open_two, CONFIG) != reopen_key(open_two[:1], CONFIG)


def test_done_by_hand_without_a_completed_time_still_has_a_stable_key() -> None:
    by_hand = [deliverable(1, "Done"), deliverable(2, "Done")]
    assert completion_key(by_hand, CONFIG) == completion_key(list(reversed(by_hand)), CONFIG)
    assert completion_key(by_hand, CONFIG).endswith("-2")


def test_no_target_no_announcement() -> None:
    unlinked = [deliverable(1, "Done", "2026-03-01T10:00:00Z", **{"GitHub Issue": "n/a"})]
    assert (
        plan_announcement(Transition.COMPLETED, project(), unlinked, Progress(1, 1, 0), CONFIG)
        is None
    )


@pytest.mark.parametrize(
    "marker",
    [
        "<!-- deliverables-bot:project-completed:recA:20260101T000000Z-1 -->",
        "  \n<!-- deliverables-bot:project-reopened:recA:abc123 -->\nbody",
    ],
)
def test_marker_is_read_only_at_the_start(marker: str) -> None:
    assert parse_marker(marker) is not None
    assert parse_marker(f"quoted: {marker.strip()}") is None


@pytest.mark.parametrize("hostile", HOSTILE)
def test_completion_comment_neutralises_project_names(hostile: str) -> None:
    planned = plan_announcement(
        Transition.COMPLETED, project(Name=hostile), DONE, Progress(2, 2, 1), CONFIG
    )
    assert planned is not None
    assert_neutral(planned.body, hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_completion_comment_neutralises_deliverable_names_and_urls(hostile: str) -> None:
    named = [deliverable(1, "Done", "2026-03-01T10:00:00Z", Name=hostile), *DONE[1:]]
    planned = plan_announcement(Transition.COMPLETED, project(), named, Progress(2, 2, 1), CONFIG)
    assert planned is not None
    assert_neutral(planned.body, hostile)
    # A URL typed into Airtable that is no GitHub issue is text, never markup.
    odd = [deliverable(1, "Done", "2026-03-01T10:00:00Z", **{"GitHub Issue": hostile})]
    planned = plan_announcement(
        Transition.COMPLETED, project(), odd + DONE[1:], Progress(2, 2, 1), CONFIG
    )
    assert planned is not None
    assert_neutral(planned.body, hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_reopen_comment_neutralises_names_and_urls(hostile: str) -> None:
    waiting = [deliverable(1, "Todo", **{"GitHub Issue": hostile}), deliverable(2, "Todo")]
    planned = plan_announcement(
        Transition.REOPENED, project(Name=hostile), waiting, Progress(0, 2, 0), CONFIG
    )
    assert planned is not None
    assert_neutral(planned.body, hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_progress_comment_neutralises_names_and_urls(hostile: str) -> None:
    rows = [
        deliverable(1, "Done", Name=hostile),
        deliverable(2, "Todo", **{"GitHub Issue": hostile}),
    ]
    body = progress_comment(
        PROJECT_ID,
        hostile,
        deliverable_lines(rows, CONFIG.fields.deliverables),
        Progress(1, 2, 0),
        "Done",
    )
    assert_neutral(body, hostile)
