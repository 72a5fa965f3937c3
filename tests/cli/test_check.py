"""``check``: the schema comparison (pure) and the command as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.cli.base_schema import compare_schema, expected_schema
from bot.config import Config
from tests.operator_helpers import SECRET, operator_env, run_bot
from tests.standins.github import GitHubStandIn

TOKEN = "patCheckTest.secret-token-value"
SCHEMA = Path(__file__).resolve().parents[2] / "bot" / "airtable_local" / "data" / "schema.json"


@pytest.fixture
def base(local_airtable_factory: Callable[..., LocalAirtable]) -> LocalAirtable:
    """The demo base behind a token that must never be printed."""
    return local_airtable_factory(seed="demo", token=TOKEN)


def metadata(at: LocalAirtable) -> dict[str, object]:
    """The base's schema as the metadata API answers."""
    api = at.api()
    answer: dict[str, object] = api.get(api.build_url(f"meta/bases/{at.base_id}/tables"))
    return answer


def test_the_default_schema_matches_the_default_configuration(base: LocalAirtable) -> None:
    assert compare_schema("appX", expected_schema(Config()), metadata(base)) == []


def test_a_missing_table_names_the_setting(base: LocalAirtable) -> None:
    assert base.base_id
    base.store.rename_table(base.base_id, "Contracts", "Agreements")
    problems = compare_schema("appX", expected_schema(Config()), metadata(base))
    assert any(
        'table "Contracts" is missing: create it, or set [tables] contracts = "<its name>"' in p
        for p in problems
    ), problems
    # The links to it now point at a table of another name.
    assert any('Opportunities.Contracts links to "Agreements"' in p for p in problems), problems


