"""A base as plain data that breaks no rule of the audit, and the same base changed to break
exactly one rule; shared by the rule tests and the rendering tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.config import AirtableToGitHubSettings, Config
from bot.core.issue import IssueRef, IssueState
from bot.core.records import BaseData
from tests.constants import OWNER, REPO

TODAY = date(2026, 6, 1)
# Airtable → GitHub on, without a default repository: every rule has something to check.
CONFIG = Config(airtable_to_github=AirtableToGitHubSettings(enabled=True))
ISSUE = f"https://github.com/{OWNER}/{REPO}/issues/"


def rec(record_id: str, **fields: Any) -> dict[str, Any]:
    """A record as plain data."""
    return {"id": record_id, "fields": fields}


def clean_data() -> BaseData:
    """A base that breaks no rule: the demo base's chain, plus a Renewal without a contract."""
    return BaseData(
        opportunities=[
            rec("recOpp1", Name="Uni", Type="New", Stage="Closed-Won", Contracts=["recCon1"]),
            rec("recOpp2", Name="Uni again", Type="Renewal", Stage="Closed-Won"),
            rec("recOpp3", Name="Maybe", Type="New", Stage="Prospect"),
        ],
        contracts=[rec("recCon1", Name="MOU", Kind="MOU", Opportunity=["recOpp1"])],
        engagements=[
            rec(
                "recEng1",
                Name="Uni 2026",
                Opportunity=["recOpp1"],
                Start="2026-01-01",
                End="2026-12-31",
                Status="Active",
            ),
            rec(
                "recEng2",
                Name="Uni 2025",
                Opportunity=["recOpp2"],
                Start="2025-01-01",
                End="2025-12-31",
                Status="Ended",
            ),
        ],
        projects=[
            rec(
                "recPrj1",
                Name="Hub",
                Engagement=["recEng1"],
                **{"Statement of Work": "https://example.org/sow"},
                Status="In progress",
                Repository=f"{OWNER}/{REPO}",
            )
        ],
        deliverables=[
            rec(
                "recDel1",
                Name="Deploy",
                Project=["recPrj1"],
                Status="Done",
                **{"GitHub Issue": ISSUE + "1"},
            )
        ],
    )


def closed_issue(number: int) -> IssueState:
    """A closed-as-completed issue."""
    return IssueState(
        ref=IssueRef(OWNER, REPO, number), title="x", state="closed", state_reason="completed"
    )


def broken(rule: str) -> tuple[BaseData, dict[str, IssueState]]:
    """The clean base changed so that exactly ``rule`` is broken, once."""
    d = clean_data()
    issues = {IssueRef(OWNER, REPO, 1).key: closed_issue(1)}
    if rule == "new-won-without-contract":
        d.opportunities[0]["fields"].pop("Contracts")
        d.contracts.clear()
    elif rule == "engagement-opportunity-not-won":
        d.opportunities[1]["fields"]["Stage"] = "Proposal"
    elif rule == "opportunity-several-engagements":
        d.engagements[1]["fields"]["Opportunity"] = ["recOpp1"]
    elif rule == "engagement-opportunity-count":
        d.engagements[1]["fields"].pop("Opportunity")
    elif rule == "engagement-without-dates":
        d.engagements[1]["fields"].pop("End")
    elif rule == "project-engagement-count":
        d.projects[0]["fields"]["Engagement"] = ["recEng1", "recEng2"]
    elif rule == "project-without-sow":
        d.projects[0]["fields"].pop("Statement of Work")
    elif rule == "project-without-repository":
        d.projects[0]["fields"].pop("Repository")
    elif rule == "deliverable-project-count":
        d.deliverables[0]["fields"].pop("Project")
    elif rule == "deliverable-without-issue":
        d.deliverables[0]["fields"]["GitHub Issue"] = "not a url"
    elif rule == "deliverable-status-disagrees":
        d.deliverables[0]["fields"]["Status"] = "In progress"
    elif rule == "engagement-past-end-incomplete":
        d.engagements[0]["fields"]["End"] = "2026-05-31"
    return d, issues
