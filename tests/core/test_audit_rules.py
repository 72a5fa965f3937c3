"""The audit's rules (README: The process's rules) as pure checks: each broken once by its data, the
messages naming the records, and the rules run in their declared order."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.config import AirtableToGitHubSettings, Config
from bot.core.audit_result import GITHUB_FAILED, GITHUB_SKIPPED, run_audit
from bot.core.audit_rules import (
    RULES,
    STATUS_RULE,
    AuditContext,
    is_repository_name,
    project_without_repository,
)
from tests.constants import OWNER, REPO
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


# -- project-without-repository: where Airtable → GitHub opens a Project's issues ---------

REPOSITORY_RULE = "project-without-repository"
NO_REPOSITORY = (
    'Project "Hub" (recPrj1) has no Repository and the base has no default repository, so its '
    "deliverables get no issues: set its Repository to owner/name, or set "
    "[airtable_to_github] default_repository"
)


def repository_violations(
    config: Config, repository: object = None, *, base_id: str | None = None
) -> list[str]:
    """The messages of the repository rule over the clean base, its Project's Repository
    set to ``repository`` (None: left empty)."""
    data = clean_data()
    data.projects[0]["fields"].pop("Repository")
    if repository is not None:
        data.projects[0]["fields"]["Repository"] = repository
    ctx = AuditContext(data, config, TODAY, None, base_id=base_id)
    return [v.message for v in project_without_repository.check(ctx)]


def enabled(**settings: Any) -> Config:
    """The default configuration with Airtable → GitHub on, and these settings of it."""
    return Config(
        airtable_base_id=settings.pop("airtable_base_id", None),
        airtable_to_github=AirtableToGitHubSettings(enabled=True, **settings),
    )


def test_a_project_without_a_repository_is_named_when_nowhere_else_would_take_its_issues() -> None:
    assert repository_violations(CONFIG) == [NO_REPOSITORY]
    assert repository_violations(CONFIG, "") == [NO_REPOSITORY]
    assert repository_violations(CONFIG, f"{OWNER}/{REPO}") == []


def test_the_repository_rule_holds_when_airtable_to_github_is_off() -> None:
    off = Config()
    assert repository_violations(off) == []
    assert repository_violations(off, "not a repository") == []
    (result,) = [
        r
        for r in run_audit(AuditContext(clean_data(), off, TODAY, None)).results
        if (r.rule.name == REPOSITORY_RULE)
    ]
    assert (result.violations, result.skipped) == ([], None)


@pytest.mark.parametrize(
    ("config", "base_id", "violations"),
    [
        pytest.param(enabled(default_repository="o/r"), None, 0, id="default-any-base"),
        pytest.param(
            enabled(default_repository="o/r", airtable_base_id="appA"), "appA", 0, id="its-base"
        ),
        pytest.param(
            enabled(default_repository="o/r", airtable_base_id="appA"),
            "appB",
            1,
            id="default-of-another-base",
        ),
        pytest.param(enabled(repositories={"appB": "o/r"}), "appB", 0, id="per-base"),
        pytest.param(enabled(repositories={"appB": "o/r"}), "appC", 1, id="per-other-base"),
        pytest.param(enabled(repositories={"appB": "o/r"}), None, 1, id="per-base-unknown-base"),
    ],
)
def test_a_default_repository_for_the_base_takes_the_issues(
    config: Config, base_id: str | None, violations: int
) -> None:
    assert len(repository_violations(config, base_id=base_id)) == violations


@pytest.mark.parametrize(
    "value",
    [
        "infrastructure",
        "https://github.com/example-org/infrastructure",
        "example-org/infrastructure ",
        "example org/infrastructure",
        "example-org/infra/structure",
        "/infrastructure",
        ["example-org/infrastructure"],
    ],
)
def test_a_repository_that_is_not_owner_name_is_named_even_with_a_default(value: object) -> None:
    for config in (CONFIG, enabled(default_repository="o/r")):
        assert repository_violations(config, value) == [
            f'Project "Hub" (recPrj1) has a Repository that is not owner/name: {value!r}'
        ]


def test_the_repository_rule_uses_the_configured_field_name() -> None:
    config = dataclasses.replace(
        CONFIG,
        fields=dataclasses.replace(
            CONFIG.fields,
            projects=dataclasses.replace(CONFIG.fields.projects, repository="GitHub repo"),
        ),
    )
    data = clean_data()  # its Repository is a field this configuration does not read
    data.projects[0]["fields"]["GitHub repo"] = "nope"
    (message,) = [
        v.message for v in project_without_repository.check(AuditContext(data, config, TODAY, None))
    ]
    assert message == "Project \"Hub\" (recPrj1) has a GitHub repo that is not owner/name: 'nope'"
    data.projects[0]["fields"].pop("GitHub repo")
    (message,) = [
        v.message for v in project_without_repository.check(AuditContext(data, config, TODAY, None))
    ]
    assert message.startswith('Project "Hub" (recPrj1) has no GitHub repo and the base')


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("example-org/infrastructure", True),
        ("a/b", True),
        ("Example-Org/site.github.io", True),
        ("o/under_score-and.dot", True),
        ("example-org", False),
        ("-org/name", False),
        ("example-org/", False),
        ("o/r\n", False),
        ("o/.", False),
        ("o/..", False),
        ("o/.github", True),
        ("-o/r", False),
        ("o-/r", False),
        ("a--b/r", False),
        ("o" * 39 + "/r", True),
        ("o" * 40 + "/r", False),
        ("o/" + "r" * 100, True),
        ("o/" + "r" * 101, False),
        ("o/r s", False),
        (" o/r", False),
        ("", False),
    ],
)
def test_is_repository_name(value: str, ok: bool) -> None:
    assert is_repository_name(value) is ok
