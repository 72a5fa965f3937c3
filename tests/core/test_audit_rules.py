"""The audit's rules (DESIGN.md section 1) as pure checks: each broken once by its data, the
messages naming the records, and the rules run in their declared order."""

from __future__ import annotations

import pytest

from bot.core.audit_result import GITHUB_FAILED, GITHUB_SKIPPED, run_audit
from bot.core.audit_rules import RULES, STATUS_RULE, AuditContext
from tests.core.audit_data import CONFIG, TODAY, broken, clean_data


def test_clean_data_breaks_no_rule() -> None:
    data, issues = broken("none")
    result = run_audit(AuditContext(data, CONFIG, TODAY, issues))
    assert result.ok and result.complete
    assert [r.rule for r in result.results] == list(RULES)
    assert not any(r.skipped for r in result.results)


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


def test_several_opportunities_and_no_start_are_named() -> None:
    data = clean_data()
    data.engagements[0]["fields"]["Opportunity"] = ["recOpp1", "recOpp2"]
    data.engagements[0]["fields"].pop("Start")
    result = run_audit(AuditContext(data, CONFIG, TODAY, None))
    messages = [v.message for r in result.results for v in r.violations]
    assert 'Engagement "Uni 2026" (recEng1) has 2 Opportunities' in messages
    assert 'Engagement "Uni 2026" (recEng1) has no Start' in messages


def test_each_violation_carries_the_name_of_its_rule() -> None:
    for rule in RULES:
        data, issues = broken(rule.name)
        assert {v.rule for v in rule.check(AuditContext(data, CONFIG, TODAY, issues))} == {
            rule.name
        }


def test_the_exactly_one_rules_count_none_and_several() -> None:
    data = clean_data()
    data.projects[0]["fields"].pop("Engagement")
    data.deliverables[0]["fields"]["Project"] = ["recPrj1", "recPrj1", "recPrj2"]
    result = run_audit(AuditContext(data, CONFIG, TODAY, None))
    messages = {r.rule.name: [v.message for v in r.violations] for r in result.results}
    assert messages["project-engagement-count"] == ['Project "Hub" (recPrj1) has no Engagement']
    assert messages["deliverable-project-count"] == [
        'Deliverable "Deploy" (recDel1) has 3 Projects'
    ]


def test_the_status_rule_is_skipped_without_github_saying_why() -> None:
    data, _ = broken(STATUS_RULE)
    without = run_audit(AuditContext(data, CONFIG, TODAY, None))
    failed = run_audit(AuditContext(data, CONFIG, TODAY, None), github_failed="GitHub answers 502")
    (skipped,) = [r for r in without.results if r.skipped]
    assert (skipped.rule.name, skipped.skipped, skipped.violations) == (
        STATUS_RULE,
        GITHUB_SKIPPED,
        [],
    )
    assert [r.skipped for r in failed.results if r.skipped] == [
        GITHUB_FAILED.format(reason="GitHub answers 502")
    ]
    assert without.ok


@pytest.mark.parametrize("status", ["Needs renewal", "Delivered"])
def test_engagements_in_a_renewal_state_are_noticed(status: str) -> None:
    data = clean_data()
    data.engagements[0]["fields"]["Status"] = status
    (notice,) = run_audit(AuditContext(data, CONFIG, TODAY, None)).renewals
    assert (notice.engagement.id, notice.status, notice.opportunity) == ("recEng1", status, None)
