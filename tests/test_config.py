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


def test_the_readme_example_configuration_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load_config(write(tmp_path, example))
    assert config.base_for_owner("example-org") == "appXXXXXXXXXXXXXX"
    assert config.commands.link_role == "triage"
