"""``audit``: the result as text and JSON, and the command end to end (the rules themselves
are tested in tests/core/test_audit_rules.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.cli.audit import render_json, render_text
from bot.core.audit_result import run_audit
from bot.core.audit_rules import RULES, AuditContext
from tests.constants import OWNER, REPO
from tests.core.audit_data import CONFIG, ISSUE, TODAY, broken, clean_data, rec
from tests.operator_helpers import operator_env, record_id, run_bot, seed
from tests.standins.github import GitHubStandIn


def test_clean_data_breaks_no_rule() -> None:
    data, issues = broken("none")
    result = run_audit(AuditContext(data, CONFIG, TODAY, issues))
    assert result.ok, render_text(result)
    assert render_text(result).endswith(f"all {len(RULES)} rules hold")


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
    repo = {"Repository": f"{OWNER}/{REPO}"}
    seed(
        at,
        "Projects",
        [
            {"Name": "Loose project", **sow, **repo},
            {"Name": "No SOW", "Engagement": [uni], "Status": "In progress", **repo},
            {"Name": "Overdue project", "Engagement": [engagements[-1]], **sow, **repo},
            {"Name": "No repository", "Engagement": [uni], "Status": "In progress", **sow},
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


def airtable_to_github_env(tmp_path: Path, at: LocalAirtable, gh: GitHubStandIn) -> dict[str, str]:
    """The operator's environment with Airtable → GitHub on and no default repository."""
    config = tmp_path / "bot.toml"
    config.write_text("[airtable_to_github]\nenabled = true\n", encoding="utf-8")
    return operator_env(tmp_path, at, gh, DELIVERABLES_BOT_CONFIG=str(config))


@pytest.mark.parametrize("airtable_to_github", [False, True], ids=["default", "airtable-to-github"])
def test_audit_command_on_a_clean_base_exits_0(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, airtable_to_github: bool
) -> None:
    env = (
        airtable_to_github_env(tmp_path, local_airtable, github)
        if airtable_to_github
        else operator_env(tmp_path, local_airtable, github)
    )
    result = run_bot("audit", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(f"all {len(RULES)} rules hold")
    assert "ok   deliverable-status-disagrees" in result.stdout
    assert "ok   project-without-repository" in result.stdout


def test_audit_command_names_each_broken_rule_once_and_exits_1(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    break_every_rule_once(local_airtable, github)
    env = airtable_to_github_env(tmp_path, local_airtable, github)
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
    assert named["project-without-repository"] == ["No repository"]
    assert named["deliverable-project-count"] == ["Stray"]
    assert named["deliverable-without-issue"] == ["No issue"]
    assert named["deliverable-status-disagrees"] == ["Drifted"]
    assert named["engagement-past-end-incomplete"] == ["Overdue", "Overdue project"]

    text = run_bot("audit", env=env, cwd=tmp_path)
    assert text.returncode == 1
    assert "FAIL project-without-sow: a Project has a Statement of Work" in text.stdout
    assert f"{len(RULES)} of {len(RULES)} rules broken, {len(RULES)} violation(s)" in text.stdout
    assert (
        'Project "No repository" (rec' in text.stdout
        and "has no Repository and the base has no default repository" in text.stdout
    )


def test_audit_names_a_repository_that_is_not_owner_name(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    hub = record_id(local_airtable, "Projects", "Setup workshop hub")
    local_airtable.table("Projects").update(hub, {"Repository": "example-org infrastructure"})
    env = airtable_to_github_env(tmp_path, local_airtable, github)
    result = run_bot("audit", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f'    - Project "Setup workshop hub" ({hub}) has a Repository that is not owner/name: '
        "'example-org infrastructure'" in result.stdout.splitlines()
    ), result.stdout
    # With Airtable → GitHub off nothing reads the field: the rule holds.
    off = run_bot("audit", env=operator_env(tmp_path, local_airtable, github), cwd=tmp_path)
    assert off.returncode == 0, off.stdout


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
