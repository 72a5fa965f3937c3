"""The renewal decisions (pure): when an Engagement is Delivered or Needs renewal, the name
of its Renewal Opportunity, the dates of the base, and its Projects."""

from __future__ import annotations

from datetime import date

import pytest

from bot.config import Config
from bot.core.renewal_rules import (
    completion_status,
    date_status,
    parse_date,
    projects_of,
    renewal_name,
    renewal_opportunity_fields,
    reopened_status,
)

CONFIG = Config()
TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("status", "projects", "expected"),
    [
        ("Active", ["Complete", "Complete"], "Delivered"),
        ("Needs renewal", ["Complete"], "Delivered"),
        ("Active", ["Complete", "In progress"], None),
        ("Active", [], None),
        ("Ended", ["Complete"], None),
        ("Delivered", ["Complete"], None),
    ],
)
def test_completion_status(status: str, projects: list[str], expected: str | None) -> None:
    assert completion_status({"Status": status}, projects, CONFIG) == expected


@pytest.mark.parametrize(
    ("status", "projects", "expected"),
    [
        ("Delivered", ["Complete", "In progress"], "Active"),
        ("Delivered", ["Not started"], "Active"),
        ("Delivered", [None], "Active"),  # a Project whose Status was emptied is not Complete
        ("Delivered", ["Complete", "Complete"], None),
        ("Delivered", [], None),  # no Projects: nothing reopened
        ("Active", ["In progress"], None),
        ("Ended", ["In progress"], None),  # an ended Engagement stays ended
    ],
)
def test_reopened_status(status: str, projects: list[str | None], expected: str | None) -> None:
    assert reopened_status({"Status": status}, projects, CONFIG) == expected


@pytest.mark.parametrize(
    ("status", "end", "expected"),
    [
        ("Active", "2026-08-30", "Needs renewal"),  # 90 days away
        ("Active", "2026-08-31", None),  # 91 days away
        ("Active", "2026-05-01", "Needs renewal"),  # already past
        ("Active", None, None),
        ("Active", "not a date", None),
        ("Needs renewal", "2026-07-01", None),
        ("Delivered", "2026-07-01", None),
    ],
)
def test_date_status(status: str, end: str | None, expected: str | None) -> None:
    assert date_status({"Status": status, "End": end}, TODAY, CONFIG) == expected


def test_names_and_dates() -> None:
    assert renewal_name("Uni 2026") == "Uni 2026 renewal"
    assert parse_date("2026-01-02T10:00:00.000Z") == date(2026, 1, 2)
    assert parse_date(3) is None
    assert parse_date("2026-02-30") is None
    assert parse_date("") is None


def test_projects_of_reads_the_projects_side_of_the_link() -> None:
    projects = [
        {"id": "recP1", "fields": {"Engagement": ["recE1"]}},
        {"id": "recP2", "fields": {"Engagement": ["recE2", "recE1"]}},
        {"id": "recP3", "fields": {}},
    ]
    assert [p["id"] for p in projects_of("recE1", projects, CONFIG)] == ["recP1", "recP2"]
    assert projects_of("recE9", projects, CONFIG) == []


def test_a_renewal_opportunity_is_named_for_its_engagement_a_renewal_and_a_prospect() -> None:
    assert renewal_opportunity_fields(renewal_name("Uni 2026"), CONFIG) == {
        "Name": "Uni 2026 renewal",
        "Type": "Renewal",
        "Stage": "Prospect",
    }
