"""The manifest flow's pure parts: the manifest built from app.yaml, GitHub's URLs, .env lines."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.core.app_manifest import (
    build_manifest,
    credentials,
    env_lines,
    github_web_url,
    install_url,
    is_login,
    merge_env,
    parse_app_yaml,
    registration_url,
)

APP_YAML = Path(__file__).resolve().parents[2] / "app.yaml"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAv3Nf+/a0b1c2\nZm9vYmFy\n"
    "-----END RSA PRIVATE KEY-----\n"
)
CONVERSION = {
    "id": 900001,
    "slug": "deliverables-bot-900001",
    "client_id": "Iv23li00000000900001",
    "client_secret": "c" * 40,
    "webhook_secret": "w" * 40,
    "pem": PEM,
    "html_url": "https://github.com/apps/deliverables-bot-900001",
}


def read_env(text: str) -> dict[str, str | None]:
    """What python-dotenv reads from ``text``."""
    return dict(dotenv_values(stream=StringIO(text)))


@pytest.fixture
def document() -> dict[str, object]:
    return parse_app_yaml(APP_YAML.read_text(encoding="utf-8"))


def test_the_manifest_is_app_yaml_with_the_public_url(document: dict[str, object]) -> None:
    manifest = build_manifest(document, "https://bot.example.net/")

    assert manifest["hook_attributes"] == {"url": "https://bot.example.net/webhook", "active": True}
    assert manifest["redirect_url"] == "https://bot.example.net/setup/done"
    assert manifest["url"] == "https://bot.example.net"  # app.yaml names no homepage
    assert manifest["name"] == "deliverables-bot"
    assert manifest["public"] is False
    assert manifest["default_permissions"] == {"issues": "write", "metadata": "read"}
    assert manifest["default_events"] == ["issues", "issue_comment", "sub_issues"]
    assert "url" not in document["hook_attributes"]  # type: ignore[operator]  # not mutated


def test_the_manifest_keeps_app_yaml_s_homepage_and_a_given_redirect() -> None:
    document = {
        "name": "x",
        "url": "https://example.org/home",
        "hook_attributes": {"active": False},
    }

    manifest = build_manifest(
        document, "https://bot.example.net", redirect_url="http://127.0.0.1:5000/setup/done"
    )

    assert manifest["url"] == "https://example.org/home"
    assert manifest["redirect_url"] == "http://127.0.0.1:5000/setup/done"
    assert manifest["hook_attributes"] == {
        "url": "https://bot.example.net/webhook",
        "active": False,
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("name: [unclosed", "not valid YAML", id="not-yaml"),
        pytest.param("- a list\n", "a mapping", id="not-a-mapping"),
        pytest.param("public: false\n", "name", id="no-name"),
    ],
)
def test_an_unusable_app_yaml_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_app_yaml(text)


@pytest.mark.parametrize(
    ("api", "web"),
    [
        pytest.param("https://api.github.com", "https://github.com", id="github.com"),
        pytest.param("https://api.github.com/", "https://github.com", id="trailing-slash"),
        pytest.param("https://ghe.example.com/api/v3", "https://ghe.example.com", id="ghe"),
        pytest.param("https://ghe.example.com/api/v3/", "https://ghe.example.com", id="ghe-slash"),
        pytest.param("http://127.0.0.1:5555", "http://127.0.0.1:5555", id="stand-in"),
    ],
)
def test_github_s_web_address_follows_its_api_s(api: str, web: str) -> None:
    assert github_web_url(api) == web


def test_the_form_goes_to_the_account_s_or_the_organization_s_new_app_page() -> None:
    assert (
        registration_url("https://github.com", "a b&c")
        == "https://github.com/settings/apps/new?state=a+b%26c"
    )
    assert (
        registration_url("https://ghe.example.com", "s1", "my-org")
        == "https://ghe.example.com/organizations/my-org/settings/apps/new?state=s1"
    )


@pytest.mark.parametrize(
    "name", ["-org", "org-", "a--b", "has space", "a/b", "x" * 40, "", "é"], ids=repr
)
def test_a_name_that_is_no_login_is_refused_for_an_organization(name: str) -> None:
    assert not is_login(name)
    if name:
        with pytest.raises(ValueError, match="not a GitHub organization name"):
            registration_url("https://github.com", "s", name)


@pytest.mark.parametrize("name", ["2i2c-org", "a", "A1-b2", "x" * 39])
def test_logins_github_allows_are_accepted(name: str) -> None:
    assert is_login(name)


def test_the_conversion_becomes_the_bot_s_variables_in_order() -> None:
    values = credentials(CONVERSION)

    assert list(values) == [
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
    ]
    assert values["GITHUB_APP_ID"] == "900001"
    assert values["GITHUB_PRIVATE_KEY"] == PEM
    assert install_url(CONVERSION["html_url"]) == (  # type: ignore[arg-type]
        "https://github.com/apps/deliverables-bot-900001/installations/new"
    )


@pytest.mark.parametrize("missing", ["id", "pem", "webhook_secret"])
def test_a_conversion_without_the_id_key_or_secret_is_refused(missing: str) -> None:
    answer = {k: v for k, v in CONVERSION.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        credentials(answer)


def test_the_env_lines_read_back_as_written_the_key_on_several_lines() -> None:
    values = credentials(CONVERSION)
    values["GITHUB_CLIENT_SECRET"] = 'it\'s a \\ tricky $HOME "one"'

    text = "\n".join(env_lines(values)) + "\n"

    assert text.count("\n") > len(values)  # the PEM keeps its line breaks
    read = read_env(text)
    assert read["GITHUB_PRIVATE_KEY"] == PEM
    assert read["GITHUB_CLIENT_SECRET"] == values["GITHUB_CLIENT_SECRET"]
    assert read == values


def test_a_value_python_dotenv_would_expand_is_refused() -> None:
    with pytest.raises(ValueError, match="GITHUB_CLIENT_SECRET"):
        env_lines({"GITHUB_CLIENT_SECRET": "a${HOME}b"})


def test_merging_replaces_only_the_keys_set_and_keeps_every_other_line() -> None:
    existing = (
        "# my settings\n"
        "AIRTABLE_TOKEN=patXYZ\n"
        "GITHUB_APP_ID=1\n"
        'GITHUB_PRIVATE_KEY="-----BEGIN OLD-----\nold\n-----END OLD-----"\n'
        "\n"
        "export AIRTABLE_BASE_ID='appABC'\n"
        "GITHUB_APP_ID=2\n"
        "LOG_LEVEL=DEBUG"
    )
    values = credentials(CONVERSION)

    merged = merge_env(existing, values)

    read = read_env(merged)
    assert read == {
        "AIRTABLE_TOKEN": "patXYZ",
        "AIRTABLE_BASE_ID": "appABC",
        "LOG_LEVEL": "DEBUG",
        **values,
    }
    assert merged.startswith("# my settings\nAIRTABLE_TOKEN=patXYZ\nGITHUB_APP_ID='900001'\n")
    assert "OLD" not in merged and merged.count("GITHUB_APP_ID") == 1
    assert "LOG_LEVEL=DEBUG\nGITHUB_WEBHOOK_SECRET=" in merged  # new keys go at the end


def test_merging_into_nothing_is_just_the_lines() -> None:
    values = {"GITHUB_APP_ID": "7"}
    assert merge_env("", values) == "GITHUB_APP_ID='7'\n"
