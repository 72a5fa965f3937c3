"""A Project's progress (pure): the counts, the one bar, the deliverable lines and list, the
summary and the progress comment, and how the names people typed come out neutralised."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.config import Config, Statuses
from bot.core.progress import (
    NO_DELIVERABLES,
    PROGRESS_MARKER,
    DeliverableLine,
    Progress,
    deliverable_lines,
    deliverable_list,
    issue_link,
    progress,
    progress_bar,
    progress_comment,
    progress_text,
    summary,
)
from tests.core.hostile import HOSTILE

S = Statuses()
NAMES = Config().fields.deliverables
ISSUE = "https://github.com/example-org/infrastructure/issues/"


def rec(record_id: str, **fields: Any) -> dict[str, Any]:
    """A deliverable record as plain data, fields by their display names."""
    return {"id": record_id, "fields": fields}


def assert_neutral(text: str, hostile: str) -> None:
    """No live mention, no raw HTML or Markdown from the name, no hidden marker."""
    assert hostile not in text
    assert not re.search(r"@(?!\u200d)\w", text)
    assert "<img" not in text and "<!--" not in text
    assert "[link](" not in text and "**bold**" not in text and "`code`" not in text
    assert "\n# heading" not in text


# -- counts -----------------------------------------------------------------------------------


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


def test_a_deliverable_without_status_counts_as_not_done() -> None:
    assert progress([None, "Done", None], S) == Progress(done=1, total=3, cancelled=0)


# -- the bar ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done", "total", "framed"),
    [
        pytest.param(0, 0, "`[░░░░░░░░░░░░░░░░░░░░]` 0%", id="nothing-yet"),
        pytest.param(0, 3, "`[░░░░░░░░░░░░░░░░░░░░]` 0%", id="none-done"),
        pytest.param(1, 3, "`[███████░░░░░░░░░░░░░]` 33%", id="a-third"),
        pytest.param(1, 2, "`[██████████░░░░░░░░░░]` 50%", id="half"),
        pytest.param(2, 3, "`[█████████████░░░░░░░]` 67%", id="two-thirds"),
        pytest.param(3, 3, "`[████████████████████]` 100%", id="all"),
    ],
)
def test_bar_as_comments_show_it(done: int, total: int, framed: str) -> None:
    assert progress_bar(done, total) == framed


def test_bar_as_the_report_shows_it_is_the_same_cells_alone() -> None:
    assert progress_bar(1, 2, width=4, framed=False) == "██░░"
    assert progress_bar(0, 0, width=2, framed=False) == "░░"
    for total in range(1, 41):
        for done in range(total + 1):
            cells = progress_bar(done, total, framed=False)
            assert len(cells) == 20
            assert progress_bar(done, total).startswith(f"`[{cells}]` ")


def test_bar_fills_as_deliverables_are_done_and_never_overflows() -> None:
    filled = [progress_bar(done, 7, framed=False).count("█") for done in range(8)]
    assert filled == sorted(filled) and filled[0] == 0 and filled[-1] == 20
    assert progress_bar(9, 7, framed=False) == "█" * 20
    assert progress_bar(-1, 7, framed=False) == "░" * 20


# -- lines and the list -----------------------------------------------------------------------


def test_lines_are_sorted_by_name_and_fill_what_is_missing() -> None:
    lines = deliverable_lines(
        [
            rec("recB", Name="beta", Status="Done", **{"GitHub Issue": ISSUE + "2"}),
            rec("recA", Name="Alpha", **{"GitHub Issue": ISSUE + "1"}),
            rec("recC"),
        ],
        NAMES,
    )
    assert lines == [
        DeliverableLine("Alpha", ISSUE + "1", "no Status"),
        DeliverableLine("beta", ISSUE + "2", "Done"),
        DeliverableLine("recC", "", "no Status"),
    ]


def test_list_checks_what_is_done_and_links_each_issue() -> None:
    lines = [
        DeliverableLine("Deploy", ISSUE + "1", "Done"),
        DeliverableLine("Docs", "", "Todo"),
    ]
    assert deliverable_list(lines, "Done") == (
        f"- [x] Deploy — {ISSUE}1 (Done)\n- [ ] Docs — no issue (Todo)"
    )
    assert deliverable_list([], "Done") == NO_DELIVERABLES


def test_issue_link_rebuilds_a_github_url_and_escapes_anything_else() -> None:
    assert issue_link(ISSUE + "7/") == ISSUE + "7"
    assert issue_link("see [here](https://evil.example)") == (
        "see \\[here\\]\\(https://evil.example\\)"
    )
    assert issue_link("") == "no issue"


# -- summary, text, comment -------------------------------------------------------------------


def test_summary_names_counts_bar_and_cancelled() -> None:
    assert summary("Hub", Progress(1, 2, 0)) == (
        "**Hub**: 1/2 deliverables done `[██████████░░░░░░░░░░]` 50%"
    )
    assert summary("Hub", Progress(2, 2, 1)).endswith(" 100% (1 cancelled, not counted)")


def test_comment_starts_with_its_marker_and_holds_summary_and_list() -> None:
    lines = [DeliverableLine("Deploy", ISSUE + "1", "Done")]
    body = progress_comment("recPrj1", "Hub", lines, Progress(1, 1, 0), "Done")
    assert body.startswith(PROGRESS_MARKER.format(project_id="recPrj1") + "\n")
    assert "### Progress of **Hub**: 1/1 deliverables done" in body
    assert f"- [x] Deploy — {ISSUE}1 (Done)" in body
    text = progress_text("Hub", lines, Progress(1, 1, 0), "Done")
    assert text == f"{summary('Hub', Progress(1, 1, 0))}\n\n- [x] Deploy — {ISSUE}1 (Done)"


# -- names people typed -----------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_names_statuses_and_urls_come_out_neutralised(hostile: str) -> None:
    lines = deliverable_lines(
        [
            rec("recD1", Name=hostile, Status="Done", **{"GitHub Issue": ISSUE + "1"}),
            rec("recD2", Name="Docs", Status=hostile, **{"GitHub Issue": hostile}),
        ],
        NAMES,
    )
    counts = Progress(1, 2, 0)
    assert_neutral(summary(hostile, counts), hostile)
    assert_neutral(deliverable_list(lines, "Done"), hostile)
    assert_neutral(progress_text(hostile, lines, counts, "Done"), hostile)
    body = progress_comment("recPrj1", hostile, lines, counts, "Done")
    marker = PROGRESS_MARKER.format(project_id="recPrj1")
    assert body.startswith(marker) and body.count("<!--") == 1
    assert_neutral(body.removeprefix(marker), hostile)


def test_a_mention_is_kept_readable_but_never_formed() -> None:
    text = summary("@alice and @org/team", Progress(0, 1, 0))
    assert "@\u200dalice and @\u200dorg/team" in text
