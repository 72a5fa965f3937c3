"""The report model (pure): which Engagement a report covers, its summary, the order of the
work, the states after a reopen, what a customer never sees, and the burn-up's steps.

:func:`data` is the base the other report tests render too.
"""

from __future__ import annotations

from datetime import date

import pytest

from bot.config import Config
from bot.core.records import BaseData
from bot.core.report_model import (
    BurnUp,
    EngagementNeeded,
    ReportError,
    build_report,
)

TODAY = date(2026, 11, 26)
ISSUE = "https://github.com/example-org/infrastructure/issues/"


def rec(record_id: str, created: str = "2026-02-01T09:00:00.000Z", **fields: object) -> dict:
    """A record as Airtable returns it: id, createdTime, fields by name."""
    return {"id": record_id, "createdTime": created, "fields": fields}


def data() -> BaseData:
    """Two Engagements: "Uni 2026" (Needs renewal, a renewal Opportunity, a reopened
    Project and a complete one) and "<Lab> & co" (Delivered in Airtable, its one Project
    Complete in Airtable but deliverables open again); names that try HTML, Markdown and
    mentions, and names too long for a phone's line."""
    sow = {"Statement of Work": "https://example.org/sow"}
    return BaseData(
        opportunities=[
            rec("recO0", Name="Uni deal", Type="New", Stage="Closed-Won", Engagement=["recE1"]),
            rec("recO1", Name="Uni 2026 renewal", Type="Renewal", Stage="Prospect"),
        ],
        engagements=[
            rec(
                "recE1",
                "2025-12-15T10:00:00.000Z",
                Name="Uni 2026",
                Opportunity=["recO0"],
                Start="2026-01-01",
                End="2026-12-31",
                Status="Needs renewal",
            ),
            rec(
                "recE2", Name="<Lab> & co", Start="2025-01-01", End="2027-01-01", Status="Delivered"
            ),
        ],
        projects=[
            rec("recP1", Name="Hub", Engagement=["recE1"], Status="Complete", **sow),
            rec("recP2", Name="Docs", Engagement=["recE1"], Status="In progress"),
            rec(
                "recP3",
                Name="<script>alert(1)</script>",
                Engagement=["recE2"],
                Status="Complete",
                Completed="2025-06-01",
                **{"Statement of Work": "javascript:alert(1)"},
            ),
        ],
        deliverables=[
            rec(
                "recD1",
                "2026-01-05T09:00:00.000Z",
                Name="Deploy the hub",
                Project=["recP1"],
                Status="Done",
                Completed="2026-02-10T12:00:00.000Z",
                Assignees="alice, bob",
                **{"GitHub Issue": ISSUE + "1"},
            ),
            rec(
                "recD2",
                "2026-01-05T09:00:00.000Z",
                Name="Login | SSO for @everyone",
                Project=["recP1"],
                Status="In progress",
                Assignees="@carol",
                **{"GitHub Issue": ISSUE + "2"},
            ),
            rec("recD3", Name="Old idea", Project=["recP1"], Status="Cancelled"),
            rec("recD4", Name="Blocked thing", Project=["recP1"], Status="Blocked"),
            rec("recD5", Name="Later", Project=["recP1"], Status="Todo"),
            rec(
                "recD6",
                "2026-01-20T09:00:00.000Z",
                Name="Write the guide",
                Project=["recP2"],
                Status="Done",
                Completed="2026-03-01T08:00:00.000Z",
            ),
            rec(
                "recD7",
                "2026-01-20T09:00:00.000Z",
                Name="Write the FAQ",
                Project=["recP2"],
                Status="Done",
                Completed="2026-04-15T08:00:00.000Z",
            ),
            rec("recD8", Name="Reopened", Project=["recP3"], Status="Todo"),
            rec(
                "recD9",
                Name="Migrate" + "-everything" * 12 + "_without_a_single_space_" * 3,
                Project=["recP3"],
                Status="Blocked",
                Assignees="someone-with-a-very-long-login-name, " * 3,
                **{"GitHub Issue": "https://github.com/" + "a" * 39 + "/" + "b" * 90 + "/issues/1"},
            ),
        ],
    )


def uni(**options: object) -> object:
    return build_report(data(), Config(), today=TODAY, engagement="uni 2026", **options)  # type: ignore[arg-type]


def test_a_customer_report_needs_one_engagement() -> None:
    with pytest.raises(EngagementNeeded) as raised:
        build_report(data(), Config(), today=TODAY)
    assert str(raised.value) == (
        "the base has 2 Engagements; choose one with --engagement NAME "
        '(or --all for the internal overview): "<Lab> & co", "Uni 2026"'
    )
    only = BaseData(engagements=[data().engagements[0]], projects=data().projects)
    assert [e.name for e in build_report(only, Config(), today=TODAY).engagements] == ["Uni 2026"]
    by_project = build_report(data(), Config(), today=TODAY, project="docs")
    assert [(e.name, [p.name for p in e.projects]) for e in by_project.engagements] == [
        ("Uni 2026", ["Docs"])
    ]
    with pytest.raises(EngagementNeeded, match="no Engagement to report on"):
        build_report(BaseData(), Config(), today=TODAY)


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ReportError, match=r'no Engagement named "Nope" \(known: <Lab> & co, Uni'):
        build_report(data(), Config(), today=TODAY, engagement="Nope")
    with pytest.raises(ReportError, match='no Project named "Nope"'):
        build_report(data(), Config(), today=TODAY, project="Nope")
    assert not issubclass(ReportError, EngagementNeeded)


