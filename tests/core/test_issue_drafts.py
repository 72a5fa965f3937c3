"""The issues the bot opens for Airtable, as text: markers found again, bodies from the
template with people's values neutralised, the tracking issue's list, repositories parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import DEFAULT_ISSUE_BODY, DEFAULT_TRACKING_TITLE
from bot.core.issue import IssueRef
from bot.core.issue_drafts import (
    DELIVERABLE,
    MAX_TITLE_LENGTH,
    MISSING,
    NO_DELIVERABLES,
    TRACKING,
    DeliverableFacts,
    ProjectFacts,
    TrackedDeliverable,
    deliverable_body,
    deliverable_title,
    duplicate_body,
    has_marker,
    lookup_since,
    marked_record,
    marker,
    parent_issue,
    parse_repository,
    same_body,
    tracked_deliverables,
    tracking_body,
    tracking_list,
    tracking_title,
)
from tests.core.hostile import HOSTILE

RECORD = "recAbCdEfGhIjKlMn"
PROJECT = "recPrOjEcT0000001"
FACTS = DeliverableFacts(
    record_id=RECORD,
    name="Deploy the hub",
    project="Setup workshop hub",
    engagement="Example University 2026",
    statement_of_work="https://example.org/sow/example-university-2026",
)
PROJECT_FACTS = ProjectFacts(
    record_id=PROJECT,
    name="Setup workshop hub",
    engagement="Example University 2026",
    statement_of_work="https://example.org/sow/example-university-2026",
)
DONE = {"done": "Done", "cancelled": "Cancelled"}


# -- markers ---------------------------------------------------------------------------------


def test_markers_have_the_form_of_the_bots_comment_markers() -> None:
    assert marker(DELIVERABLE, RECORD) == f"<!-- deliverables-bot:deliverable:{RECORD} -->"
    assert marker(TRACKING, PROJECT) == f"<!-- deliverables-bot:tracking:{PROJECT} -->"


@pytest.mark.parametrize(
    ("kind", "record_id"),
    [
        pytest.param("progress", RECORD, id="unknown-kind"),
        pytest.param(DELIVERABLE, "recShort", id="short-id"),
        pytest.param(DELIVERABLE, "rec -->injected00", id="marker-breaking-id"),
        pytest.param(TRACKING, "appAbCdEfGhIjKlMn", id="not-a-record"),
    ],
)
def test_no_marker_for_what_is_not_a_record_of_a_known_kind(kind: str, record_id: str) -> None:
    with pytest.raises(ValueError):
        marker(kind, record_id)


def test_a_marker_is_found_again_in_a_body_by_kind() -> None:
    body = f"intro\n{marker(TRACKING, PROJECT)}\n{marker(DELIVERABLE, RECORD)}\nrest"
    assert marked_record(body, DELIVERABLE) == RECORD
    assert marked_record(body, TRACKING) == PROJECT
    assert has_marker(body, DELIVERABLE, RECORD)
    assert not has_marker(body, DELIVERABLE, PROJECT)
    assert not has_marker(body, TRACKING, RECORD)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("<!-- deliverables-bot:progress:recAbCdEfGhIjKlMn -->", id="other-kind"),
        pytest.param("<!-- deliverables-bot:deliverable:recAbCd -->", id="short-id"),
        pytest.param("<!--deliverables-bot:deliverable:recAbCdEfGhIjKlMn-->", id="no-spaces"),
    ],
)
def test_no_record_where_there_is_no_marker(body: str | None) -> None:
    assert marked_record(body, DELIVERABLE) is None
    assert not has_marker(body, DELIVERABLE, RECORD)


# -- the deliverable's issue -----------------------------------------------------------------


def test_the_body_is_the_marker_then_the_template_filled_in() -> None:
    body = deliverable_body(DEFAULT_ISSUE_BODY, FACTS)
    first, rest = body.split("\n", 1)
    assert first == marker(DELIVERABLE, RECORD)
    assert "Project: Setup workshop hub" in rest
    assert "Engagement: Example University 2026" in rest
    assert "Statement of Work: <https://example.org/sow/example-university-2026>" in rest
    assert marked_record(body, DELIVERABLE) == RECORD
    assert body.endswith("\n") and not body.endswith("\n\n")


def test_missing_values_show_a_dash() -> None:
    facts = DeliverableFacts(RECORD, name="X", project=None, engagement="", statement_of_work=None)
    body = deliverable_body("{name} | {project} | {engagement} | {statement_of_work}", facts)
    assert body.splitlines()[1] == f"X | {MISSING} | {MISSING} | {MISSING}"


def test_a_name_the_template_does_not_know_shows_a_dash_and_braces_stay_braces() -> None:
    body = deliverable_body("{{literal}} {unknown} {name}", FACTS)
    assert body.splitlines()[1] == f"{{literal}} {MISSING} Deploy the hub"


@pytest.mark.parametrize("text", HOSTILE)
def test_values_typed_by_people_are_neutralised_in_the_body(text: str) -> None:
    facts = DeliverableFacts(
        RECORD, name=text, project=text, engagement=text, statement_of_work=text
    )
    body = deliverable_body("{name}\n{project}\n{engagement}\n{statement_of_work}", facts)
    filled = body.split("\n", 1)[1]
    assert "@" not in filled.replace("@\u200d", "")  # no mention can form
    assert "<!--" not in filled
    assert "<img" not in filled
    assert marked_record(body, DELIVERABLE) == RECORD
    assert len(filled.rstrip("\n").split("\n")) == 4  # no value adds a line


def test_a_statement_of_work_that_is_not_a_plain_url_is_text() -> None:
    for value in ("javascript:alert(1)", "https://x.example/<script>", "see the contract"):
        facts = DeliverableFacts(RECORD, "N", "P", "E", statement_of_work=value)
        filled = deliverable_body("{statement_of_work}", facts).split("\n", 1)[1]
        assert not filled.startswith("<"), filled


@given(st.text(max_size=300))
def test_any_name_gives_a_body_with_exactly_its_own_marker(name: str) -> None:
    facts = DeliverableFacts(
        RECORD, name=name, project=name, engagement=None, statement_of_work=name
    )
    body = deliverable_body(DEFAULT_ISSUE_BODY + "\n{name}", facts)
    assert marked_record(body, DELIVERABLE) == RECORD
    assert body.count("<!--") == 1
    assert marked_record(body, TRACKING) is None


@pytest.mark.parametrize(
    ("name", "title"),
    [
        pytest.param("Deploy the hub", "Deploy the hub", id="as-typed"),
        pytest.param("  Deploy\nthe hub ", "Deploy the hub", id="one-line-trimmed"),
        pytest.param("@octocat look", "@octocat look", id="titles-never-mention"),
        pytest.param("", RECORD, id="empty-is-the-record-id"),
        pytest.param(None, RECORD, id="none-is-the-record-id"),
    ],
)
def test_the_title_is_the_name_on_one_line(name: str | None, title: str) -> None:
    facts = DeliverableFacts(RECORD, name, None, None, None)
    assert deliverable_title(facts) == title


def test_a_long_name_is_cut_to_githubs_limit() -> None:
    facts = DeliverableFacts(RECORD, "x" * 1000, None, None, None)
    assert len(deliverable_title(facts)) == MAX_TITLE_LENGTH


# -- the tracking issue ----------------------------------------------------------------------


def entry(name: str, number: int | None, status: str | None) -> TrackedDeliverable:
    url = f"https://github.com/example-org/infrastructure/issues/{number}" if number else None
    return TrackedDeliverable(name, url, status)


def test_the_tracking_list_shows_issues_done_state_and_names_sorted() -> None:
    text = tracking_list(
        [
            entry("Load workshop materials", None, "Todo"),
            entry("Deploy the hub", 1, "Done"),
            entry("configure login", 2, "In progress"),
            entry("Abandoned", 4, "Cancelled"),
        ],
        **DONE,
    )
    assert text.splitlines() == [
        "- [ ] ~~example-org/infrastructure#4 Abandoned~~ (cancelled)",
        "- [ ] example-org/infrastructure#2 configure login",
        "- [x] example-org/infrastructure#1 Deploy the hub",
        "- [ ] Load workshop materials (no issue yet)",
    ]


def test_an_empty_project_says_so_and_a_bad_url_is_text() -> None:
    assert tracking_list([], **DONE) == NO_DELIVERABLES
    [line] = tracking_list([TrackedDeliverable("X", "javascript:@evil", "Todo")], **DONE).split(
        "\n"
    )
    assert line.startswith("- [ ] X (") and "@\u200d" in line


@pytest.mark.parametrize("text", HOSTILE)
def test_deliverable_names_are_neutralised_in_the_tracking_list(text: str) -> None:
    line = tracking_list([entry(text, 3, "Todo")], **DONE)
    assert "\n" not in line and "<!--" not in line and "<img" not in line
    assert "@" not in line.replace("@\u200d", "")


def test_the_tracking_body_carries_the_projects_marker_and_its_list() -> None:
    body = tracking_body(PROJECT_FACTS, [entry("Deploy the hub", 1, "Done")], **DONE)
    assert body.startswith(marker(TRACKING, PROJECT) + "\n")
    assert "**Setup workshop hub** (Example University 2026)" in body
    assert "- [x] example-org/infrastructure#1 Deploy the hub" in body
    assert marked_record(body, DELIVERABLE) is None


def test_the_tracking_title_comes_from_its_template_as_typed() -> None:
    assert tracking_title(DEFAULT_TRACKING_TITLE, PROJECT_FACTS) == "Setup workshop hub"
    custom = tracking_title("{engagement}: {project}", PROJECT_FACTS)
    assert custom == "Example University 2026: Setup workshop hub"
    assert tracking_title("{project}", ProjectFacts(PROJECT, None, None, None)) == PROJECT


def test_tracked_deliverables_reads_records_with_the_configured_names() -> None:
    records = [
        {"id": "rec1", "fields": {"Title": "A", "Issue": "u", "State": "Done"}},
        {"id": "rec2", "fields": {}},
    ]
    assert tracked_deliverables(records, name="Title", issue="Issue", status="State") == [
        TrackedDeliverable("A", "u", "Done"),
        TrackedDeliverable("rec2", None, None),
    ]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param("x\ny\n", "x\r\ny", True, id="line-endings-and-end"),
        pytest.param("x  \ny", "x\ny", True, id="trailing-spaces"),
        pytest.param(None, "", True, id="none-is-empty"),
        pytest.param("- [ ] a", "- [x] a", False, id="done-changed"),
    ],
)
def test_same_body_ignores_only_what_github_changes(a: str | None, b: str, same: bool) -> None:
    assert same_body(a, b) is same


# -- repositories and parents ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        pytest.param("example-org/infrastructure", ("example-org", "infrastructure"), id="plain"),
        pytest.param(" Example-Org/infra.docs ", ("Example-Org", "infra.docs"), id="spaces"),
        pytest.param("https://github.com/o/r", ("o", "r"), id="url"),
        pytest.param("https://github.com/o/r.git", ("o", "r"), id="git-url"),
        pytest.param("o/r/", ("o", "r"), id="trailing-slash"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
        pytest.param("infrastructure", None, id="no-owner"),
        pytest.param("o/r/issues", None, id="too-deep"),
        pytest.param("o/..", None, id="dot-dot"),
        pytest.param("-o/r", None, id="bad-owner"),
        pytest.param("o/r s", None, id="space-inside"),
    ],
)
def test_parse_repository(text: str | None, parsed: tuple[str, str] | None) -> None:
    assert parse_repository(text) == parsed


@pytest.mark.parametrize(
    ("created", "since"),
    [
        pytest.param("2026-12-02T14:27:16.728Z", "2026-12-02T13:27:16Z", id="an-hour-before"),
        pytest.param("2026-01-01T00:30:00+00:00", "2025-12-31T23:30:00Z", id="offset-form"),
        pytest.param(None, "2008-01-01T00:00:00Z", id="unknown-is-always"),
        pytest.param("yesterday", "2008-01-01T00:00:00Z", id="unreadable-is-always"),
    ],
)
def test_lookup_since_reaches_before_the_record_was_made(created: str | None, since: str) -> None:
    assert lookup_since(created) == since


def test_parent_issue_is_read_from_the_api_url() -> None:
    url = "https://api.github.com/repos/example-org/infrastructure/issues/10"
    assert parent_issue({"parent_issue_url": url}) == IssueRef("example-org", "infrastructure", 10)
    assert parent_issue({"parent_issue_url": None}) is None
    assert parent_issue({}) is None
    assert parent_issue({"parent_issue_url": "https://api.github.com/repos/o/../issues/1"}) is None


def test_a_duplicate_loses_its_marker_and_points_at_the_issue_kept() -> None:
    body = deliverable_body(DEFAULT_ISSUE_BODY, FACTS)
    closed = duplicate_body(body, IssueRef("example-org", "infrastructure", 4))
    assert marked_record(closed, DELIVERABLE) is None
    assert "example-org/infrastructure#4" in closed.splitlines()[0]
    assert "Project: Setup workshop hub" in closed
    assert duplicate_body(None, IssueRef("o", "r", 1)).endswith("o/r#1, which carries on.\n")