def test_check_passes_on_a_clean_base_and_prints_no_secret(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    result = run_bot("check", env=operator_env(tmp_path, base, github), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "ok   configuration: configuration is valid (environment and defaults)"
    assert f"ok   Airtable base {base.base_id}: base {base.base_id} is reachable: 5 tables" in lines
    assert f"ok   Airtable schema: base {base.base_id} schema matches the configuration" in lines
    assert any(
        line.startswith("ok   GitHub App")
        and "JWT accepted; 1 installation(s): example-org" in line
        for line in lines
    ), lines
    assert "ok   webhook secret: GITHUB_WEBHOOK_SECRET is set" in lines
    assert lines[-1] == f"all {len(lines) - 1} checks passed"
    everything = result.stdout + result.stderr
    assert TOKEN not in everything
    assert SECRET not in everything
    assert "PRIVATE KEY" not in everything


def test_check_names_a_renamed_field_a_missing_option_and_a_wrong_type(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    assert base.base_id
    base.store.rename_field(base.base_id, "Projects", "Statement of Work", "SOW")
    base.store.remove_select_option(base.base_id, "Project Deliverables", "Status", "Blocked")
    base.store.change_field_type(base.base_id, "Engagements", "End", "singleLineText")
    result = run_bot("check", env=operator_env(tmp_path, base, github), cwd=tmp_path)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    b = base.base_id
    assert failed == [
        f"FAIL Airtable schema: base {b}: Engagements.End is a singleLineText field; the bot "
        "needs date: change the field's type",
        f"FAIL Airtable schema: base {b}: Projects.Statement of Work is missing: add a url field "
        'named "Statement of Work", or set [fields.projects] statement_of_work = "<its name>" '
        '(renamed? the table has "SOW" (url) not in the configuration)',
        f'FAIL Airtable schema: base {b}: Project Deliverables.Status has no option "Blocked": '
        'add it to the field, or set [statuses.deliverable] blocked = "<its name>"',
    ], result.stdout
    assert result.stdout.strip().endswith("3 of 10 checks failed")


def test_a_configuration_naming_the_renamed_field_passes(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    assert base.base_id
    base.store.rename_field(base.base_id, "Projects", "Statement of Work", "SOW")
    config = tmp_path / "bot.toml"
    config.write_text('[fields.projects]\nstatement_of_work = "SOW"\n')
    env = operator_env(tmp_path, base, github, DELIVERABLES_BOT_CONFIG=str(config))
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert f"configuration is valid (file {config})" in result.stdout


def test_check_without_github_credentials_fails_unless_intended(
    tmp_path: Path, base: LocalAirtable
) -> None:
    env = operator_env(tmp_path, base, GITHUB_WEBHOOK_SECRET=SECRET)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "FAIL GitHub App: GitHub App not configured: set GITHUB_APP_ID and GITHUB_PRIVATE_KEY"
        in result.stdout
    )
    assert "--without-github" in result.stdout
    intended = run_bot("check", "--without-github", env=env, cwd=tmp_path)
    assert intended.returncode == 0, intended.stdout
    assert "skip GitHub App: GitHub App not configured (--without-github" in intended.stdout


def test_check_reports_a_refused_token_an_absent_secret_and_bad_jwt(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    env = operator_env(tmp_path, base, github, AIRTABLE_TOKEN="wrong", GITHUB_APP_ID="999")
    del env["GITHUB_WEBHOOK_SECRET"]
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert "the token was refused (HTTP 401): check AIRTABLE_TOKEN" in out
    assert "refused the App's JWT" in out
    assert "FAIL webhook secret: GITHUB_WEBHOOK_SECRET is not set" in out
    assert "wrong" not in out.replace("wrong field", "")


def test_check_lists_configuration_problems_one_per_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[nonsense]\n")
    env = operator_env(tmp_path, None, AIRTABLE_BASE_ID="nope", DELIVERABLES_BOT_CONFIG=str(config))
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 2, result.stdout
    assert all(line.startswith("FAIL configuration: ") for line in failed)
    assert "configuration: configuration:" not in result.stdout


def test_check_without_an_airtable_token_says_what_to_set(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    result = run_bot("check", env=operator_env(tmp_path, None, github), cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL Airtable token: AIRTABLE_TOKEN is not set" in result.stdout


def test_the_bundled_schema_is_what_check_expects() -> None:
    spec = json.loads(SCHEMA.read_text())
    names = {t["name"]: {f["name"] for f in t["fields"]} for t in spec["tables"]}
    for table in expected_schema(Config()):
        assert {f.name for f in table.fields} <= names[table.name]


async def test_run_checks_in_process_on_a_broken_base(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    from bot.cli.check import render, run_checks

    assert base.base_id
    base.store.remove_select_option(base.base_id, "Engagements", "Status", "Needs renewal")
    results = await run_checks(operator_env(tmp_path, base, github))
    failed = [r.detail for r in results if not r.ok]
    assert failed == [
        f'base {base.base_id}: Engagements.Status has no option "Needs renewal": add it to the '
        'field, or set [statuses.engagement] needs_renewal = "<its name>"'
    ]
    assert render(results).endswith(f"1 of {len(results)} checks failed")


def test_check_names_the_issues_github_answered_404_for(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    env = operator_env(tmp_path, base, github)
    # Issue 2 is missing from its repository's listing and answers 404 alone: not visible.
    github.inject(r"/issues/2$", 404, times=None, method="GET")
    github.inject(r"/repos/example-org/infrastructure/issues$", 200, times=None, body=[])
    synced = run_bot("sync", env=env, cwd=tmp_path)
    assert "GitHub answers 404" in synced.stdout, synced.stdout + synced.stderr
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if "issues visible to the App" in x]
    assert line.startswith("FAIL")
    assert "GitHub answers 404 for 1 deliverable issue(s)" in line
    assert "example-org/infrastructure (issues 2)" in line
    github.clear_faults()
    run_bot("sync", env=env, cwd=tmp_path)  # GitHub answers again: the issue is forgotten
    again = run_bot("check", env=env, cwd=tmp_path)
    assert "ok   issues visible to the App" in again.stdout, again.stdout
