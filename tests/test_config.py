"""Configuration: environment and TOML, validated with a message per problem."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError
from bot.config_loader import load_config
from tests.standins.github import app_private_key_pem


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return {"DELIVERABLES_BOT_CONFIG": str(path)}


def test_defaults_without_environment() -> None:
    config = load_config({})
    assert config.tables.deliverables == "Project Deliverables"
    assert config.fields.deliverables.issue == "GitHub Issue"
    assert config.statuses.deliverable.done == "Done"
    assert config.airtable.requests_per_second == 4.5
    assert config.github_api_url == "https://api.github.com"
    assert not config.has_github_app


def test_toml_overrides_names(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        """
[tables]
deliverables = "Tasks"
[fields.deliverables]
issue = "Issue link"
[statuses.deliverable]
done = "Finished"
[statuses]
cancelled_reasons = ["not_planned"]
[labels]
blocked = "on hold"
[airtable]
requests_per_second = 2
[bases]
Example-Org = "appAAAAAAAAAAAAAA"
""",
    )
    config = load_config(env)
    assert config.tables.deliverables == "Tasks"
    assert config.fields.deliverables.issue == "Issue link"
    assert config.statuses.deliverable.done == "Finished"
    assert config.statuses.cancelled_reasons == ("not_planned",)
    assert config.labels.blocked == "on hold"
    assert config.airtable.requests_per_second == 2.0
    assert config.base_for_owner("example-org") == "appAAAAAAAAAAAAAA"
    assert config.base_for_owner("someone-else") is None


def test_every_problem_is_named(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        """
[tables]
deliverables = ""
colour = "blue"
[airtable]
requests_per_second = "fast"
batch_size = 20
[nonsense]
x = 1
""",
    )
    env.update(GITHUB_APP_ID="abc", AIRTABLE_BASE_ID="base1")
    with pytest.raises(ConfigError) as error:
        load_config(env)
    text = str(error.value)
    for expected in (
        "tables.deliverables: expected a non-empty string",
        "tables: unknown setting 'colour'",
        "airtable.requests_per_second: expected a number",
        "airtable.batch_size: Airtable takes 1 to 10 records",
        "unknown section [nonsense]",
        "GITHUB_APP_ID: expected the App's numeric id",
        "GITHUB_APP_ID and GITHUB_PRIVATE_KEY",
        "AIRTABLE_BASE_ID: an Airtable base id starts with 'app'",
    ):
        assert expected in text


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config({"DELIVERABLES_BOT_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[tables\n"))


def test_private_key_from_path_and_secrets_hidden(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    pem = app_private_key_pem()
    key.write_text(pem, encoding="utf-8")
    secret_material = pem.splitlines()[1]
    config = load_config(
        {
            "GITHUB_APP_ID": "42",
            "GITHUB_PRIVATE_KEY_PATH": str(key),
            "GITHUB_WEBHOOK_SECRET": "hush",
            "AIRTABLE_TOKEN": "patXYZ",
            "GITHUB_API_URL": "http://127.0.0.1:9/",
        }
    )
    assert config.has_github_app
    assert config.github_api_url == "http://127.0.0.1:9"
    shown = repr(config)
    for secret in (secret_material, "hush", "patXYZ"):
        assert secret not in shown


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_toml_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "bot.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config({"DELIVERABLES_BOT_CONFIG": str(path)})
    except ConfigError as error:
        assert error.problems
    else:
        assert isinstance(config, Config)


def readme_examples() -> list[str]:
    """Every TOML example of the README, in order."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in readme.split("```toml\n")[1:]]


def test_every_readme_example_configuration_loads(tmp_path: Path) -> None:
    examples = readme_examples()
    assert len(examples) >= 3
    for example in examples:
        load_config(write(tmp_path, example))  # no ConfigError
    main = next(e for e in examples if "[bases]" in e)
    config = load_config(write(tmp_path, main))
    assert config.base_for_owner("example-org") == "appXXXXXXXXXXXXXX"
    assert config.commands.link_role == "triage"
    airtable_to_github = next(e for e in examples if "[airtable_to_github]" in e)
    settings = load_config(write(tmp_path, airtable_to_github)).airtable_to_github
    assert not settings.enabled
    assert settings.repositories == {"appXXXXXXXXXXXXXX": "example-org/delivery"}


# -- [airtable_to_github]: issues opened for deliverables typed into Airtable ---------------

BASE = "appAAAAAAAAAAAAAA"
OTHER_BASE = "appBBBBBBBBBBBBBB"


def problems_of(tmp_path: Path, text: str, **environ: str) -> list[str]:
    """The problems a configuration file is refused for (the test fails if it loads)."""
    with pytest.raises(ConfigError) as error:
        load_config({**write(tmp_path, text), **environ})
    return error.value.problems


def test_airtable_to_github_is_off_by_default_and_sends_issues_nowhere() -> None:
    config = load_config({"AIRTABLE_BASE_ID": BASE})
    settings = config.airtable_to_github
    assert settings.enabled is False
    assert (settings.default_repository, dict(settings.repositories)) == ("", {})
    assert settings.notification_url == ""
    assert (settings.poll_seconds, settings.refresh_margin_days) == (30.0, 3.0)
    assert "{project}" in settings.issue_body
    assert settings.tracking_title == "{project}"
    assert config.fields.projects.repository == "Repository"
    assert config.default_repository(BASE) is None


def test_the_default_repository_serves_the_base_of_airtable_base_id(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        """
[airtable_to_github]
enabled = true
default_repository = "example-org/infrastructure"
notification_url = "https://bot.example.org/airtable/webhook"
poll_seconds = 5
refresh_margin_days = 2.5
issue_body = "For {project} ({engagement}): {name}, see {statement_of_work}; {{literal}}"
tracking_title = "Tracking: {project}"
[fields.projects]
repository = "GitHub repo"
""",
    )
    config = load_config({**env, "AIRTABLE_BASE_ID": BASE})
    settings = config.airtable_to_github
    assert settings.enabled is True
    assert settings.notification_url == "https://bot.example.org/airtable/webhook"
    assert (settings.poll_seconds, settings.refresh_margin_days) == (5.0, 2.5)
    assert isinstance(settings.poll_seconds, float)
    assert settings.tracking_title == "Tracking: {project}"
    assert config.fields.projects.repository == "GitHub repo"
    assert config.default_repository(BASE) == "example-org/infrastructure"
    # A base of [bases] is not the base of AIRTABLE_BASE_ID: the default is not its.
    assert config.default_repository(OTHER_BASE) is None
    # Without AIRTABLE_BASE_ID the one default serves whatever base is asked about.
    assert load_config(env).default_repository(OTHER_BASE) == "example-org/infrastructure"


def test_repositories_per_base_come_before_the_default(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        f"""
[airtable_to_github]
enabled = true
default_repository = "example-org/infrastructure"
[airtable_to_github.repositories]
{BASE} = "example-org/hubs"
{OTHER_BASE} = "other-org/support.site"
[bases]
other-org = "{OTHER_BASE}"
""",
    )
    config = load_config({**env, "AIRTABLE_BASE_ID": BASE})
    assert dict(config.airtable_to_github.repositories) == {
        BASE: "example-org/hubs",
        OTHER_BASE: "other-org/support.site",
    }
    assert config.default_repository(BASE) == "example-org/hubs"
    assert config.default_repository(OTHER_BASE) == "other-org/support.site"
    assert config.default_repository("appCCCCCCCCCCCCCC") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            'default_repository = "example-org"',
            "airtable_to_github.default_repository: expected a repository as owner/name, "
            "got 'example-org'",
            id="no-name",
        ),
        pytest.param(
            'default_repository = "https://github.com/example-org/infrastructure"',
            "airtable_to_github.default_repository: expected a repository as owner/name",
            id="a-url",
        ),
        pytest.param(
            'default_repository = "example org/infrastructure"',
            "airtable_to_github.default_repository: expected a repository as owner/name",
            id="a-space",
        ),
        pytest.param(
            'default_repository = ""',
            "airtable_to_github.default_repository: expected a non-empty string",
            id="empty",
        ),
        pytest.param(
            '[airtable_to_github.repositories]\nappAAAAAAAAAAAAAA = "a/b/c"',
            "airtable_to_github.repositories.appAAAAAAAAAAAAAA: expected a repository as "
            "owner/name, got 'a/b/c'",
            id="per-base-three-parts",
        ),
        pytest.param(
            '[airtable_to_github.repositories]\nexample-org = "example-org/infrastructure"',
            "airtable_to_github.repositories: expected a table of 'app...' base id",
            id="per-base-not-a-base-id",
        ),
        pytest.param(
            "[airtable_to_github.repositories]\nappAAAAAAAAAAAAAA = 3",
            "airtable_to_github.repositories: expected a table of 'app...' base id",
            id="per-base-not-text",
        ),
        pytest.param(
            'repositories = "example-org/infrastructure"',
            "airtable_to_github.repositories: expected a table of 'app...' base id",
            id="repositories-not-a-table",
        ),
    ],
)
def test_a_bad_repository_is_named(tmp_path: Path, text: str, problem: str) -> None:
    problems = problems_of(tmp_path, f"[airtable_to_github]\nenabled = true\n{text}\n")
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{title}", id="unknown-name"),
        pytest.param("{0}", id="positional"),
        pytest.param("{}", id="bare-braces"),
        pytest.param("{project", id="unclosed"),
        pytest.param("done}", id="stray-close"),
        pytest.param("{project:d}", id="bad-format"),
        pytest.param("{project!z}", id="bad-conversion"),
        pytest.param("{project.owner}", id="attribute"),
        pytest.param("{project[key]}", id="item"),
        pytest.param("{name!r}", id="conversion"),
        pytest.param("{name:>10}", id="format-spec"),
    ],
)
@pytest.mark.parametrize("key", ["issue_body", "tracking_title"])
def test_a_template_placeholder_the_bot_cannot_fill_is_named(
    tmp_path: Path, key: str, template: str
) -> None:
    problems = problems_of(tmp_path, f"[airtable_to_github]\n{key} = '''{template}'''\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        f"airtable_to_github.{key}: a template may use {{name}}, {{project}}, {{engagement}} "
        "and {statement_of_work}"
    ), problems


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("poll_seconds = 0", "airtable_to_github.poll_seconds: must be positive"),
        ("poll_seconds = -1", "airtable_to_github.poll_seconds: must not be negative"),
        ("poll_seconds = 'often'", "airtable_to_github.poll_seconds: expected a number"),
        ("refresh_margin_days = 0", "airtable_to_github.refresh_margin_days: between 0 and 7"),
        ("refresh_margin_days = 7", "airtable_to_github.refresh_margin_days: between 0 and 7"),
        ("refresh_margin_days = 7.5", "airtable_to_github.refresh_margin_days: between 0 and 7"),
        (
            "notification_url = 'ftp://bot.example.org/airtable/webhook'",
            "airtable_to_github.notification_url: expected an http(s) URL",
        ),
        (
            "notification_url = 'bot.example.org/airtable/webhook'",
            "airtable_to_github.notification_url: expected an http(s) URL",
        ),
        ("enabled = 'yes'", "airtable_to_github.enabled: expected true or false"),
        ("repository = 'example-org/infrastructure'", "airtable_to_github: unknown setting"),
    ],
)
def test_airtable_to_github_bounds_and_unknown_keys(
    tmp_path: Path, setting: str, problem: str
) -> None:
    problems = problems_of(tmp_path, f"[airtable_to_github]\n{setting}\n")
    assert [p for p in problems if problem in p] == problems, problems
    assert problems


def test_airtable_to_github_limits_just_inside_the_bounds_load(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[airtable_to_github]
poll_seconds = 0.5
refresh_margin_days = 6.9
notification_url = "http://127.0.0.1:8080/airtable/webhook"
""",
        )
    )
    assert config.airtable_to_github.poll_seconds == 0.5
    assert config.airtable_to_github.refresh_margin_days == 6.9


def test_an_unknown_key_names_the_known_ones(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "[airtable_to_github]\nenable = true\n")
    assert problem.startswith("airtable_to_github: unknown setting 'enable' (known: ")
    assert "enabled" in problem and "default_repository" in problem
