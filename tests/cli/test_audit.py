"""``audit``: each rule of DESIGN.md section 1 as a pure check, and the command end to end."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.cli.audit import RULES, AuditContext, render_json, render_text, run_audit
from bot.config import Config
from bot.core.issue import IssueRef, IssueState
from bot.core.records import BaseData
from tests.operator_helpers import OWNER, REPO, operator_env, record_id, run_bot, seed
from tests.standins.github_standin import GitHubStandIn

TODAY = date(2026, 6, 1)
CONFIG = Config()
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
    elif rule == "deliverable-project-count":
        d.deliverables[0]["fields"].pop("Project")
    elif rule == "deliverable-without-issue":
        d.deliverables[0]["fields"]["GitHub Issue"] = "not a url"
    elif rule == "deliverable-status-disagrees":
        d.deliverables[0]["fields"]["Status"] = "In progress"
    elif rule == "engagement-past-end-incomplete":
        d.engagements[0]["fields"]["End"] = "2026-05-31"
    return d, issues


def test_clean_data_breaks_no_rule() -> None:
    data, issues = broken("none")
    result = run_audit(AuditContext(data, CONFIG, TODAY, issues))
    assert result.ok, render_text(result)
    assert render_text(result).endswith(f"all {len(RULES)} rules hold")


@pytest.mark.parametrize("rule", [r.name for r in RULES])
def test_each_rule_is_broken_once_by_its_data(rule: str) -> None:
    data, issues = broken(rule)
    result = run_audit(AuditContext(data, CONFIG, TODAY, issues))
    broken_rules = {r.rule.name: r.violations for r in result.results if r.violations}
    assert list(broken_rules) == [rule]
    (violation,) = broken_rules[rule]
    assert violation.records, "a violation names its records"
    assert all(ref.id.startswith("rec") and ref.name for ref in violation.records)
    assert violation.records[0].id in violation.message


def test_messages_name_records_and_what_is_wrong() -> None:
    data, issues = broken("opportunity-several-engagements")
    result = run_audit(AuditContext(data, CONFIG, TODAY, issues))
    (v,) = next(r.violations for r in result.results if r.violations)
    assert v.message == (
        'Opportunity "Uni" (recOpp1) has 2 Engagements: "Uni 2026" (recEng1), "Uni 2025" (recEng2)'
    )
    data, issues = broken("deliverable-status-disagrees")
    result = run_audit(AuditContext(data, CONFIG, TODAY, issues))
    (v,) = next(r.violations for r in result.results if r.violations)
    assert "says In progress but its issue example-org/infrastructure#1 is closed (Done)" in (
        v.message
    )


def test_status_rule_is_skipped_with_a_note_without_github() -> None:
    data, _ = broken("deliverable-status-disagrees")
    result = run_audit(AuditContext(data, CONFIG, TODAY, None))
    assert result.ok
    text = render_text(result)
    assert "skip deliverable-status-disagrees" in text
    assert "no GitHub App credentials" in text
    document = json.loads(render_json(result))
    rule = next(r for r in document["rules"] if r["name"] == "deliverable-status-disagrees")
    assert rule["skipped"] and rule["ok"]


def test_several_opportunities_and_no_start_are_named() -> None:
    data = clean_data()
    data.engagements[0]["fields"]["Opportunity"] = ["recOpp1", "recOpp2"]
    data.engagements[0]["fields"].pop("Start")
    result = run_audit(AuditContext(data, CONFIG, TODAY, None))
    messages = [v.message for r in result.results for v in r.violations]
    assert 'Engagement "Uni 2026" (recEng1) has 2 Opportunities' in messages
    assert 'Engagement "Uni 2026" (recEng1) has no Start' in messages


def test_renewal_states_are_reported() -> None:
    data = clean_data()
    data.engagements[0]["fields"]["Status"] = "Needs renewal"
    data.opportunities.append(rec("recOpp9", Name="Uni 2026 renewal", Type="Renewal"))
    result = run_audit(AuditContext(data, CONFIG, TODAY, None))
    assert 'renewal: Engagement "Uni 2026" (recEng1) is Needs renewal; Renewal Opportunity ' in (
        render_text(result)
    )
    document = json.loads(render_json(result))
    assert document["renewals"][0]["opportunity"]["id"] == "recOpp9"


# -- end to end: the real command over the embedded Airtable and the GitHub stand-in --------


def break_every_rule_once(at: LocalAirtable, gh: GitHubStandIn) -> None:
    """Add records to the demo base so that each rule is broken exactly once."""
    hub = record_id(at, "Projects", "Setup workshop hub")
    uni = record_id(at, "Engagements", "Example University 2026")
    seed(at, "Opportunities", [{"Name": "Bad New", "Type": "New", "Stage": "Closed-Won"}])
    lost, twice, undated, overdue = seed(
        at,
        "Opportunities",
        [
            {"Name": "Lost deal", "Type": "Renewal", "Stage": "Closed-Lost"},
            {"Name": "Twice", "Type": "Renewal", "Stage": "Closed-Won"},
            {"Name": "Undated deal", "Type": "Renewal", "Stage": "Closed-Won"},
            {"Name": "Overdue deal", "Type": "Renewal", "Stage": "Closed-Won"},
        ],
    )
    dates = {"Start": "2026-01-01", "End": "2028-12-31", "Status": "Active"}
    engagements = seed(
        at,
        "Engagements",
        [
            {"Name": "Lost engagement", "Opportunity": [lost], **dates},
            {"Name": "Twice A", "Opportunity": [twice], **dates},
            {"Name": "Twice B", "Opportunity": [twice], **dates},
            {"Name": "Orphan engagement", **dates},
            {"Name": "Undated", "Opportunity": [undated], "Status": "Active"},
            {
                "Name": "Overdue",
                "Opportunity": [overdue],
                "Start": "2020-01-01",
                "End": "2020-12-31",
                "Status": "Active",
            },
        ],
    )
    sow = {"Statement of Work": "https://example.org/sow/x"}
    seed(
        at,
        "Projects",
        [
            {"Name": "Loose project", **sow},
            {"Name": "No SOW", "Engagement": [uni], "Status": "In progress"},
            {"Name": "Overdue project", "Engagement": [engagements[-1]], **sow},
        ],
    )
    gh.add_issue(OWNER, REPO, 10, title="Stray")
    gh.add_issue(OWNER, REPO, 11, title="Drifted", state="closed", state_reason="completed")
    seed(
        at,
        "Project Deliverables",
        [
            {"Name": "Stray", "GitHub Issue": ISSUE + "10", "Status": "Todo"},
            {"Name": "No issue", "Project": [hub], "Status": "Todo"},
            {"Name": "Drifted", "Project": [hub], "GitHub Issue": ISSUE + "11", "Status": "Todo"},
        ],
    )


def test_audit_command_on_a_clean_base_exits_0(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    result = run_bot("audit", env=operator_env(tmp_path, local_airtable, github), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(f"all {len(RULES)} rules hold")
    assert "ok   deliverable-status-disagrees" in result.stdout


def test_audit_command_names_each_broken_rule_once_and_exits_1(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    break_every_rule_once(local_airtable, github)
    env = operator_env(tmp_path, local_airtable, github)
    result = run_bot("audit", "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False
    counts = {r["name"]: len(r["violations"]) for r in document["rules"]}
    assert counts == {r.name: 1 for r in RULES}, counts
    named = {
        r["name"]: [x["name"] for x in r["violations"][0]["records"]] for r in document["rules"]
    }
    assert named["new-won-without-contract"] == ["Bad New"]
    assert named["engagement-opportunity-not-won"] == ["Lost engagement", "Lost deal"]
    assert named["opportunity-several-engagements"] == ["Twice", "Twice A", "Twice B"]
    assert named["engagement-opportunity-count"] == ["Orphan engagement"]
    assert named["engagement-without-dates"] == ["Undated"]
    assert named["project-engagement-count"] == ["Loose project"]
    assert named["project-without-sow"] == ["No SOW"]
    assert named["deliverable-project-count"] == ["Stray"]
    assert named["deliverable-without-issue"] == ["No issue"]
    assert named["deliverable-status-disagrees"] == ["Drifted"]
    assert named["engagement-past-end-incomplete"] == ["Overdue", "Overdue project"]

    text = run_bot("audit", env=env, cwd=tmp_path)
    assert text.returncode == 1
    assert "FAIL project-without-sow: a Project has a Statement of Work" in text.stdout
    assert f"{len(RULES)} of {len(RULES)} rules broken, {len(RULES)} violation(s)" in text.stdout


def test_audit_without_github_skips_the_status_rule_with_a_note(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    result = run_bot("audit", env=operator_env(tmp_path, local_airtable), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skip deliverable-status-disagrees" in result.stdout
    assert "no GitHub App credentials" in result.stdout


def test_audit_without_a_base_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_bot("audit", env=operator_env(tmp_path, None), cwd=tmp_path)
    assert result.returncode == 2
    assert "AIRTABLE_BASE_ID is not set" in result.stderr