def test_summary_counts_done_of_not_cancelled_from_the_earliest_date() -> None:
    report = uni()
    s = report.summary
    assert (s.done, s.total, s.percent) == (3, 6, 50)
    assert s.start == date(2025, 12, 15)  # the Engagement record was created before its Start
    assert s.last_completed == date(2026, 4, 15)
    assert (s.projects_complete, s.projects_total) == (1, 2)


def test_live_work_first_then_done_newest_first() -> None:
    report = uni()
    (engagement,) = report.engagements
    assert [p.name for p in engagement.projects] == ["Hub", "Docs"]  # Hub is open again
    hub, docs = engagement.projects
    assert [(d.name, d.status) for d in hub.deliverables] == [
        ("Login | SSO for @everyone", "In progress"),
        ("Blocked thing", "Blocked"),
        ("Later", "Todo"),
        ("Deploy the hub", "Done"),
        ("Old idea", "Cancelled"),
    ]
    assert [d.completed for d in docs.deliverables] == [date(2026, 4, 15), date(2026, 3, 1)]
    deploy = hub.deliverables[3]
    assert deploy.assignees == ("alice", "bob")
    assert deploy.issue_label == "example-org/infrastructure#1"


def test_states_follow_a_reopen_and_completion() -> None:
    report = uni()
    hub, docs = report.engagements[0].projects
    assert (hub.status, hub.recorded_status, hub.completed) == ("In progress", "Complete", None)
    assert (docs.status, docs.completed) == ("Complete", date(2026, 4, 15))
    assert report.engagements[0].status == "Active"  # a customer never reads Needs renewal
    lab = build_report(data(), Config(), today=TODAY, engagement="<lab> & co")
    (project,) = lab.engagements[0].projects
    assert (project.status, project.completed) == ("In progress", None)  # reopened
    assert lab.engagements[0].status == "Active"  # Delivered in Airtable, open again


def test_an_engagement_whose_projects_are_all_complete_reads_delivered() -> None:
    base = data()
    for d in base.deliverables:
        if d["fields"]["Status"] not in ("Done", "Cancelled"):
            d["fields"].update(Status="Done", Completed="2026-05-01T00:00:00.000Z")
    report = build_report(base, Config(), today=TODAY, engagement="Uni 2026")
    assert [p.status for p in report.engagements[0].projects] == ["Complete", "Complete"]
    assert report.engagements[0].status == "Delivered"
    assert report.summary.projects_complete == 2


def test_customer_report_has_no_sales_records_internal_has_them_all() -> None:
    customer = uni()
    assert customer.engagements[0].opportunity is None
    assert customer.engagements[0].renewal is None
    assert not customer.internal
    overview = build_report(data(), Config(), today=TODAY, internal=True)
    assert overview.internal
    assert [e.name for e in overview.engagements] == ["<Lab> & co", "Uni 2026"]
    u = overview.engagements[1]
    assert u.status == "Needs renewal"
    assert (u.opportunity and u.opportunity.stage, u.renewal and u.renewal.name) == (
        "Closed-Won",
        "Uni 2026 renewal",
    )
    assert (overview.summary.done, overview.summary.total) == (3, 8)


def test_internal_overview_lists_the_projects_of_no_engagement() -> None:
    base = data()
    base.projects.append(rec("recP9", Name="Stray", Status="Not started"))
    names = [e.name for e in build_report(base, Config(), today=TODAY, internal=True).engagements]
    assert names[-1] == "(no Engagement)"


def test_burnup_steps_from_completed_dates_under_the_total() -> None:
    chart = uni().engagements[0].burnup
    assert isinstance(chart, BurnUp)
    assert (chart.start, chart.end) == (date(2025, 12, 15), TODAY)
    assert chart.done == (
        (date(2025, 12, 15), 0),
        (date(2026, 2, 10), 1),
        (date(2026, 3, 1), 2),
        (date(2026, 4, 15), 3),
    )
    assert chart.total == ((date(2025, 12, 15), 6),)
    assert chart.top == 6


def test_burnup_of_done_work_without_dates_ends_at_today() -> None:
    base = BaseData(
        engagements=[{"id": "recE", "fields": {"Name": "E"}}],
        projects=[{"id": "recP", "fields": {"Name": "P", "Engagement": ["recE"]}}],
        deliverables=[
            {"id": "recD", "fields": {"Name": "D", "Project": ["recP"], "Status": "Done"}}
        ],
    )
    chart = build_report(base, Config(), today=TODAY).engagements[0].burnup
    assert chart.start == chart.end == TODAY
    assert chart.done == ((TODAY, 1),)
