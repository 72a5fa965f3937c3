"""``check``: the schema comparison (pure) and the command as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.cli.base_schema import compare_schema, expected_schema, repository_field_required
from bot.cli.check import CheckResult
from bot.config import AirtableToGitHubSettings, Config
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
    assert result.stdout.strip().endswith("3 of 11 checks failed")


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


# -- the Projects' Repository field (Airtable → GitHub) -------------------------------------

HUB = "Setup workshop hub"
MISSING_REPOSITORY = (
    "base {base}: Projects.Repository is missing: add a singleLineText field named "
    '"Repository", or set [fields.projects] repository = "<its name>" (Airtable → GitHub is on '
    "and this base has no default repository; or set [airtable_to_github.repositories] {base} = "
    '"owner/name")'
)


def airtable_to_github(**settings: Any) -> Config:
    """The default configuration with Airtable → GitHub on, for base appX."""
    return Config(
        airtable_base_id="appX",
        airtable_to_github=AirtableToGitHubSettings(enabled=True, **settings),
    )


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    """A configuration file, as the environment names it."""
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return {"DELIVERABLES_BOT_CONFIG": str(path)}


@pytest.mark.parametrize(
    ("config", "required"),
    [
        pytest.param(Config(), False, id="off"),
        pytest.param(airtable_to_github(), True, id="on-no-default"),
        pytest.param(airtable_to_github(default_repository="o/r"), False, id="on-default"),
        pytest.param(airtable_to_github(repositories={"appX": "o/r"}), False, id="on-per-base"),
        pytest.param(airtable_to_github(repositories={"appY": "o/r"}), True, id="on-other-base"),
    ],
)
def test_a_base_without_the_repository_field_passes_unless_issues_could_go_nowhere(
    base: LocalAirtable, config: Config, required: bool
) -> None:
    assert base.base_id
    base.store.remove_field(base.base_id, "Projects", "Repository")
    assert repository_field_required(config, "appX") is required
    problems = compare_schema("appX", expected_schema(config, "appX"), metadata(base))
    assert problems == ([MISSING_REPOSITORY.format(base="appX")] if required else [])


def test_the_repository_field_must_be_text_even_when_airtable_to_github_is_off(
    base: LocalAirtable,
) -> None:
    assert base.base_id
    assert compare_schema("appX", expected_schema(Config()), metadata(base)) == []
    base.store.change_field_type(base.base_id, "Projects", "Repository", "multilineText")
    assert compare_schema("appX", expected_schema(Config()), metadata(base)) == []
    base.store.change_field_type(base.base_id, "Projects", "Repository", "url")
    assert compare_schema("appX", expected_schema(Config()), metadata(base)) == [
        "base appX: Projects.Repository is a url field; the bot needs singleLineText or "
        "multilineText: change the field's type"
    ]


def test_a_renamed_repository_field_is_pointed_at_when_it_is_required(
    base: LocalAirtable,
) -> None:
    assert base.base_id
    base.store.rename_field(base.base_id, "Projects", "Repository", "Repo")
    [problem] = compare_schema(
        "appX", expected_schema(airtable_to_github(), "appX"), metadata(base)
    )
    assert '(renamed? the table has "Repo" (singleLineText) not in the configuration)' in problem
    assert "[airtable_to_github.repositories] appX" in problem


def test_check_names_each_project_whose_repository_is_not_owner_name(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    assert base.base_id
    projects = base.table("Projects")
    hub = projects.first(formula=f"{{Name}} = '{HUB}'")
    assert hub is not None
    projects.update(hub["id"], {"Repository": "https://github.com/example-org/infrastructure"})
    other = projects.create({"Name": "Second hub", "Repository": "example-org/hubs"})
    env = operator_env(tmp_path, base, github)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        f'FAIL Project repositories: base {base.base_id}: Project "{HUB}" ({hub["id"]}) has '
        "Repository 'https://github.com/example-org/infrastructure', not a repository as "
        "owner/name: write it as owner/name (example-org/infrastructure) in Airtable, or empty it"
    ], result.stdout
    assert "Airtable → GitHub" not in result.stdout  # off: nothing says where issues go
    projects.update(hub["id"], {"Repository": "example-org/infrastructure"})
    again = run_bot("check", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stdout
    assert (
        f"ok   Project repositories: base {base.base_id}: 2 Project(s) name a repository, "
        "each as owner/name"
    ) in again.stdout.splitlines()
    assert other["id"] not in again.stdout


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        pytest.param(
            'default_repository = "example-org/infrastructure"',
            "ok   Airtable → GitHub: base {base}: Airtable → GitHub is on; issues of Projects "
            "without a Repository are opened in example-org/infrastructure",
            id="default",
        ),
        pytest.param(
            "",
            "ok   Airtable → GitHub: base {base}: Airtable → GitHub is on; no default repository "
            "for this base, so only Projects with a Repository get issues",
            id="only-projects-with-one",
        ),
    ],
)
def test_check_says_where_airtable_to_github_opens_issues(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn, settings: str, line: str
) -> None:
    config = write_config(tmp_path, f"[airtable_to_github]\nenabled = true\n{settings}\n")
    result = run_bot("check", env=operator_env(tmp_path, base, github, **config), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert line.format(base=base.base_id) in result.stdout.splitlines(), result.stdout


def test_check_fails_when_airtable_to_github_has_nowhere_to_open_issues(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    assert base.base_id
    base.store.remove_field(base.base_id, "Projects", "Repository")
    config = write_config(tmp_path, "[airtable_to_github]\nenabled = true\n")
    env = operator_env(tmp_path, base, github, **config)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == ["FAIL Airtable schema: " + MISSING_REPOSITORY.format(base=base.base_id)], (
        result.stdout
    )
    assert "Project repositories" not in result.stdout  # no field, no values to check
    with_default = write_config(
        tmp_path, '[airtable_to_github]\nenabled = true\ndefault_repository = "o/r"\n'
    )
    env = operator_env(tmp_path, base, github, **with_default)
    assert run_bot("check", env=env, cwd=tmp_path).returncode == 0


async def test_run_checks_runs_the_extra_checks_with_its_runtime(
    tmp_path: Path, base: LocalAirtable, github: GitHubStandIn
) -> None:
    from bot.app import Runtime
    from bot.cli.check import run_checks

    seen: list[str] = []

    async def webhook_check(runtime: Runtime) -> list[CheckResult]:
        seen.append(str(runtime.config.airtable_base_id))
        return [CheckResult("Airtable webhook", False, "no hook yet")]

    results = await run_checks(operator_env(tmp_path, base, github), extra=[webhook_check])
    assert seen == [base.base_id]
    assert [r.line() for r in results if not r.ok] == ["FAIL Airtable webhook: no hook yet"]
